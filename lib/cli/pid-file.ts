/**
 * The command's pid file (`--pid-file PATH`, or `TLS_CACHE_PID_FILE`), for
 * signals: `kill -HUP "$(cat server.pid)"` reaches the runtime itself,
 * where `pgrep -f` on the command line also matches the `npm exec` (npx)
 * process that started it, which a signal ends.
 *
 * The file holds the pid and a newline. It is written, through a
 * temporary file renamed over it (a reader never sees half of it), before
 * anything listens, and removed when the process exits (by a signal too),
 * if it still holds this pid. A file that names a process still running
 * is another runtime's: refused rather than taken over.
 *
 * @module
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { onExit } from 'signal-exit';
import { InvalidEnvironmentError, UsageError } from '../errors.ts';
import { isRunning } from '../owner/socket-path.ts';

/** The variable of the pid file. */
export const PID_FILE_VARIABLE = 'TLS_CACHE_PID_FILE';

/** Where the path came from, for the error that names it. */
type Source = 'option' | 'env';

function invalid(source: Source, message: string): Error {
  return source === 'env' ? new InvalidEnvironmentError(PID_FILE_VARIABLE, message) : new UsageError(`--pid-file: ${message}`);
}

/**
 * Writes this process's pid to `path`, and removes the file at exit.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`, naming `TLS_CACHE_PID_FILE`) or UsageError
 * (`ERR_TLS_CACHE_USAGE`, for `--pid-file`) when the path is empty, names a running process's pid file, or cannot be written.
 */
export function writePidFile(given: string, source: Source): string {
  if (given.trim() === '') throw invalid(source, 'expected the path of a file to write the pid to, e.g. /run/user/1000/server.pid; got an empty value');
  const path = resolve(given);
  let previous: number | undefined;
  try {
    previous = Number(readFileSync(path, 'utf8').trim());
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EISDIR') throw invalid(source, `${JSON.stringify(path)} is a directory; give the path of a file in it`);
    // ENOENT: none yet.
  }
  if (previous !== undefined && Number.isInteger(previous) && previous > 0 && previous !== process.pid && isRunning(previous)) {
    throw invalid(source, `${JSON.stringify(path)} holds pid ${previous}, which is running: another runtime's pid file? Stop it, or use another file`);
  }
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, `${process.pid}\n`, { mode: 0o644 });
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Never written.
    }
    throw invalid(source, `cannot write ${JSON.stringify(path)} (${(error as { code?: string }).code ?? 'error'}); does its directory exist and may this user write to it?`);
  }
  // At any exit, and at a signal that ends the process (SIGTERM while it starts, before the runtime handles it).
  onExit(() => removePidFile(path));
  return path;
}

/** Removes the pid file if it still holds this process's pid. Never throws. */
function removePidFile(path: string): void {
  try {
    if (Number(readFileSync(path, 'utf8').trim()) === process.pid) unlinkSync(path);
  } catch {
    // Gone already.
  }
}
