/**
 * Loads the configuration: {@link loadConfig} resolves every setting of
 * `settings.ts` in this order: the programmatic option, then the
 * environment variable, then the default; then checks the settings that
 * depend on each other (restart delays, ticket rotation, Redis and its
 * secret). Text is read by the rules of `kinds.ts`.
 *
 * @module
 */
import { describe } from '../describe.ts';
import { InvalidEnvironmentError, InvalidOptionError } from '../errors.ts';
import { nearestName } from './did-you-mean.ts';
import { KINDS, SECOND, databaseOf, expectedForm, formatDuration, orList, quote, rangeOf } from './kinds.ts';
import { RENAMED_SETTINGS, renamedFrom, renamedTo, warnOfRenamedSetting, type RenamedSetting } from './renamed-settings.ts';
import { COMPUTED_DEFAULTS, SETTINGS, settingOf, type CacheConfig, type CacheConfigOptions, type Setting } from './settings.ts';

/** Keys alive at once are the rotations per session timeout plus two; the ring holds 64. */
const MAX_ROTATIONS_PER_TIMEOUT = 62;

/**
 * Resolves every setting: a programmatic option wins over its environment
 * variable, which wins over the default. An option set to `undefined`, and
 * a variable set to the empty string, count as unset.
 *
 * Options are numbers in the unit of {@link CacheConfig} (bytes,
 * milliseconds, and seconds for `sessionTimeout`), or strings in the form the
 * environment variables take (`'64MiB'`, `'5m'`). A setting's old name
 * (`renamed-settings.ts`) is read as its new one, with a
 * `DeprecationWarning` once per process.
 *
 * @param options - programmatic settings. @defaultValue `{}`
 * @param env - the environment to read. @defaultValue `process.env`
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for an unknown
 * option, or one of the wrong type or out of range, or a setting given as
 * an option under its old and its new name with two values.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a
 * variable that is malformed or out of range, or a setting given as a
 * variable under its old and its new name with two values.
 */
export function loadConfig(options: CacheConfigOptions = {}, env: NodeJS.ProcessEnv = process.env): CacheConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  }
  if (env === null || typeof env !== 'object') {
    throw new InvalidOptionError('env', `expected an object such as process.env, got ${describe(env)}`);
  }
  for (const name of Object.keys(options)) {
    if (!SETTINGS.some((s) => s.option === name) && renamedTo(name) === undefined) throw new InvalidOptionError(name, unknownOption(name));
  }
  const config: Record<string, number | string> = {};
  const origins: Record<string, Origin> = {};
  for (const setting of SETTINGS) {
    const given = options as Record<string, unknown>;
    let option: unknown = Object.hasOwn(options, setting.option) ? given[setting.option] : undefined;
    let text: unknown = env[setting.env];
    const renamed = renamedFrom(setting.option);
    if (renamed !== undefined) {
      option = underEitherName(setting, renamed, 'option', option, Object.hasOwn(options, renamed.option) ? given[renamed.option] : undefined);
      text = underEitherName(setting, renamed, 'env', text, env[renamed.env]);
    }
    let origin: Origin;
    if (option !== undefined) {
      origin = { from: 'option', shown: shown(setting, typeof option === 'string' ? quote(option) : String(option)) };
      config[setting.option] = fromOption(setting, option);
    } else if (text !== undefined && text !== '') {
      origin = { from: 'env', shown: shown(setting, quote(String(text))) };
      config[setting.option] = fromText(setting, String(text), 'env');
    } else {
      origin = { from: 'default', shown: setting.default };
      config[setting.option] = defaultOf(setting);
    }
    origins[setting.option] = origin;
  }
  const result = config as unknown as CacheConfig;
  checkRestartDelays(result, origins);
  checkTicketRotation(result, origins);
  checkRedis(result, origins);
  return result;
}

/**
 * The value of a renamed setting from one place (the options, or the
 * environment), given under its new name, its old one, or both; the old
 * one warns.
 * @throws InvalidOptionError or InvalidEnvironmentError when both are given, with two values.
 */
