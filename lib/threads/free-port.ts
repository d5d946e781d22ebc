/**
 * Finds a TCP port that is free right now.
 *
 * @module
 */
import { createServer } from 'node:net';

/**
 * A port free right now on `host` (every address when omitted), found by
 * listening on port 0 and closing again. Another program may still take it
 * before the caller listens: a small race, fine for tests, benchmarks and
 * `port: 0` in the cluster runtime.
 */
export function freePort(host?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host }, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
