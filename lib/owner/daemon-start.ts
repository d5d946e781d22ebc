/**
 * Starts the cache daemon for a socket, detached from the process that
 * asks: `daemon-detach.ts` (run by this process's own Node) starts the
 * daemon in a session of its own and exits at once, so the daemon belongs
 * to no instance: PM2 stopping or reloading the instance that started it
 * (PM2 kills an instance's child processes too) leaves it running, with
 * every session and ticket key.
 *
 * The daemon gets this process's environment (its `TLS_CACHE_*` settings,
 * the deployment's) and the socket's path; its log lines go to
 * `<socket>.log` beside the socket (mode 0600).
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A daemon started less than this long ago (its marker's age) is not started again: it is still starting. */
const STARTING_MS = 10_000;

const EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** The detaching step, beside this module (TypeScript in the repository, JavaScript once built). */
const DETACH = fileURLToPath(new URL(`./daemon-detach${EXTENSION}`, import.meta.url));

/**
 * Starts the daemon for `socketPath`, detached, without waiting, unless
 * another process started one less than {@link STARTING_MS} ago (the
 * marker `<socket>.starting`, which the daemon removes once it listens):
 * the instances of an app start together, and one daemon starting beats
 * one per instance on a busy host. Should several start one anyway, the
 * lock beside the socket lets one listen and the others exit
 * (`daemon.ts`). Returns whether it started one.
 */
export function startDaemon(socketPath: string, env: NodeJS.ProcessEnv): boolean {
  const marker = startingMarker(socketPath);
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(marker, 'wx', 0o600));
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
    if (Date.now() - statSync(marker).mtimeMs < STARTING_MS) return false;
    const now = new Date();
    utimesSync(marker, now, now);
  }
  const child = spawn(process.execPath, [DETACH, socketPath], { detached: true, stdio: 'ignore', env });
  child.on('error', () => {});
  child.unref();
  return true;
}

/** The marker of a daemon starting for `socketPath`. */
function startingMarker(socketPath: string): string {
  return `${socketPath}.starting`;
}

/** Removes the marker: the daemon listens (or gave up). */
export function removeStartingMarker(socketPath: string): void {
  try {
    unlinkSync(startingMarker(socketPath));
  } catch {
    // None.
  }
}
