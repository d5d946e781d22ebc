/**
 * The detaching step of the cache daemon (`daemon-start.ts`): started
 * detached by a process that found no daemon, it starts the daemon
 * (`daemon-main.ts`) in a session of its own, its output appended to
 * `<socket>.log` (mode 0600, in the socket's private directory, rotated
 * when large: `daemon-log.ts`), and exits
 * at once. The daemon's parent is then gone: it belongs to no instance,
 * and PM2 stopping one (with its child processes) leaves it running.
 * Imports nothing of the library, so that it starts in a few milliseconds.
 *
 * Usage: `node daemon-detach.js <socket path>`; the environment is the
 * daemon's.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDaemonLog } from './daemon-log.ts';

const socketPath = process.argv[2];
if (socketPath === undefined || !socketPath.startsWith('/')) {
  process.stderr.write('usage: daemon-detach <absolute socket path>\n');
  process.exit(2);
}
const main = fileURLToPath(new URL(`./daemon-main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
// The daemon checks that the directory is private before it listens; made private here so the log is too.
mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
const log = openDaemonLog(socketPath);
const child = spawn(process.execPath, [main], {
  detached: true,
  stdio: ['ignore', log, log],
  env: { ...process.env, TLS_CACHE_SOCKET: socketPath },
});
child.on('error', () => process.exit(1));
child.unref();
closeSync(log);
