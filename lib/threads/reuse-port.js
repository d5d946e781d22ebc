/**
 * Finds out whether this runtime and platform let several listeners share
 * one port with `listen({ reusePort: true })`, by doing it: two servers on
 * one port of the loopback. Worker threads of the cluster runtime need it to
 * serve one port together.
 *
 * Plain JavaScript without dependencies, so that it runs (and is tested) on
 * runtimes that lack the option, such as Node 20, which cannot load the
 * TypeScript rest of this package. Types are in `reuse-port.d.ts`.
 *
 * @module
 */
import net from 'node:net';

/**
 * @typedef {{ supported: true } | { supported: false, reason: string, message: string }} ReusePortProbe
 */

/** First Node versions with `reusePort`: 22.12 on the 22 line, 23.1 after it. */
const FIRST_WITH_REUSE_PORT = '22.12.0 or 23.1.0';

/**
 * Whether two listeners can share a port here. Never throws; the result
 * carries the reason and a message that says what to do.
 * @param {string} [host] address to probe on; default `127.0.0.1`
 * @returns {Promise<ReusePortProbe>}
 */
export async function probeReusePort(host = '127.0.0.1') {
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

/**
 * @param {net.Server} server
 * @param {net.ListenOptions & { reusePort?: boolean }} options
 * @returns {Promise<void>}
 */
function listen(server, options) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function explain(error) {
  const code = error !== null && typeof error === 'object' && 'code' in error ? String(error.code) : 'unknown error';
  if (!hasReusePortOption(process.versions.node)) {
    return `Node ${process.version} has no reusePort listen option (it came in ${FIRST_WITH_REUSE_PORT}); a second listener on one port failed with ${code}`;
  }
  return `a second listener with reusePort on one port failed with ${code} on ${process.platform} (reusePort works on Linux 3.9+, FreeBSD 12+, DragonFly BSD 3.6+, Solaris 11.4 and AIX 7.2.5+)`;
}

/**
 * @param {string} reason
 * @returns {string}
 */
function advise(reason) {
  return (
    `Worker threads cannot share one port here: ${reason}. ` +
    'Run Node 22.12+ or 23.1+ on Linux (e.g. `npm install node@24`, then start with `npm start` or node_modules/.bin/node)'
  );
}

/**
 * Whether a Node version (`process.versions.node`) has the reusePort option.
 * @param {string} version
 * @returns {boolean}
 */
export function hasReusePortOption(version) {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}
