/**
 * Real servers some suites need beyond Node and npm. On a fresh machine
 * without them those suites are skipped, and `test/helpers/before.ts` says
 * so in one line; with `CI=true` a missing one fails the run instead.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A command a suite needs, with how to get it. */
export interface Requirement {
  command: string;
  install: string;
}

export const REDIS_SERVER: Requirement = { command: 'redis-server', install: 'apt-get install redis-server' };
/** `redis-cli --cluster create` makes the Redis Clusters of the tests (Debian's redis-tools, which redis-server brings). */
export const REDIS_CLI: Requirement = { command: 'redis-cli', install: 'apt-get install redis-tools' };
export const REDIS_SENTINEL: Requirement = { command: 'redis-sentinel', install: 'apt-get install redis-sentinel' };
/** Headless Chromium, a real browser's TLS 1.3 tickets (Debian's chromium). */
export const CHROMIUM: Requirement = { command: 'chromium', install: 'apt-get install chromium' };

/** Every requirement, for `before.ts`. */
export const REQUIREMENTS: readonly Requirement[] = [REDIS_SERVER, REDIS_CLI, REDIS_SENTINEL, CHROMIUM];

/** Whether `command` is an executable file on the PATH. */
export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  return path.split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether this run must have every requirement (CI sets `CI=true`). */
export function strict(env = process.env): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/**
 * Skips the whole test file when a requirement is missing, unless the run is
 * strict: the file's tests then run and fail on the missing command.
 * Call it first, before any `t.test()`.
 */
export function requireCommand(t: { plan(n: number, reason?: string): void }, ...requirements: Requirement[]): void {
  const missing = requirements.find((requirement) => !onPath(requirement.command));
  if (missing === undefined || strict()) return;
  t.plan(0, `${missing.command} is not installed (${missing.install})`);
}
