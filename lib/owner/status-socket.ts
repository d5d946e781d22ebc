/**
 * The thread runtime's status socket. The worker-thread runtime
 * (`runThreadCluster`, the command line) shares its table through memory
 * and has no owner socket; so that `tls-resumption status` finds it as it
 * finds a daemon or a `node:cluster` primary, its primary listens on
 * `threads-<pid>[-<n>].sock` in the deployment's socket directory (private
 * to the user: `socket-path.ts`), where it answers only
 * {@link W_STATUS}, with the same frames and message as an owner
 * (`owner-service.ts`). Anything else closes the connection. The socket
 * file goes when the runtime stops; one left by a killed process is
 * removed by the next `node:cluster` primary or thread runtime to start
 * (`removeDeadPrimarySockets`).
 *
 * @module
 */
import type { Server, Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { readdirSync } from 'node:fs';
import type { OwnerStatus } from '../runtime/owner-status.ts';
import { FrameReader, frame } from './frames.ts';
import { decodeToOwner, pack, O_STATUS, W_STATUS } from './messages.ts';
import { listenPrivately } from './owner-service.ts';
import { removeDeadPrimarySockets } from './socket-path.ts';

/** A listening status socket. */
export interface StatusSocket {
  readonly path: string;
  /** Stops listening and removes the socket file. Idempotent. */
  close(): Promise<void>;
}

/**
 * The path of this process's status socket beside the deployment's
 * socket: `threads-<pid>.sock`, or `threads-<pid>-<n>.sock` when this
 * process runs several thread runtimes at once.
 */
export function threadStatusPath(deploymentSocket: string): string {
  const directory = dirname(deploymentSocket);
  let taken: string[] = [];
  try {
    taken = readdirSync(directory);
  } catch {
    // No directory yet: listening makes it.
  }
  for (let n = 1; ; n++) {
    const name = n === 1 ? `threads-${process.pid}.sock` : `threads-${process.pid}-${n}.sock`;
    if (!taken.includes(name) && !inUse.has(join(directory, name))) return join(directory, name);
  }
}

/** Paths this process listens on now. */
const inUse = new Set<string>();

/**
 * Listens on `path` (private to the user) and answers every status request
 * with `status()`.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the directory is not private or the socket cannot be listened on.
 */
export async function listenForStatus(path: string, status: () => OwnerStatus): Promise<StatusSocket> {
  inUse.add(path);
  let server: Server;
  try {
    removeDeadPrimarySockets(dirname(path));
    server = await listenPrivately(path);
  } catch (error) {
    inUse.delete(path);
    throw error;
  }
  const sockets = new Set<Socket>();
  server.on('error', () => {});
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader();
    socket.on('data', (chunk: Buffer) => {
      const verdict = reader.push(chunk, (payload) => {
        const message = decodeToOwner(payload, 1);
        if (message?.op !== W_STATUS) {
          socket.destroy();
          return;
        }
        try {
          socket.write(frame(pack([O_STATUS, message.request, status()])));
        } catch {
          socket.destroy();
        }
      });
      if (verdict === 'oversized') socket.destroy();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    path,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => {
          inUse.delete(path);
          resolve();
        });
        for (const socket of sockets) socket.destroy();
      })),
  };
}