function underEitherName(setting: Setting, renamed: RenamedSetting, from: 'option' | 'env', value: unknown, old: unknown): unknown {
  const unset = (given: unknown): boolean => given === undefined || (from === 'env' && given === '');
  if (unset(old)) return value;
  warnOfRenamedSetting(renamed, setting.env);
  const read = (which: Setting, given: unknown): number | string =>
    from === 'env' ? fromText(which, String(given), 'env') : fromOption(which, given);
  // Read as the setting, its errors naming the old name.
  const oldValue = read({ ...setting, option: renamed.option as keyof CacheConfig, env: renamed.env }, old);
  if (unset(value)) return old;
  if (oldValue !== read(setting, value)) {
    const [newName, oldName] = from === 'env' ? [setting.env, renamed.env] : [setting.option, renamed.option];
    fail(setting, from, `${shown(setting, quote(String(value)))} is set, and its old name ${oldName} to ${shown(setting, quote(String(old)))}; ` +
      `set ${newName} alone, or both to the same value`);
  }
  return value;
}

/** A value as an error message may show it: secrets never. */
function shown(setting: Setting, quoted: string): string {
  return setting.secret ? 'the value given' : quoted;
}

/**
 * Redis settings that only make sense together: the URL needs the secret;
 * a list of URLs needs the cluster or sentinel mode, and those modes a URL;
 * a Redis Cluster has database 0 only; the sentinel settings need the
 * sentinel mode; a previous secret needs a current one, and another one;
 * the namespace makes hash tags, so it holds no braces.
 */
function checkRedis(config: CacheConfig, origins: Record<string, Origin>): void {
  const at = (option: keyof CacheConfig): 'option' | 'env' => (origins[option].from === 'env' ? 'env' : 'option');
  const named = (option: keyof CacheConfig): string => `${settingOf(option).env} (option ${option})`;
  const url = settingOf('redisUrl');
  const mode = settingOf('redisMode');
  const namespace = settingOf('redisNamespace');
  if (/[{}]/.test(config.redisNamespace)) {
    fail(namespace, at('redisNamespace'), `${origins.redisNamespace.shown} holds a brace; expected ${expectedForm(namespace)} ` +
      'without { or } (the keys\' Redis Cluster hash tags are made of the namespace)');
  }
  if (config.redisUrl === '') {
    for (const option of ['redisSecret', 'redisSecretPrevious', 'redisMode', 'redisSentinelName', 'redisSentinelPassword'] as const) {
      // The secret alone is allowed (as before); every other Redis setting needs the URL.
      if (option === 'redisSecret' || origins[option].from === 'default') continue;
      fail(settingOf(option), at(option), `is set, and ${named('redisUrl')} is not; set the URL, or unset this`);
    }
    return;
  }
  if (config.redisSecret === '') {
    const secret = settingOf('redisSecret');
    fail(secret, 'env', `is not set, and ${named('redisUrl')} is; expected ${expectedForm(secret)}`);
  }
  const urls = config.redisUrl.split(',');
  if (config.redisMode === 'standalone' && urls.length > 1) {
    fail(url, at('redisUrl'), `the value given is a list of ${urls.length} URLs, and ${named('redisMode')} is standalone; ` +
      'expected one URL, or the mode cluster (the URLs are seed nodes) or sentinel (the URLs are sentinels)');
  }
  if (config.redisMode === 'cluster' && urls.some((text) => databaseOf(new URL(text)) !== 0)) {
    fail(url, at('redisUrl'), `the value given names a database other than 0, and ${named('redisMode')} is cluster; ` +
      'a Redis Cluster has database 0 only: expected URLs without a path, or /0');
  }
  if (config.redisMode !== 'sentinel') {
    for (const option of ['redisSentinelName', 'redisSentinelPassword'] as const) {
      if (origins[option].from === 'default') continue;
      fail(settingOf(option), at(option), `is set, and ${named('redisMode')} is ${config.redisMode}, not sentinel; ` +
        `set ${mode.env}=sentinel, or unset this`);
    }
  }
  if (config.redisSecretPrevious !== '' && config.redisSecretPrevious === config.redisSecret) {
    fail(settingOf('redisSecretPrevious'), at('redisSecretPrevious'), `the value given is the same as ${named('redisSecret')}; ` +
      'expected the secret the hosts used before it, or nothing once every host runs on the new one');
  }
}

/** Where a value came from, and how to quote it in an error message. */
interface Origin {
  readonly from: 'option' | 'env' | 'default';
  readonly shown: string;
}

function defaultOf(setting: Setting): number | string {
  const compute = COMPUTED_DEFAULTS[setting.option];
  return compute ? compute() : fromText(setting, setting.default, 'option');
}

