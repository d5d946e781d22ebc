/**
 * The detached cache daemon's log, `<socket>.log` in the socket's private
 * directory (mode 0600), kept from growing without bound: once it holds
 * more than {@link MAX_LOG_BYTES}, it is copied to `<socket>.log.1`
 * (replacing the one before) and emptied. This happens when a daemon is
 * started, and every {@link LOG_CHECK_INTERVAL_MS} while it runs, on the
 * file its standard output goes to. The daemon appends (`O_APPEND`), so
 * emptying it in place is safe, as logrotate's `copytruncate` is; a line
 * written between the copy and the emptying is lost. A daemon whose output
 * goes anywhere else (a terminal, journald, a file of the operator's) is
 * left alone.
 *
 * Imports nothing of the library (`daemon-detach.ts` must start fast).
 *
 * @module
 */
import { chmodSync, copyFileSync, fstatSync, ftruncateSync, openSync, statSync } from 'node:fs';

/** Above this many bytes the log is rotated (10 MiB). */
export const MAX_LOG_BYTES = 10 * 1024 * 1024;
/** How often a running daemon looks at its log's size, in ms. */
const LOG_CHECK_INTERVAL_MS = 60_000;

/** The log's path for a socket. */
export function logPathOf(socketPath: string): string {
  return `${socketPath}.log`;
}

/**
 * Opens `<socket>.log` for appending (mode 0600), rotated first when it
 * holds more than `maxBytes`; returns the file descriptor.
 */
export function openDaemonLog(socketPath: string, maxBytes = MAX_LOG_BYTES): number {
  const fd = openSync(logPathOf(socketPath), 'a', 0o600);
  trimDaemonLog(socketPath, fd, maxBytes);
  return fd;
}

/**
 * Rotates the log if `fd` is `<socket>.log` and holds more than `maxBytes`:
 * its content copied to `<socket>.log.1` (mode 0600), then emptied. True
 * when it rotated. Never throws: a log that cannot be rotated keeps growing
 * rather than stopping the daemon.
 */
export function trimDaemonLog(socketPath: string, fd: number, maxBytes = MAX_LOG_BYTES): boolean {
  try {
    const path = logPathOf(socketPath);
    const open = fstatSync(fd);
    const named = statSync(path);
    if (open.dev !== named.dev || open.ino !== named.ino || open.size <= maxBytes) return false;
    copyFileSync(path, `${path}.1`);
    chmodSync(`${path}.1`, 0o600);
    ftruncateSync(fd, 0);
    return true;
  } catch {
    return false;
  }
}

/** Checks the log behind standard output every {@link LOG_CHECK_INTERVAL_MS} (a timer that keeps nothing alive). */
export function watchDaemonLog(socketPath: string, maxBytes = MAX_LOG_BYTES): NodeJS.Timeout {
  const timer = setInterval(() => trimDaemonLog(socketPath, 1, maxBytes), LOG_CHECK_INTERVAL_MS);
  timer.unref();
  return timer;
}
