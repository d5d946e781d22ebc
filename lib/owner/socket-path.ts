/**
 * Where the owner's Unix socket lives, and the rule that keeps it private:
 * its directory belongs to this user and no one else may enter it (mode
 * 0700), and the socket itself is 0600. The socket carries sessions,
 * ticket keys and the Redis secret; a process of another user must not
 * connect to it, nor put a socket of its own in its place for this user's
 * processes to send their sessions to.
 *
 * By default a deployment's socket is named after its session ID context
 * (`TLS_CACHE_SESSION_ID_CONTEXT`) and a digest of the settings every
 * process must share with its owner (the context, `TLS_CACHE_SESSION_TIMEOUT`,
 * `TLS_CACHE_TICKETS`), so that the processes of one deployment meet at
 * one socket, another deployment's stay apart, and a deploy that changes
 * one of them meets at a new socket, with a new daemon of its settings
 * (the old daemon stops once its processes are gone: its idle timeout):
 * `$XDG_RUNTIME_DIR/tls-resumption/<context>-<digest>.sock` (systemd's
 * per-user runtime directory, already private), else
 * `<os.tmpdir()>/tls-resumption-<uid>/<context>-<digest>.sock`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { SocketError } from '../errors.ts';

/** Linux's `sun_path` holds 108 bytes, the final NUL included. */
const MAX_SOCKET_PATH_BYTES = 107;

/** The uid of this process (-1 where there is none, on Windows). */
function uid(): number {
  return process.getuid?.() ?? -1;
}

/** The settings a process and its owner must share: they name the default socket. */
export type SharedSettings = { socket: string; sessionIdContext: string; sessionTimeout: number; tickets: 'on' | 'off' };

/**
 * The digest of the settings a process and its owner must share (see the
 * module's documentation): 10 hex digits.
 */
export function settingsDigest({ sessionIdContext, sessionTimeout, tickets }: Omit<SharedSettings, 'socket'>): string {
  // The values alone: the setting's rename (TLS_CACHE_SESSION_TIMEOUT before 0.2) names the same socket.
  return createHash('sha256').update(JSON.stringify([sessionIdContext, sessionTimeout, tickets])).digest('hex').slice(0, 10);
}

/**
 * The socket's path: `socket` when set, else the deployment's default (see
 * the module's documentation).
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the default path would be longer than a socket path may be.
 */
export function socketPathOf(settings: SharedSettings, env: NodeJS.ProcessEnv = process.env): string {
  const { socket, sessionIdContext } = settings;
  if (socket !== '') return socket;
  const runtime = env.XDG_RUNTIME_DIR;
  const directory = runtime !== undefined && isAbsolute(runtime) ? join(runtime, 'tls-resumption') : join(tmpdir(), `tls-resumption-${uid()}`);
  // Readable, and short; the digest tells contexts apart (two that read the same once made safe, "a/b" and "a_b", too).
  const safe = sessionIdContext.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40);
  const path = join(directory, `${safe}-${settingsDigest(settings)}.sock`);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new SocketError(path, `The default socket path ${JSON.stringify(path)} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a Unix socket path may be; set TLS_CACHE_SOCKET to a shorter absolute path`);
  }
  return path;
}

/**
 * Makes the socket's directory if it is missing (mode 0700), then checks
 * it as {@link checkPrivateDirectory} does.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when it cannot be made, or is not private.
 */
export function preparePrivateDirectory(socketPath: string): void {
  const directory = dirname(socketPath);
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new SocketError(socketPath, `Cannot make the socket's directory ${JSON.stringify(directory)} (${(error as { code?: string }).code ?? 'error'})`);
  }
  checkPrivateDirectory(socketPath);
}

/**
 * Checks that the socket's directory is a directory (not a link) owned by
 * this user that no other user may enter or write to (no group or other
 * permission bits).
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when it is missing or not private.
 */
export function checkPrivateDirectory(socketPath: string): void {
  const directory = dirname(socketPath);
  let stats;
  try {
    stats = lstatSync(directory);
  } catch (error) {
    throw new SocketError(socketPath, `The socket's directory ${JSON.stringify(directory)} cannot be read (${(error as { code?: string }).code ?? 'error'})`);
  }
  if (!stats.isDirectory()) throw new SocketError(socketPath, `The socket's directory ${JSON.stringify(directory)} is not a directory (a link is not accepted)`);
  if (uid() !== -1 && stats.uid !== uid()) {
    throw new SocketError(socketPath, `The socket's directory ${JSON.stringify(directory)} belongs to uid ${stats.uid}, not to this user (uid ${uid()}); use a directory of your own (TLS_CACHE_SOCKET)`);
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new SocketError(
      socketPath,
      `The socket's directory ${JSON.stringify(directory)} has mode ${(stats.mode & 0o777).toString(8)}: other users may enter it; ` +
        `make it private (chmod 700 ${JSON.stringify(directory)}) or choose another (TLS_CACHE_SOCKET)`,
    );
  }
}

/**
 * Removes the sockets of `node:cluster` primaries and thread runtimes
 * that are gone (`primary-<pid>.sock`, `threads-<pid>[-<n>].sock` whose
 * process no longer runs, killed before it could remove its own) from a
 * socket directory, so that they do not pile up. Never throws.
 */
export function removeDeadPrimarySockets(directory: string): void {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = /^(?:primary-(\d+)|threads-(\d+)(?:-\d+)?)\.sock$/.exec(name)?.slice(1).find((found) => found !== undefined);
    if (pid === undefined || Number(pid) === process.pid || isRunning(Number(pid))) continue;
    try {
      unlinkSync(join(directory, name));
    } catch {
      // Removed meanwhile, or not ours to remove.
    }
  }
}

/**
 * Whether a process with this pid runs (EPERM: it runs, as another user).
 * A zombie does not: a killed daemon's parent is init, and in a container
 * whose first process reaps no children it stays a zombie, which signal 0
 * still reaches (Linux's `/proc/<pid>/stat` tells; elsewhere signal 0 alone).
 */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
  try {
    // "pid (name) state ...": the name may hold spaces or parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/**
 * Which owner answers at `socketPath` and its pid: a `node:cluster`
 * primary's socket is named after its pid; a daemon holds the lock beside
 * its socket, which holds its pid.
 */
export function ownerAt(socketPath: string): { owner: 'daemon' | 'primary'; pid: number | undefined } {
  const primary = /\/primary-(\d+)\.sock$/.exec(socketPath)?.[1];
  if (primary !== undefined) return { owner: 'primary', pid: Number(primary) };
  try {
    const pid = Number(readFileSync(`${socketPath}.lock`, 'utf8').trim());
    return { owner: 'daemon', pid: Number.isInteger(pid) && pid > 0 ? pid : undefined };
  } catch {
    return { owner: 'daemon', pid: undefined };
  }
}
