/**
 * The same-port check. Two runtimes of this package on one port (two
 * `tls-resumption ./server.mjs`, a thread runtime and a `node:cluster`
 * app, both listening with `reusePort`) both accept connections, each
 * with its own session cache: the kernel spreads clients over both, and a
 * session made by one resumes on the other only by chance. Nothing fails,
 * so nothing would say so.
 *
 * Every runtime answers status requests on a private socket of the
 * user's socket directory (`threads-<pid>.sock`, `primary-<pid>.sock`:
 * `status-socket.ts`, `owner-service.ts`), and its answer lists the ports
 * its servers listen on ({@link OwnerStatus.ports}). A runtime that starts
 * listening on a port asks every other socket of that directory, as
 * `tls-resumption status` does, and warns once for each other runtime
 * that serves the same port, naming its kind and pid. Only this user's
 * runtimes are seen (the directory is private); a runtime of an older
 * version, which does not list its ports, is not.
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { OwnerStatus } from '../runtime/owner-status.ts';
import { askStatus } from './status-client.ts';

/** How long another runtime gets to answer, in ms: it answers from memory, at once. */
const ASK_TIMEOUT_MS = 1000;

const KINDS: Record<OwnerStatus['kind'], string> = {
  daemon: 'cache daemon',
  primary: 'node:cluster primary',
  threads: 'thread runtime',
};

/**
 * The other runtimes of this user (in `directory`, but for `ownSocket`
 * and this process) whose servers listen on `port`. Never rejects.
 */
async function othersOnPort(port: number, directory: string, ownSocket: string | undefined): Promise<OwnerStatus[]> {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return [];
  }
  const sockets = names.filter((name) => name.endsWith('.sock')).map((name) => join(directory, name)).filter((path) => path !== ownSocket);
  const answers = await Promise.all(sockets.map((socket) => askStatus(socket, ASK_TIMEOUT_MS)));
  return answers.flatMap((answer) => ('status' in answer && answer.status.pid !== process.pid && answer.status.ports?.includes(port) === true ? [answer.status] : []));
}

/**
 * Asks the other runtimes of this user whether they serve `port` too, and
 * logs a warning for each that does. Never rejects.
 * @param directory - the user's socket directory.
 * @param ownSocket - this runtime's own status socket, not asked.
 */
export async function warnOfOtherRuntimes(logger: Logger, port: number, directory: string, ownSocket: string | undefined): Promise<void> {
  if (port <= 0) return;
  for (const other of await othersOnPort(port, directory, ownSocket)) {
    logger.warn(
      { port, otherPid: other.pid, otherKind: other.kind, otherSocket: other.socket },
      `another tls-resumption runtime serves port ${port} too: the ${KINDS[other.kind]} pid ${other.pid}; sessions are not shared between them ` +
        `(each has its own cache, and a client the kernel sends to the other one resumes only by chance): stop one of them`,
    );
  }
}
