/** The cache daemon's pid, as its lock beside the socket holds it (`<socket>.lock`). */
import { readFileSync } from 'node:fs';

/** The pid in `<socket>.lock`, or `undefined` when no daemon holds it. */
export function daemonPid(socket: string): number | undefined {
  try {
    return Number(readFileSync(`${socket}.lock`, 'utf8'));
  } catch {
    return undefined;
  }
}
