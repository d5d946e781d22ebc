/**
 * Finds out whether this runtime and platform let several listeners share
 * one port with `listen({ reusePort: true })`, by doing it: two servers on
 * one port of the loopback. Worker threads of the cluster runtime need it to
 * serve one port together (Node 22.12+ and 23.1+, on Linux and some BSDs).
 *
 * No dependencies, so that its built JavaScript runs on runtimes that lack
 * the option, such as a Node older than 22.12 (below `engines`), and says
 * what to do there.
 *
 * @module
 */
import net from 'node:net';

/** Result of {@link probeReusePort}. */
export type ReusePortProbe =
  | { supported: true }
  | {
      supported: false;
      /** What failed, e.g. the Node version and the error code of the second listen. */
      reason: string;
      /** A whole sentence for the operator: what failed and what to run instead. */
      message: string;
    };

/** First Node versions with `reusePort`: 22.12 on the 22 line, 23.1 after it. */
const FIRST_WITH_REUSE_PORT = '22.12.0 or 23.1.0';

/**
 * Whether two listeners can share a port here, found by listening twice on
 * one port of `host`. Never throws; the result carries the reason and a
 * message that says what to do.
 * @param host - address to probe on; default `127.0.0.1`
 */
export async function probeReusePort(host = '127.0.0.1'): Promise<ReusePortProbe> {
  const first = net.createServer();
  const second = net.createServer();
  try {
    await listen(first, { host, port: 0, reusePort: true });
    const address = first.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await listen(second, { host, port, reusePort: true });
    return { supported: true };
  } catch (error) {
    const reason = explain(error);
    return { supported: false, reason, message: advise(reason) };
  } finally {
    first.close();
    second.close();
  }
}

function listen(server: net.Server, options: net.ListenOptions & { reusePort?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function explain(error: unknown): string {
  const code = error !== null && typeof error === 'object' && 'code' in error ? String(error.code) : 'unknown error';
  if (!hasReusePortOption(process.versions.node)) {
    return `Node ${process.version} has no reusePort listen option (it came in ${FIRST_WITH_REUSE_PORT}); a second listener on one port failed with ${code}`;
  }
  return `a second listener with reusePort on one port failed with ${code} on ${process.platform} (reusePort works on Linux 3.9+, FreeBSD 12+, DragonFly BSD 3.6+, Solaris 11.4 and AIX 7.2.5+)`;
}

function advise(reason: string): string {
  return (
    `Worker threads cannot share one port here: ${reason}. ` +
    'Run Node 22.12+ or 23.1+ on Linux (e.g. `npm install node@24`, then run your program with node_modules/.bin/node, which npm scripts and npx use first)'
  );
}

/** Whether a Node version (`process.versions.node`, e.g. `'22.12.0'`) has the reusePort listen option. */
export function hasReusePortOption(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
