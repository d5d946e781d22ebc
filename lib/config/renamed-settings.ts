/**
 * Settings renamed in 0.2 so that each name means one thing, and their old
 * names, which keep working until 0.3 ({@link RENAMED_SETTINGS}): `timeout`
 * was the session lifetime in seconds beside every other `*Timeout`, a
 * wait bound in milliseconds; `ipcTimeout`, the wait for the table's owner
 * over its Unix socket, was named after IPC (its counters and metrics are
 * `owner*` now too).
 *
 * An old name, as an option or as a variable, is read as the new one, and
 * its first use in a process emits a `DeprecationWarning` with a code of
 * its own ({@link warnOfRenamedSetting}), as pino does for its deprecated
 * options and as the runtime's renamed functions do
 * (`threads/deprecated.ts`). Given together with the new name from the
 * same place (two options, or two variables) and another value, neither
 * wins: `loadConfig()` refuses both. Listed in docs/api.md#deprecated-names
 * and docs/configuration.md#renamed-settings.
 *
 * @module
 */
import { deprecate } from 'node:util';
import { settingOf, type CacheConfig } from './settings.ts';

/** A setting's old name: its option and variable, the setting it now is, and its warning's code. */
export interface RenamedSetting {
  /** The old option, e.g. `timeout`. */
  readonly option: string;
  /** The old variable, e.g. `TLS_CACHE_TIMEOUT`. */
  readonly env: string;
  /** The setting's option now, e.g. `sessionTimeout`. */
  readonly now: keyof CacheConfig;
  /** The code of its `DeprecationWarning`, e.g. `TLS_CACHE_DEP003`. */
  readonly code: string;
}

/** Every renamed setting. Frozen. */
export const RENAMED_SETTINGS: readonly RenamedSetting[] = Object.freeze([
  Object.freeze({ option: 'timeout', env: 'TLS_CACHE_TIMEOUT', now: 'sessionTimeout', code: 'TLS_CACHE_DEP003' } as const),
  Object.freeze({ option: 'ipcTimeout', env: 'TLS_CACHE_IPC_TIMEOUT', now: 'ownerTimeout', code: 'TLS_CACHE_DEP004' } as const),
]);

/** The old name of a setting, when it has one. */
export function renamedFrom(option: keyof CacheConfig): RenamedSetting | undefined {
  return RENAMED_SETTINGS.find((renamed) => renamed.now === option);
}

/** The setting an old option or variable name now is, e.g. `sessionTimeout` for `timeout` or `TLS_CACHE_TIMEOUT`. */
export function renamedTo(name: string): keyof CacheConfig | undefined {
  return RENAMED_SETTINGS.find((renamed) => renamed.option === name || renamed.env === name)?.now;
}

/**
 * Moves each old variable of `env` to its new name (unless that is set:
 * then `loadConfig()` has checked that they agree) and removes it, so that
 * the processes forked from here, which inherit `env`, read every setting
 * under one name and do not warn again. What a `node:cluster` primary does
 * before it forks.
 */
export function moveRenamedVariables(env: NodeJS.ProcessEnv): void {
  for (const renamed of RENAMED_SETTINGS) {
    const value = env[renamed.env];
    if (value === undefined) continue;
    const newEnv = settingOf(renamed.now).env;
    if ((env[newEnv] ?? '') === '') env[newEnv] = value;
    delete env[renamed.env];
  }
}

const warnings = new Map<string, () => void>();

/**
 * Emits the `DeprecationWarning` of an old name, once per process and
 * code (Node's `util.deprecate`: silenced by `--no-deprecation`, thrown by
 * `--throw-deprecation`).
 */
export function warnOfRenamedSetting(renamed: RenamedSetting, newEnv: string): void {
  let warn = warnings.get(renamed.code);
  if (warn === undefined) {
    warn = deprecate(
      () => {},
      `the setting ${renamed.option} (${renamed.env}) is deprecated and goes in 0.3: ` +
        `set ${renamed.now} (${newEnv}), the same setting under its new name`,
      renamed.code,
    );
    warnings.set(renamed.code, warn);
  }
  warn();
}
