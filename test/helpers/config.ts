/**
 * What the config tests (test/config-*.ts) share: the default
 * configuration, and assertions that a variable or an option is accepted,
 * or refused with the right coded error and message.
 */
import type t from 'tap';
import { availableParallelism } from 'node:os';
import type { CacheConfig } from '../../lib/config/settings.ts';
import { loadConfig } from '../../lib/config/load.ts';
import { InvalidEnvironmentError, InvalidOptionError } from '../../lib/errors.ts';

/** The type of a subtest's `t`. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const DAY_MS = 86_400_000;

/** What loadConfig({}, {}) resolves to on this machine. */
export const DEFAULTS: CacheConfig = {
  size: 32 * MiB,
  maxSessionSize: 8 * KiB,
  sessionTimeout: 3600,
  sweepInterval: 10_000,
  workers: Math.min(256, availableParallelism()),
  shutdownTimeout: 10_000,
  restartDelay: 100,
  maxRestartDelay: 10_000,
  logLevel: 'info',
  logFormat: 'auto',
  statsInterval: 60_000,
  tickets: 'on',
  ticketRotate: 3_600_000,
  ticketKeyFile: '',
  metricsPort: 0,
  metricsHost: '127.0.0.1',
  summaryInterval: 60_000,
  sessionIdContext: 'tls-resumption',
  ownerTimeout: 5,
  socket: '',
  daemonIdleTimeout: 600_000,
  localSize: MiB,
  redisUrl: '',
  redisMode: 'standalone',
  redisSentinelName: 'mymaster',
  redisSentinelPassword: '',
  redisTimeout: 5,
  redisSecret: '',
  redisSecretPrevious: '',
  redisNamespace: 'tls-resumption',
};

/** A Redis secret long enough (32 characters). */
export const SECRET = 'abcdefghijklmnopqrstuvwxyz012345';

/** What `fn` throws, or undefined when it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Asserts that `variable=value` alone resolves `option` to `expected`. */
export function accepts(t: Test, variable: string, option: keyof CacheConfig, cases: [string, number | string][]): void {
  for (const [value, expected] of cases) {
    t.equal(loadConfig({}, { [variable]: value })[option], expected, `${variable}=${JSON.stringify(value)}`);
  }
}

/**
 * Asserts that `variable=value` throws InvalidEnvironmentError naming the
 * variable and quoting the value, with each fragment in its message.
 */
export function rejectsEnv(t: Test, env: Record<string, string>, variable: string, ...fragments: string[]): void {
  const value = env[variable];
  const err = thrown(() => loadConfig({}, env));
  const label = `${variable}=${JSON.stringify(value)}`;
  if (!(err instanceof InvalidEnvironmentError)) {
    t.fail(`${label} should throw InvalidEnvironmentError, got ${String(err)}`);
    return;
  }
  t.notOk(err instanceof InvalidOptionError, `${label}: not an option error`);
  t.equal(err.code, 'ERR_TLS_CACHE_INVALID_ENV', `${label}: code`);
  t.equal(err.variable, variable, `${label}: variable`);
  const prefix = `Invalid environment variable ${variable}: ${JSON.stringify(value)} `;
  t.ok(err.message.startsWith(prefix), `${label}: message starts with the variable and quoted value: ${err.message}`);
  for (const fragment of fragments) {
    t.ok(err.message.includes(fragment), `${label}: message has ${JSON.stringify(fragment)}: ${err.message}`);
  }
}

/** Asserts that loadConfig(options) throws InvalidOptionError for `option`. */
export function rejectsOption(t: Test, options: object, option: string, ...fragments: string[]): void {
  const err = thrown(() => loadConfig(options as Partial<CacheConfig>, {}));
  const label = `option ${option} in ${describe(options)}`;
  if (!(err instanceof InvalidOptionError)) {
    t.fail(`${label} should throw InvalidOptionError, got ${String(err)}`);
    return;
  }
  t.equal(err.code, 'ERR_TLS_CACHE_INVALID_OPTION', `${label}: code`);
  t.equal(err.option, option, `${label}: option`);
  t.ok(err.message.startsWith(`Invalid option "${option}": `), `${label}: message names the option: ${err.message}`);
  for (const fragment of fragments) {
    t.ok(err.message.includes(fragment), `${label}: message has ${JSON.stringify(fragment)}: ${err.message}`);
  }
}

/** Options as a label shows them: `{size: 1, port: 443}`. */
function describe(value: unknown): string {
  return typeof value === 'object' && value !== null
    ? `{${Object.entries(value).map(([k, v]) => `${k}: ${typeof v === 'bigint' ? `${v}n` : String(v)}`).join(', ')}}`
    : String(value);
}

/** The expected forms that refusals quote. */
export const SIZE_FORM = 'expected a number with an optional unit such as';
export const DURATION_FORM = 'expected a number with an optional unit such as 10s, 500ms or 1m';
export const DURATION_UNITS = '(units ms, s, m, h or d; a bare number means seconds)';
