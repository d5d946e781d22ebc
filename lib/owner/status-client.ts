/**
 * `tls-resumption status`'s side of the socket: finds the owners of the
 * cache of this user as an attach finds its owner, and asks each how it
 * is doing ({@link W_STATUS}).
 *
 * Where it looks: the deployment's socket (`TLS_CACHE_SOCKET`, else the
 * default named after `TLS_CACHE_SESSION_ID_CONTEXT`: `socket-path.ts`),
 * where the cache daemon answers; and every other socket of that private
 * directory: `primary-<pid>.sock` of `node:cluster` primaries running
 * `startClusterCache()`, `threads-<pid>.sock` of thread runtimes
 * (`status-socket.ts`), and the daemons of other deployments. The
 * directory is checked as an attach checks it: a directory that is not
 * this user's, or that others may enter, is refused (`ERR_TLS_CACHE_SOCKET`)
 * before anything is asked; another user's sockets cannot be reached (the
 * directory is 0700, each socket 0600).
 *
 * @module
 */
import { existsSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { loadConfig } from '../config/load.ts';
import { readOwnerStatus, type OwnerStatus } from '../runtime/owner-status.ts';
import { FrameReader, frame } from './frames.ts';
import { decodeStatusAnswer, encodeToOwner, W_STATUS } from './messages.ts';
import { checkPrivateDirectory, socketPathOf } from './socket-path.ts';

/** How long an owner gets to answer, in ms. */
const STATUS_TIMEOUT_MS = 3000;

/** What one socket answered: its status, or why not. */
export type StatusAnswer = { socket: string; status: OwnerStatus } | { socket: string; error: string };

/** Where {@link findOwnerSockets} looked, and what it found. */
export interface OwnerSockets {
  /** The deployment's socket (where a daemon answers). */
  deployment: string;
  /** Its directory. */
  directory: string;
  /** Every socket to ask: the deployment's first (when it exists), then the directory's others by name. */
  sockets: string[];
}

/**
 * The sockets to ask, for the settings in `env`.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a bad `TLS_CACHE_*` variable.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the directory exists and is not private to this user.
 */
export function findOwnerSockets(env: NodeJS.ProcessEnv): OwnerSockets {
  const config = loadConfig({}, env);
  const deployment = socketPathOf(config, env);
  const directory = dirname(deployment);
  if (!existsSync(directory)) return { deployment, directory, sockets: [] };
  checkPrivateDirectory(deployment);
  const others = readdirSync(directory)
    .filter((name) => name.endsWith('.sock'))
    .map((name) => join(directory, name))
    .filter((path) => path !== deployment)
    .sort();
  return { deployment, directory, sockets: [...(existsSync(deployment) ? [deployment] : []), ...others] };
}

/**
 * Asks the owner at `socket` for its status; never rejects: a socket that
 * refuses (`ECONNREFUSED`: a file left behind), closes, or does not answer
 * within `timeout` ms gives an error instead.
 */
export function askStatus(socket: string, timeout = STATUS_TIMEOUT_MS): Promise<StatusAnswer> {
  return new Promise((resolve) => {
    const connection = connect(socket);
    const reader = new FrameReader();
    let settled = false;
    const done = (answer: StatusAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ socket, error: `no answer within ${timeout} ms` }), timeout);
    connection.on('connect', () => connection.write(frame(encodeToOwner({ op: W_STATUS, request: 1 }))));
    connection.on('data', (chunk: Buffer) => {
      const verdict = reader.push(chunk, (payload) => {
        const answer = decodeStatusAnswer(payload);
        const status = answer?.request === 1 ? readOwnerStatus(answer.status) : undefined;
        done(status === undefined ? { socket, error: 'a malformed answer (another version?)' } : { socket, status });
      });
      if (verdict === 'oversized') done({ socket, error: 'an oversized answer' });
    });
    connection.on('error', (error: NodeJS.ErrnoException) => done({ socket, error: error.code ?? error.message }));
    connection.on('close', () => done({ socket, error: 'closed without answering (an older version?)' }));
  });
}