function fromOption(setting: Setting, value: unknown): number | string {
  const kind = KINDS[setting.kind];
  if (typeof value === 'string') return fromText(setting, value, 'option');
  if (typeof value !== 'number' || !kind.number) {
    const accepted = kind.number
      ? `${kind.number.noun} or a string such as ${quote(setting.examples[0])}`
      : `a string, ${kind.form}`;
    fail(setting, 'option', `expected ${accepted}, got ${describe(value)}`);
  }
  if (!Number.isInteger(value)) fail(setting, 'option', `${value} is not ${kind.number.whole}`);
  if (!inRange(setting, value)) {
    const { min = 0, max = 0 } = setting;
    const human = setting.kind === 'integer' ? '' : ` (${kind.format(min)} to ${kind.format(max)})`;
    fail(setting, 'option', `${value} is out of range; expected ${kind.number.noun} from ${min} to ${max}${human}`);
  }
  return value === 0 ? 0 : value; // no -0
}

function fromText(setting: Setting, text: string, from: 'option' | 'env'): number | string {
  const kind = KINDS[setting.kind];
  const parsed = kind.parse(text);
  if (parsed.problem !== undefined) {
    fail(setting, from, `${shown(setting, quote(text))} ${parsed.problem}; expected ${expectedForm(setting)}`);
  }
  const value = parsed.value;
  if (typeof value === 'number' && !inRange(setting, value)) {
    fail(setting, from, `${quote(text)} is out of range; expected ${rangeOf(setting)}`);
  }
  return value;
}

function checkRestartDelays(config: CacheConfig, origins: Record<string, Origin>): void {
  if (config.restartDelay <= config.maxRestartDelay) return;
  const first = settingOf('restartDelay');
  const max = settingOf('maxRestartDelay');
  if (origins.maxRestartDelay.from === 'default') {
    fail(first, origins.restartDelay.from === 'env' ? 'env' : 'option',
      `${origins.restartDelay.shown} is above the maximum restart delay of ${formatDuration(config.maxRestartDelay)}; ` +
      `raise ${max.env} (option ${max.option}) as well`);
  }
  fail(max, origins.maxRestartDelay.from === 'env' ? 'env' : 'option',
    `${origins.maxRestartDelay.shown} is below the first restart delay of ${formatDuration(config.restartDelay)} ` +
    `(${first.env}, option ${first.option}); expected at least that`);
}

/** The rotation defaults to the session timeout, and may not keep more than 64 keys alive. */
function checkTicketRotation(config: CacheConfig, origins: Record<string, Origin>): void {
  if (origins.ticketRotate.from === 'default') config.ticketRotate = config.sessionTimeout * SECOND;
  if (config.ticketRotate * MAX_ROTATIONS_PER_TIMEOUT >= config.sessionTimeout * SECOND) return;
  const rotate = settingOf('ticketRotate');
  fail(rotate, origins.ticketRotate.from === 'env' ? 'env' : 'option',
    `${origins.ticketRotate.shown} rotates more than ${MAX_ROTATIONS_PER_TIMEOUT} times per session timeout ` +
    `(${formatDuration(config.sessionTimeout * SECOND)}); expected at least ${formatDuration(Math.ceil((config.sessionTimeout * SECOND) / MAX_ROTATIONS_PER_TIMEOUT))}`);
}

function inRange(setting: Setting, value: number): boolean {
  return !(value < (setting.min ?? -Infinity) || value > (setting.max ?? Infinity));
}

function fail(setting: Setting, from: 'option' | 'env', problem: string): never {
  throw from === 'env'
    ? new InvalidEnvironmentError(setting.env, problem)
    : new InvalidOptionError(setting.option, problem);
}

/** An unknown option's message, with the option it most likely stands for (its variable's name given as an option too). */
function unknownOption(name: string): string {
  // An old name's slip is the new name's (TIMOUT: sessionTimeout).
  const near = nearestName(name.replace(/^tls_cache_/i, ''), [...SETTINGS.map((s) => s.option), ...RENAMED_SETTINGS.map((r) => r.option)]);
  const meant = near === undefined ? undefined : (renamedTo(near) ?? near);
  const hint = meant === undefined ? '' : ` (did you mean "${meant}"?)`;
  return `unknown option${hint}; the options are ${orList(SETTINGS.map((s) => s.option))}`;
}

