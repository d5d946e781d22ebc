/**
 * Environment variables named like a setting that no setting reads: a
 * misspelt `TLS_CACHE_WORKER=4` would otherwise be ignored without a word.
 * {@link unknownSettings} finds them, each with the closest setting's
 * variable (Levenshtein distance); the runtimes log one warning per
 * variable at start ({@link warnOfUnknownSettings}). Only names are ever
 * reported: a value may be a secret.
 *
 * @module
 */
import type { Logger } from 'pino';
import { InvalidOptionError } from '../errors.ts';
import { nearestName } from './did-you-mean.ts';
import { RENAMED_SETTINGS, renamedTo } from './renamed-settings.ts';
import { SETTINGS, settingOf } from './settings.ts';

/** What every setting's variable starts with. */
const SETTING_PREFIX = 'TLS_CACHE_';

/** The part of each setting's variable after {@link SETTING_PREFIX}, e.g. `WORKERS`. */
const KNOWN_SUFFIXES: readonly string[] = SETTINGS.map((s) => s.env.slice(SETTING_PREFIX.length));
/** The old variables of renamed settings, still read (with a warning): known, and a misspelling of one suggests the new name. */
const OLD_SUFFIXES: readonly string[] = RENAMED_SETTINGS.map((r) => r.env.slice(SETTING_PREFIX.length));
const KNOWN_VARIABLES: ReadonlySet<string> = new Set([...SETTINGS.map((s) => s.env), ...RENAMED_SETTINGS.map((r) => r.env)]);

/** A variable of {@link unknownSettings}. */
export interface UnknownSetting {
  /** The variable's name, as set (never its value). */
  readonly variable: string;
  /**
   * The known variable closest to it, e.g. `TLS_CACHE_WORKERS` for
   * `TLS_CACHE_WORKER`; `undefined` when none is close (`nearestName()` in
   * `did-you-mean.ts`: more edits apart than a third of the length of the
   * name after `TLS_CACHE_`, or 2).
   */
  readonly suggestion: string | undefined;
}

/**
 * Every variable of `env` whose name starts with `TLS_CACHE_` and that is
 * neither a setting's variable (see `SETTINGS`; an old name of one too, see
 * `renamed-settings.ts`) nor one of
 * `applicationVariables`, in the order of `env`'s keys, each with the
 * closest setting's variable. Names are compared in upper case after the
 * prefix, so `TLS_CACHE_workers` suggests `TLS_CACHE_WORKERS` (names are
 * case-sensitive: it is not read). Values are never read into the result.
 *
 * @param env - the environment to look through. @defaultValue `process.env`
 * @param applicationVariables - `TLS_CACHE_*` names the application reads
 * itself (the examples' `TLS_CACHE_CERT` and `TLS_CACHE_KEY`), not
 * reported. @defaultValue `[]`
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) when `env` is
 * not an object or `applicationVariables` not an array of strings.
 * @example unknownSettings({ TLS_CACHE_WORKER: '4' })
 * // [{ variable: 'TLS_CACHE_WORKER', suggestion: 'TLS_CACHE_WORKERS' }]
 */
export function unknownSettings(
  env: NodeJS.ProcessEnv = process.env,
  applicationVariables: readonly string[] = [],
): UnknownSetting[] {
  if (env === null || typeof env !== 'object') {
    throw new InvalidOptionError('env', `expected an object such as process.env, got ${env === null ? 'null' : typeof env}`);
  }
  checkApplicationVariables(applicationVariables);
  const ignored = new Set(applicationVariables);
  return Object.keys(env)
    .filter((name) => name.startsWith(SETTING_PREFIX) && !KNOWN_VARIABLES.has(name) && !ignored.has(name))
    .map((variable) => ({ variable, suggestion: closestSetting(variable) }));
}

/**
 * Checks the `applicationVariables` option of the runtimes and of
 * {@link unknownSettings}: an array of strings.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) otherwise.
 */
export function checkApplicationVariables(applicationVariables: unknown): asserts applicationVariables is readonly string[] {
  if (!Array.isArray(applicationVariables) || !applicationVariables.every((name) => typeof name === 'string')) {
    throw new InvalidOptionError(
      'applicationVariables',
      'expected an array of the names of the TLS_CACHE_* variables the application reads itself, such as ["TLS_CACHE_CERT"]',
    );
  }
}

/** The setting's variable closest to `variable`, when it is close enough to be a misspelling of it. */
function closestSetting(variable: string): string | undefined {
  const suffix = variable.slice(SETTING_PREFIX.length).toUpperCase();
  if (suffix === '') return undefined;
  // A name missing its group (TLS_CACHE_SECRET for TLS_CACHE_REDIS_SECRET) is that setting, not a near spelling of another.
  const ending = KNOWN_SUFFIXES.filter((known) => known.endsWith(`_${suffix}`));
  if (ending.length === 1) return `${SETTING_PREFIX}${ending[0]}`;
  const nearest = nearestName(suffix, [...KNOWN_SUFFIXES, ...OLD_SUFFIXES]);
  if (nearest === undefined) return undefined;
  // An old name's slip is the new name's (TLS_CACHE_TIMOUT: TLS_CACHE_SESSION_TIMEOUT).
  const now = renamedTo(`${SETTING_PREFIX}${nearest}`);
  return now === undefined ? `${SETTING_PREFIX}${nearest}` : settingOf(now).env;
}

/** The warning for an unknown variable: `unknown variable TLS_CACHE_WORKER ignored; did you mean TLS_CACHE_WORKERS?`. */
export function unknownSettingMessage({ variable, suggestion }: UnknownSetting): string {
  const hint = suggestion === undefined ? 'no setting has a similar name' : `did you mean ${suggestion}?`;
  return `unknown variable ${variable} ignored; ${hint}`;
}

/**
 * Logs one warning per unknown variable of `env` (see
 * {@link unknownSettings}), with the fields `variable` and, when one is
 * close, `suggestion`; never a value; and one when `TLS_CACHE_REDIS_SECRET`
 * is set without `TLS_CACHE_REDIS_URL` (the secret is then not used). What
 * the runtimes call at start.
 * @returns the variables warned of.
 */
export function warnOfUnknownSettings(
  logger: Pick<Logger, 'warn'>,
  env: NodeJS.ProcessEnv,
  applicationVariables: readonly string[] = [],
): UnknownSetting[] {
  const unknown = unknownSettings(env, applicationVariables);
  for (const found of unknown) {
    logger.warn({ variable: found.variable, suggestion: found.suggestion }, unknownSettingMessage(found));
  }
  // Known, but of no use alone: the other Redis settings without the URL are errors (load.ts); the secret, a warning.
  if ((env.TLS_CACHE_REDIS_SECRET ?? '') !== '' && (env.TLS_CACHE_REDIS_URL ?? '') === '') {
    logger.warn(
      { variable: 'TLS_CACHE_REDIS_SECRET', needs: 'TLS_CACHE_REDIS_URL' },
      'TLS_CACHE_REDIS_SECRET is set and TLS_CACHE_REDIS_URL is not: the secret is not used and sessions stay on this host; ' +
        'set TLS_CACHE_REDIS_URL to share them through Redis, or unset TLS_CACHE_REDIS_SECRET',
    );
  }
  return unknown;
}
