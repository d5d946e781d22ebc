import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SETTINGS,
  formatDuration,
  formatSize,
  loadConfig,
  parseDuration,
  parseSize,
  redactConfig,
  redactUrl,
  settingsTable,
  type CacheConfig,
} from '../lib/config/config.ts';
import { InvalidEnvironmentError, InvalidOptionError } from '../lib/errors.ts';

/** The type of a subtest's `t`. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** 48-byte ticket key files, which TLS_CACHE_TICKET_KEY_FILE must name. */
const KEY_DIR = mkdtempSync(join(tmpdir(), 'config-keys-'));
t.teardown(() => rmSync(KEY_DIR, { recursive: true, force: true }));
const [A_KEY, B_KEY, K_KEY, SHORT_KEY] = ['a.key', 'b.key', 'k.key', 'short.key'].map((name) => join(KEY_DIR, name));
for (const file of [A_KEY, B_KEY, K_KEY]) writeFileSync(file, Buffer.alloc(48, 7));
writeFileSync(SHORT_KEY, Buffer.alloc(80, 7));

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const DAY_MS = 86_400_000;

const DEFAULTS: CacheConfig = {
  size: 32 * MiB,
  maxSessionSize: 8 * KiB,
  timeout: 300,
  sweepInterval: 10_000,
  workers: Math.min(256, availableParallelism()),
  shutdownTimeout: 10_000,
  restartDelay: 100,
  maxRestartDelay: 10_000,
  logLevel: 'info',
  statsInterval: 60_000,
  tickets: 'on',
  ticketRotate: 300_000,
  ticketKeyFile: '',
  metricsPort: 0,
  metricsHost: '127.0.0.1',
  summaryInterval: 60_000,
  sessionIdContext: 'tls-session-cache',
  ipcTimeout: 5,
  localSize: MiB,
  redisUrl: '',
  redisTimeout: 5,
  redisSecret: '',
  redisNamespace: 'tls-session-cache',
};

/** A Redis secret long enough (32 characters). */
const SECRET = 'abcdefghijklmnopqrstuvwxyz012345';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Asserts that `variable=value` alone resolves `option` to `expected`. */
function accepts(t: Test, variable: string, option: keyof CacheConfig, cases: [string, number | string][]): void {
  for (const [value, expected] of cases) {
    t.equal(loadConfig({}, { [variable]: value })[option], expected, `${variable}=${JSON.stringify(value)}`);
  }
}

/**
 * Asserts that `variable=value` throws InvalidEnvironmentError naming the
 * variable and quoting the value, with each fragment in its message.
 */
function rejectsEnv(t: Test, env: Record<string, string>, variable: string, ...fragments: string[]): void {
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
function rejectsOption(t: Test, options: object, option: string, ...fragments: string[]): void {
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

function describe(value: unknown): string {
  return typeof value === 'object' && value !== null
    ? `{${Object.entries(value).map(([k, v]) => `${k}: ${typeof v === 'bigint' ? `${v}n` : String(v)}`).join(', ')}}`
    : String(value);
}

const SIZE_FORM = 'expected a number with an optional unit such as';
const DURATION_FORM = 'expected a number with an optional unit such as 10s, 500ms or 1m';
const DURATION_UNITS = '(units ms, s, m, h or d; a bare number means seconds)';

t.test('defaults', async (t) => {
  t.same(loadConfig({}, {}), DEFAULTS);
  t.same(loadConfig(undefined, {}), DEFAULTS, 'options may be omitted');
  t.same(Object.keys(loadConfig({}, {})), SETTINGS.map((s) => s.option), 'keys follow SETTINGS');
  t.ok(loadConfig({}, {}).workers >= 1, 'at least one worker');
});

t.test('reads process.env when no env is given', async (t) => {
  const saved = process.env.TLS_CACHE_SIZE;
  process.env.TLS_CACHE_SIZE = '1MiB';
  t.teardown(() => {
    if (saved === undefined) delete process.env.TLS_CACHE_SIZE;
    else process.env.TLS_CACHE_SIZE = saved;
  });
  t.equal(loadConfig().size, MiB);
  t.equal(loadConfig({}).size, MiB);
});

t.test('empty variables count as unset', async (t) => {
  const env = Object.fromEntries(SETTINGS.map((s) => [s.env, '']));
  t.same(loadConfig({}, env), DEFAULTS);
});

t.test('TLS_CACHE_SIZE', async (t) => {
  accepts(t, 'TLS_CACHE_SIZE', 'size', [
    ['65536', 65536],
    ['65536B', 65536],
    ['65536b', 65536],
    ['64KiB', 64 * KiB],
    ['64kib', 64 * KiB],
    ['64KIB', 64 * KiB],
    ['64K', 64 * KiB],
    ['64k', 64 * KiB],
    ['100KB', 100_000],
    ['100kb', 100_000],
    ['64MiB', 64 * MiB],
    ['10m', 10 * MiB],
    ['10M', 10 * MiB],
    ['1MB', 1_000_000],
    ['1.5MiB', 1.5 * MiB],
    ['1.1MB', 1_100_000],
    ['.5GiB', GiB / 2],
    ['1GiB', GiB],
    ['1g', GiB],
    ['1GB', 1_000_000_000],
    ['2GiB', 2 * GiB],
    ['2G', 2 * GiB],
    ['64 MiB', 64 * MiB],
    [' 64MiB\n', 64 * MiB],
  ]);
  const form = `${SIZE_FORM} 64MiB, 512KiB or 1GiB`;
  t.test('the message of the brief', async (t) => {
    const err = thrown(() => loadConfig({}, { TLS_CACHE_SIZE: '64 potatoes' }));
    t.equal(
      (err as Error).message,
      'Invalid environment variable TLS_CACHE_SIZE: "64 potatoes" is not a size; ' +
        'expected a number with an optional unit such as 64MiB, 512KiB or 1GiB',
    );
  });
  for (const bad of ['64 potatoes', 'potatoes', ' ', '-1MiB', '-65536', '+64MiB', 'Infinity', '1e6', '0x10000',
    'MiB', '1.5.5MiB', '64MiBs', '64 M B', '64TiB', '64mib64', 'NaN', '1,024KiB', '64_000KiB', '1..5MiB', '5.MiB']) {
    rejectsEnv(t, { TLS_CACHE_SIZE: bad }, 'TLS_CACHE_SIZE', 'is not a size', form);
  }
  rejectsEnv(t, { TLS_CACHE_SIZE: '100000.5' }, 'TLS_CACHE_SIZE', 'is not a whole number of bytes', form);
  for (const bad of ['0', '65535', '63KiB', '2049MiB', '3GiB', '2147483649', '99999999999999999999999999']) {
    rejectsEnv(t, { TLS_CACHE_SIZE: bad }, 'TLS_CACHE_SIZE', 'is out of range', 'expected a size from 64KiB to 2GiB');
  }
});

t.test('TLS_CACHE_MAX_SESSION_SIZE', async (t) => {
  accepts(t, 'TLS_CACHE_MAX_SESSION_SIZE', 'maxSessionSize', [
    ['1', 1],
    ['1B', 1],
    ['4096', 4096],
    ['8KiB', 8192],
    ['16k', 16 * KiB],
    ['10KB', 10_000],
    ['0.5KiB', 512],
    ['64KiB', 64 * KiB],
  ]);
  const form = `${SIZE_FORM} 8KiB, 16KiB or 4096`;
  for (const bad of ['big', '8 KiBs', '-1', 'Infinity', '8KiB8']) {
    rejectsEnv(t, { TLS_CACHE_MAX_SESSION_SIZE: bad }, 'TLS_CACHE_MAX_SESSION_SIZE', 'is not a size', form);
  }
  for (const bad of ['1.5', '0.5B', '0.1KiB']) {
    rejectsEnv(t, { TLS_CACHE_MAX_SESSION_SIZE: bad }, 'TLS_CACHE_MAX_SESSION_SIZE', 'is not a whole number of bytes', form);
  }
  for (const bad of ['0', '65537', '1MiB', '0B']) {
    rejectsEnv(t, { TLS_CACHE_MAX_SESSION_SIZE: bad }, 'TLS_CACHE_MAX_SESSION_SIZE', 'is out of range',
      'expected a size from 1B to 64KiB');
  }
});

t.test('TLS_CACHE_TIMEOUT', async (t) => {
  accepts(t, 'TLS_CACHE_TIMEOUT', 'timeout', [
    ['1', 1],
    ['300', 300],
    ['90s', 90],
    ['2000ms', 2],
    ['5m', 300],
    ['1.5m', 90],
    ['1h', 3600],
    ['7d', 604_800],
    ['168h', 604_800],
    [' 5m ', 300],
  ]);
  const form = 'expected a whole number of seconds with an optional unit such as 300, 5m or 1h';
  t.test('refuses a fraction of a second and says why', async (t) => {
    rejectsEnv(t, { TLS_CACHE_TIMEOUT: '1500ms' }, 'TLS_CACHE_TIMEOUT', 'is not a whole number of seconds',
      "Node's TLS session timeout", form, DURATION_UNITS);
    rejectsEnv(t, { TLS_CACHE_TIMEOUT: '0.5' }, 'TLS_CACHE_TIMEOUT', 'is not a whole number of seconds', form);
    rejectsEnv(t, { TLS_CACHE_TIMEOUT: '1.0001s' }, 'TLS_CACHE_TIMEOUT', 'is not a whole number of', form);
  });
  for (const bad of ['5 minutes', '5M', '5S', '-5', 'Infinity', '1e3', 'forever', '5m30s', '1w']) {
    rejectsEnv(t, { TLS_CACHE_TIMEOUT: bad }, 'TLS_CACHE_TIMEOUT', 'is not a duration', form, DURATION_UNITS);
  }
  for (const bad of ['0', '0s', '8d', '604801']) {
    rejectsEnv(t, { TLS_CACHE_TIMEOUT: bad }, 'TLS_CACHE_TIMEOUT', 'is out of range',
      'expected a duration in whole seconds from 1s to 7d');
  }
});

t.test('TLS_CACHE_SWEEP_INTERVAL', async (t) => {
  accepts(t, 'TLS_CACHE_SWEEP_INTERVAL', 'sweepInterval', [
    ['0', 0],
    ['0ms', 0],
    ['500ms', 500],
    ['2', 2000],
    ['1.5s', 1500],
    ['10s', 10_000],
    ['1m', 60_000],
    ['2h', 7_200_000],
    ['24d', 24 * DAY_MS],
  ]);
  for (const bad of ['never', '10sec', '-1s', '10 seconds', 'off', '1.5.0s']) {
    rejectsEnv(t, { TLS_CACHE_SWEEP_INTERVAL: bad }, 'TLS_CACHE_SWEEP_INTERVAL', 'is not a duration', DURATION_FORM,
      DURATION_UNITS);
  }
  rejectsEnv(t, { TLS_CACHE_SWEEP_INTERVAL: '1.5ms' }, 'TLS_CACHE_SWEEP_INTERVAL',
    'is not a whole number of milliseconds', DURATION_FORM);
  rejectsEnv(t, { TLS_CACHE_SWEEP_INTERVAL: '25d' }, 'TLS_CACHE_SWEEP_INTERVAL', 'is out of range',
    'expected a duration from 0 to 24d');
});

t.test('TLS_CACHE_WORKERS', async (t) => {
  accepts(t, 'TLS_CACHE_WORKERS', 'workers', [
    ['1', 1],
    ['4', 4],
    ['16', 16],
    ['08', 8],
    [' 8 ', 8],
    ['256', 256],
  ]);
  const form = 'expected a whole decimal number such as 4 or 16';
  for (const bad of ['4.5', '4.0', '0x4', 'four', ' ', '-1', '1e2', '4k', '+4', 'Infinity', '4 workers']) {
    rejectsEnv(t, { TLS_CACHE_WORKERS: bad }, 'TLS_CACHE_WORKERS', 'is not an integer', form);
  }
  for (const bad of ['0', '257', '100000']) {
    rejectsEnv(t, { TLS_CACHE_WORKERS: bad }, 'TLS_CACHE_WORKERS', 'is out of range', 'expected an integer from 1 to 256');
  }
});

t.test('TLS_CACHE_SHUTDOWN_TIMEOUT', async (t) => {
  accepts(t, 'TLS_CACHE_SHUTDOWN_TIMEOUT', 'shutdownTimeout', [
    ['0', 0],
    ['250ms', 250],
    ['30', 30_000],
    ['30s', 30_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
  ]);
  const form = 'expected a number with an optional unit such as 10s, 30s or 1m';
  for (const bad of ['soon', '-1', '30 s econds', '1y', 'Infinity']) {
    rejectsEnv(t, { TLS_CACHE_SHUTDOWN_TIMEOUT: bad }, 'TLS_CACHE_SHUTDOWN_TIMEOUT', 'is not a duration', form,
      DURATION_UNITS);
  }
  rejectsEnv(t, { TLS_CACHE_SHUTDOWN_TIMEOUT: '30d' }, 'TLS_CACHE_SHUTDOWN_TIMEOUT', 'is out of range',
    'expected a duration from 0 to 24d');
});

t.test('TLS_CACHE_RESTART_DELAY', async (t) => {
  accepts(t, 'TLS_CACHE_RESTART_DELAY', 'restartDelay', [
    ['1ms', 1],
    ['100ms', 100],
    ['1', 1000],
    ['1s', 1000],
    ['10s', 10_000],
  ]);
  t.equal(loadConfig({}, { TLS_CACHE_RESTART_DELAY: '1m', TLS_CACHE_MAX_RESTART_DELAY: '5m' }).restartDelay, 60_000,
    'above the default maximum when the maximum is raised too');
  const form = 'expected a number with an optional unit such as 100ms, 1s or 2s';
  for (const bad of ['fast', '100 msec', '-100ms', '1e2ms']) {
    rejectsEnv(t, { TLS_CACHE_RESTART_DELAY: bad }, 'TLS_CACHE_RESTART_DELAY', 'is not a duration', form);
  }
  for (const bad of ['0', '0ms', '25d']) {
    rejectsEnv(t, { TLS_CACHE_RESTART_DELAY: bad }, 'TLS_CACHE_RESTART_DELAY', 'is out of range',
      'expected a duration from 1ms to 24d');
  }
  rejectsEnv(t, { TLS_CACHE_RESTART_DELAY: '1m' }, 'TLS_CACHE_RESTART_DELAY',
    'is above the maximum restart delay of 10s', 'TLS_CACHE_MAX_RESTART_DELAY');
});

t.test('TLS_CACHE_MAX_RESTART_DELAY', async (t) => {
  accepts(t, 'TLS_CACHE_MAX_RESTART_DELAY', 'maxRestartDelay', [
    ['100ms', 100],
    ['30s', 30_000],
    ['1m', 60_000],
    ['24d', 24 * DAY_MS],
  ]);
  const form = 'expected a number with an optional unit such as 10s, 30s or 1m';
  for (const bad of ['slow', '1 minute', '10S']) {
    rejectsEnv(t, { TLS_CACHE_MAX_RESTART_DELAY: bad }, 'TLS_CACHE_MAX_RESTART_DELAY', 'is not a duration', form);
  }
  rejectsEnv(t, { TLS_CACHE_MAX_RESTART_DELAY: '0' }, 'TLS_CACHE_MAX_RESTART_DELAY', 'is out of range',
    'expected a duration from 1ms to 24d');
  rejectsEnv(t, { TLS_CACHE_MAX_RESTART_DELAY: '50ms' }, 'TLS_CACHE_MAX_RESTART_DELAY',
    'is below the first restart delay of 100ms', 'TLS_CACHE_RESTART_DELAY');
  rejectsEnv(t, { TLS_CACHE_RESTART_DELAY: '2s', TLS_CACHE_MAX_RESTART_DELAY: '1s' }, 'TLS_CACHE_MAX_RESTART_DELAY',
    'is below the first restart delay of 2s');
});

t.test('TLS_CACHE_LOG_LEVEL', async (t) => {
  accepts(t, 'TLS_CACHE_LOG_LEVEL', 'logLevel', [
    ['fatal', 'fatal'],
    ['error', 'error'],
    ['warn', 'warn'],
    ['info', 'info'],
    ['debug', 'debug'],
    ['trace', 'trace'],
    ['silent', 'silent'],
    ['DEBUG', 'debug'],
    [' Warn ', 'warn'],
  ]);
  const form = 'expected one of fatal, error, warn, info, debug, trace or silent';
  for (const bad of ['verbose', 'warning', '30', ' ', 'info,debug']) {
    rejectsEnv(t, { TLS_CACHE_LOG_LEVEL: bad }, 'TLS_CACHE_LOG_LEVEL', 'is not a log level', form);
  }
});

t.test('TLS_CACHE_STATS_INTERVAL', async (t) => {
  accepts(t, 'TLS_CACHE_STATS_INTERVAL', 'statsInterval', [
    ['0', 0],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1500ms', 1500],
  ]);
  const form = 'expected a number with an optional unit such as 1m, 30s or 5m';
  for (const bad of ['hourly', '1 m s', '-1m']) {
    rejectsEnv(t, { TLS_CACHE_STATS_INTERVAL: bad }, 'TLS_CACHE_STATS_INTERVAL', 'is not a duration', form);
  }
  rejectsEnv(t, { TLS_CACHE_STATS_INTERVAL: '0.5ms' }, 'TLS_CACHE_STATS_INTERVAL',
    'is not a whole number of milliseconds', form);
  rejectsEnv(t, { TLS_CACHE_STATS_INTERVAL: '100d' }, 'TLS_CACHE_STATS_INTERVAL', 'is out of range');
});

t.test('an option overrides its variable, which overrides the default', async (t) => {
  const env: Record<string, string> = {
    TLS_CACHE_SIZE: '1MiB',
    TLS_CACHE_MAX_SESSION_SIZE: '4KiB',
    TLS_CACHE_TIMEOUT: '1h',
    TLS_CACHE_SWEEP_INTERVAL: '1s',
    TLS_CACHE_WORKERS: '3',
    TLS_CACHE_SHUTDOWN_TIMEOUT: '1m',
    TLS_CACHE_RESTART_DELAY: '1s',
    TLS_CACHE_MAX_RESTART_DELAY: '1m',
    TLS_CACHE_LOG_LEVEL: 'warn',
    TLS_CACHE_STATS_INTERVAL: '5m',
    TLS_CACHE_TICKETS: 'off',
    TLS_CACHE_TICKET_ROTATE: '10m',
    TLS_CACHE_TICKET_KEY_FILE: `${A_KEY}, ${B_KEY}`,
    TLS_CACHE_METRICS_PORT: '9464',
    TLS_CACHE_METRICS_HOST: ' 0.0.0.0 ',
    TLS_CACHE_SUMMARY_INTERVAL: '30s',
    TLS_CACHE_SESSION_ID_CONTEXT: 'shop',
    TLS_CACHE_IPC_TIMEOUT: '20ms',
    TLS_CACHE_LOCAL_SIZE: '256KiB',
    TLS_CACHE_REDIS_URL: 'redis://127.0.0.1:6379',
    TLS_CACHE_REDIS_TIMEOUT: '50ms',
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_REDIS_NAMESPACE: 'shop:eu',
  };
  const fromEnv: CacheConfig = {
    size: MiB,
    maxSessionSize: 4096,
    timeout: 3600,
    sweepInterval: 1000,
    workers: 3,
    shutdownTimeout: 60_000,
    restartDelay: 1000,
    maxRestartDelay: 60_000,
    logLevel: 'warn',
    statsInterval: 300_000,
    tickets: 'off',
    ticketRotate: 600_000,
    ticketKeyFile: `${A_KEY},${B_KEY}`,
    metricsPort: 9464,
    metricsHost: '0.0.0.0',
    summaryInterval: 30_000,
    sessionIdContext: 'shop',
    ipcTimeout: 20,
    localSize: 256 * KiB,
    redisUrl: 'redis://127.0.0.1:6379',
    redisTimeout: 50,
    redisSecret: SECRET,
    redisNamespace: 'shop:eu',
  };
  t.same(loadConfig({}, env), fromEnv, 'every variable is read');
  const options: CacheConfig = {
    size: 2 * MiB,
    maxSessionSize: 2048,
    timeout: 60,
    sweepInterval: 0,
    workers: 5,
    shutdownTimeout: 0,
    restartDelay: 50,
    maxRestartDelay: 5000,
    logLevel: 'error',
    statsInterval: 0,
    tickets: 'on',
    ticketRotate: 60_000,
    ticketKeyFile: K_KEY,
    metricsPort: 9100,
    metricsHost: '::1',
    summaryInterval: 0,
    sessionIdContext: 'other',
    ipcTimeout: 1,
    localSize: 0,
    redisUrl: 'rediss://:pw@redis.internal:6380/2',
    redisTimeout: 1000,
    redisSecret: `${SECRET}-longer`,
    redisNamespace: 'other',
  };
  t.same(loadConfig(options, env), options, 'every option wins over its variable');
  for (const setting of SETTINGS) {
    const one = { [setting.option]: options[setting.option] };
    t.same(loadConfig(one, env), { ...fromEnv, ...one }, `${setting.option} alone wins over ${setting.env} only`);
  }
  t.same(loadConfig({ size: undefined }, env).size, MiB, 'an undefined option counts as unset');
  t.equal(loadConfig({ size: 65536 }, { TLS_CACHE_SIZE: 'junk' }).size, 65536,
    'an overridden variable is not read');
});

t.test('options take numbers in their unit, or the strings of the variables', async (t) => {
  t.equal(loadConfig({ timeout: 60 }, {}).timeout, 60, 'timeout is in seconds');
  t.equal(loadConfig({ sweepInterval: 60 }, {}).sweepInterval, 60, 'durations are in milliseconds');
  t.equal(loadConfig({ size: 65536 }, {}).size, 65536, 'sizes are in bytes');
  const strings = {
    size: '64MiB',
    maxSessionSize: '16KiB',
    timeout: '1h',
    sweepInterval: '30s',
    workers: '7',
    shutdownTimeout: '5s',
    restartDelay: '250ms',
    maxRestartDelay: '1m',
    logLevel: 'TRACE',
    statsInterval: '0',
    tickets: 'OFF',
    ticketRotate: '2m',
    ticketKeyFile: A_KEY,
    metricsPort: '8080',
    metricsHost: 'localhost',
    summaryInterval: '10s',
    sessionIdContext: ' ctx ',
    ipcTimeout: '10ms',
    localSize: '2MiB',
    redisUrl: 'redis://localhost',
    redisTimeout: '1s',
    redisSecret: SECRET,
    redisNamespace: 'ns',
  };
  t.same(loadConfig(strings as unknown as Partial<CacheConfig>, {}), {
    size: 64 * MiB,
    maxSessionSize: 16 * KiB,
    timeout: 3600,
    sweepInterval: 30_000,
    workers: 7,
    shutdownTimeout: 5000,
    restartDelay: 250,
    maxRestartDelay: 60_000,
    logLevel: 'trace',
    statsInterval: 0,
    tickets: 'off',
    ticketRotate: 120_000,
    ticketKeyFile: A_KEY,
    metricsPort: 8080,
    metricsHost: 'localhost',
    summaryInterval: 10_000,
    sessionIdContext: 'ctx',
    ipcTimeout: 10,
    localSize: 2 * MiB,
    redisUrl: 'redis://localhost',
    redisTimeout: 1000,
    redisSecret: SECRET,
    redisNamespace: 'ns',
  });
});

t.test('bad option strings throw InvalidOptionError with the form', async (t) => {
  rejectsOption(t, { size: '64 potatoes' }, 'size', '"64 potatoes" is not a size', `${SIZE_FORM} 64MiB`);
  rejectsOption(t, { timeout: '1500ms' }, 'timeout', 'is not a whole number of seconds');
  rejectsOption(t, { workers: '4.5' }, 'workers', 'is not an integer');
  rejectsOption(t, { logLevel: 'loud' }, 'logLevel', 'is not a log level');
  rejectsOption(t, { size: '1KiB' }, 'size', 'is out of range; expected a size from 64KiB to 2GiB');
  rejectsOption(t, { sweepInterval: '' }, 'sweepInterval', '"" is not a duration');
  rejectsOption(t, { metricsHost: 'a host' }, 'metricsHost', 'is not an IP address or localhost');
  rejectsOption(t, { metricsHost: 'example.com' }, 'metricsHost', 'is not an IP address or localhost');
  rejectsOption(t, { metricsPort: 65536 }, 'metricsPort', 'out of range');
});

t.test('options of the wrong type or range throw InvalidOptionError', async (t) => {
  for (const setting of SETTINGS) {
    for (const bad of [true, null, {}, [], 10n, () => 1, Symbol('x')]) {
      rejectsOption(t, { [setting.option]: bad }, setting.option, 'expected', 'got');
    }
  }
  rejectsOption(t, { size: true }, 'size', 'expected a number of bytes or a string such as "64MiB", got boolean');
  rejectsOption(t, { timeout: null }, 'timeout', 'expected a number of seconds or a string such as "300", got null');
  rejectsOption(t, { workers: [4] }, 'workers', 'got an array');
  rejectsOption(t, { logLevel: 30 }, 'logLevel', 'expected a string, one of fatal, error', 'got number');
  rejectsOption(t, { size: 12.5 }, 'size', '12.5 is not a whole number of bytes');
  rejectsOption(t, { size: NaN }, 'size', 'NaN is not a whole number of bytes');
  rejectsOption(t, { size: Infinity }, 'size', 'Infinity is not a whole number of bytes');
  rejectsOption(t, { timeout: 1.5 }, 'timeout', '1.5 is not a whole number of seconds');
  rejectsOption(t, { sweepInterval: 0.5 }, 'sweepInterval', '0.5 is not a whole number of milliseconds');
  rejectsOption(t, { workers: 2.5 }, 'workers', '2.5 is not an integer');
  rejectsOption(t, { size: 1 }, 'size', '1 is out of range; expected a number of bytes from 65536 to 2147483648 (64KiB to 2GiB)');
  rejectsOption(t, { maxSessionSize: 0 }, 'maxSessionSize', 'from 1 to 65536 (1B to 64KiB)');
  rejectsOption(t, { timeout: 0 }, 'timeout', 'expected a number of seconds from 1 to 604800 (1s to 7d)');
  rejectsOption(t, { timeout: 604_801 }, 'timeout', 'out of range');
  rejectsOption(t, { timeout: -0 }, 'timeout', 'out of range');
  rejectsOption(t, { workers: 0 }, 'workers', 'expected an integer from 1 to 256');
  rejectsOption(t, { workers: 257 }, 'workers', 'out of range');
  rejectsOption(t, { sweepInterval: -1 }, 'sweepInterval', 'expected a number of milliseconds from 0 to 2073600000 (0 to 24d)');
  rejectsOption(t, { restartDelay: 0 }, 'restartDelay', 'out of range');
  rejectsOption(t, { maxRestartDelay: 50 }, 'maxRestartDelay', '50 is below the first restart delay of 100ms');
  rejectsOption(t, { restartDelay: 20_000 }, 'restartDelay', '20000 is above the maximum restart delay of 10s');
  t.equal(loadConfig({ sweepInterval: -0 }, {}).sweepInterval, 0);
  t.ok(Object.is(loadConfig({ sweepInterval: -0 }, {}).sweepInterval, 0), '-0 comes out as 0');
});

t.test('an option error wins over the environment for cross-checks', async (t) => {
  rejectsOption(t, { maxRestartDelay: 50 }, 'maxRestartDelay', 'below');
  const err = thrown(() => loadConfig({ restartDelay: 2000 }, { TLS_CACHE_MAX_RESTART_DELAY: '1s' }));
  t.ok(err instanceof InvalidEnvironmentError, 'the explicitly set maximum is blamed');
  t.equal((err as InvalidEnvironmentError).variable, 'TLS_CACHE_MAX_RESTART_DELAY');
});

t.test('unknown option names throw InvalidOptionError', async (t) => {
  rejectsOption(t, { sise: 1 }, 'sise', 'unknown option; the options are size, maxSessionSize,', 'statsInterval');
  rejectsOption(t, { Size: 65536 }, 'Size', 'unknown option (did you mean "size"?)');
  rejectsOption(t, { TLS_CACHE_SIZE: '1MiB' }, 'TLS_CACHE_SIZE', 'did you mean "size"?');
  rejectsOption(t, { max_session_size: 1 }, 'max_session_size', 'did you mean "maxSessionSize"?');
  rejectsOption(t, { clock: Date.now }, 'clock', 'unknown option');
  rejectsOption(t, { size: 65536, port: 443 }, 'port', 'unknown option');
  rejectsOption(t, JSON.parse('{"__proto__": 1}'), '__proto__', 'unknown option');
  rejectsOption(t, { constructor: 1 }, 'constructor', 'unknown option');
  rejectsOption(t, { undefinedButUnknown: undefined }, 'undefinedButUnknown', 'unknown option');
});

t.test('options that are not an object throw InvalidOptionError', async (t) => {
  for (const bad of [null, 'size=1MiB', 42, [65536]]) {
    const err = thrown(() => loadConfig(bad as unknown as Partial<CacheConfig>, {}));
    t.ok(err instanceof InvalidOptionError, `${String(bad)}`);
    t.equal((err as InvalidOptionError).option, 'options');
    t.equal((err as InvalidOptionError).code, 'ERR_TLS_CACHE_INVALID_OPTION');
  }
  const err = thrown(() => loadConfig({}, null as unknown as NodeJS.ProcessEnv));
  t.ok(err instanceof InvalidOptionError, 'env null');
  t.equal((err as InvalidOptionError).option, 'env');
});

t.test('parseSize', async (t) => {
  const good: [string, number][] = [
    ['0', 0], ['1', 1], ['1B', 1], ['1KiB', 1024], ['1K', 1024], ['1KB', 1000], ['1kb', 1000],
    ['64MiB', 67_108_864], ['10m', 10_485_760], ['1MB', 1_000_000], ['1.5KiB', 1536], ['0.1KB', 100],
    ['1.1KB', 1100], ['2.2MB', 2_200_000], ['1GiB', GiB], ['3gb', 3e9], ['4G', 4 * GiB],
  ];
  for (const [text, bytes] of good) t.equal(parseSize(text), bytes, text);
  for (const text of ['', ' ', '0.5', '1.3B', '0.3KiB', '-1', '-1KiB', 'x', 'KiB', '1 potato', '1e3', 'Infinity',
    'NaN', '0x10', '1TiB', '1KiBB', '1 K i B', '1.']) {
    t.equal(parseSize(text), undefined, JSON.stringify(text));
  }
  t.equal(parseSize(42 as unknown as string), undefined, 'not a string');
});

t.test('parseDuration', async (t) => {
  const good: [string, number][] = [
    ['0', 0], ['1', 1000], ['1.5', 1500], ['5m', 300_000], ['1ms', 1], ['2s', 2000], ['1h', 3_600_000],
    ['1d', DAY_MS], ['0.5h', 1_800_000], ['1.001s', 1001], ['10 s', 10_000],
  ];
  for (const [text, ms] of good) t.equal(parseDuration(text), ms, text);
  for (const text of ['', ' ', '1.5ms', '0.0001', '-1s', 'soon', '5M', '5MS', '1w', '1y', '5min', '1h30m', 'Infinity',
    '1e3']) {
    t.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
  t.equal(parseDuration(undefined as unknown as string), undefined, 'not a string');
});

t.test('formatSize and formatDuration', async (t) => {
  t.equal(formatSize(32 * MiB), '32MiB');
  t.equal(formatSize(2 * GiB), '2GiB');
  t.equal(formatSize(1536), '1536B');
  t.equal(formatSize(1.5 * MiB), '1536KiB');
  t.equal(formatSize(0), '0B');
  t.equal(formatDuration(0), '0');
  t.equal(formatDuration(300_000), '5m');
  t.equal(formatDuration(1500), '1500ms');
  t.equal(formatDuration(7 * DAY_MS), '7d');
  t.equal(formatDuration(90_000), '90s');
});

t.test('SETTINGS', async (t) => {
  t.equal(SETTINGS.length, 23);
  t.same(SETTINGS.map((s) => s.option).sort(), Object.keys(DEFAULTS).sort(), 'one setting per option');
  t.ok(Object.isFrozen(SETTINGS), 'frozen');
  for (const s of SETTINGS) {
    t.ok(Object.isFrozen(s), `${s.option} frozen`);
    const snake = s.option.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
    t.equal(s.env, `TLS_CACHE_${snake}`, `${s.option} has the variable named after it`);
    t.ok(s.description.length > 20, `${s.option} is described`);
    if (!['workers', 'ticketRotate', 'ticketKeyFile', 'redisUrl', 'redisSecret'].includes(s.option)) {
      t.equal(loadConfig({}, { [s.env]: s.default })[s.option], DEFAULTS[s.option],
        `${s.env}=${s.default} gives the default`);
    }
    for (const example of s.examples) {
      t.doesNotThrow(() => loadConfig({}, { [s.env]: example, TLS_CACHE_MAX_RESTART_DELAY: '24d', TLS_CACHE_REDIS_SECRET: SECRET }),
        `${s.env} example ${example} is valid`);
    }
  }
});

t.test('settingsTable', async (t) => {
  const table = settingsTable();
  const lines = table.split('\n');
  t.equal(lines[0], '| Variable | Option | Default | Meaning |');
  t.equal(lines[1], '| --- | --- | --- | --- |');
  t.equal(lines.length, 2 + SETTINGS.length, 'one row per setting');
  t.notOk(table.endsWith('\n'), 'no trailing newline');
  const defaults: Record<string, string> = {
    TLS_CACHE_SIZE: '32MiB',
    TLS_CACHE_MAX_SESSION_SIZE: '8KiB',
    TLS_CACHE_TIMEOUT: '5m',
    TLS_CACHE_SWEEP_INTERVAL: '10s',
    TLS_CACHE_WORKERS: 'os.availableParallelism()',
    TLS_CACHE_SHUTDOWN_TIMEOUT: '10s',
    TLS_CACHE_RESTART_DELAY: '100ms',
    TLS_CACHE_MAX_RESTART_DELAY: '10s',
    TLS_CACHE_LOG_LEVEL: 'info',
    TLS_CACHE_STATS_INTERVAL: '1m',
    TLS_CACHE_TICKETS: 'on',
    TLS_CACHE_TICKET_ROTATE: 'TLS_CACHE_TIMEOUT',
    TLS_CACHE_TICKET_KEY_FILE: 'none',
    TLS_CACHE_METRICS_PORT: '0',
    TLS_CACHE_METRICS_HOST: '127.0.0.1',
    TLS_CACHE_SUMMARY_INTERVAL: '1m',
    TLS_CACHE_SESSION_ID_CONTEXT: 'tls-session-cache',
    TLS_CACHE_IPC_TIMEOUT: '5ms',
    TLS_CACHE_LOCAL_SIZE: '1MiB',
    TLS_CACHE_REDIS_URL: 'none',
    TLS_CACHE_REDIS_TIMEOUT: '5ms',
    TLS_CACHE_REDIS_SECRET: 'none',
    TLS_CACHE_REDIS_NAMESPACE: 'tls-session-cache',
  };
  SETTINGS.forEach((s, i) => {
    const row = lines[2 + i];
    t.ok(row.startsWith(`| \`${s.env}\` | \`${s.option}\` | \`${defaults[s.env]}\` | `), `row of ${s.env}: ${row}`);
    t.ok(row.endsWith(' |'), `row of ${s.env} is closed`);
    t.equal(row.split(/(?<!\\)\|/).length, 6, `row of ${s.env} has four cells`);
  });
  t.match(table, /`TLS_CACHE_SIZE`.*A size from 64KiB to 2GiB \(option: bytes\)\./);
  t.match(table, /`TLS_CACHE_TIMEOUT`.*from 1s to 7d \(option: seconds\)\./);
  t.match(table, /`TLS_CACHE_WORKERS`.*An integer from 1 to 256\./);
  t.match(table, /`TLS_CACHE_LOG_LEVEL`.*fatal, error, warn, info, debug, trace or silent/);
});

t.test('ticket settings', async (t) => {
  t.equal(loadConfig({}, { TLS_CACHE_TIMEOUT: '1h' }).ticketRotate, 3_600_000, 'the rotation defaults to the timeout');
  t.equal(loadConfig({ timeout: 5 }, {}).ticketRotate, 5000);
  t.equal(loadConfig({}, { TLS_CACHE_TICKET_ROTATE: '1s', TLS_CACHE_TIMEOUT: '5s' }).ticketRotate, 1000);
  t.equal(loadConfig({}, { TLS_CACHE_TICKETS: ' Off ' }).tickets, 'off');
  rejectsEnv(t, { TLS_CACHE_TICKETS: 'maybe' }, 'TLS_CACHE_TICKETS', 'is not on or off', 'expected on or off');
  rejectsEnv(t, { TLS_CACHE_TICKET_ROTATE: 'soon' }, 'TLS_CACHE_TICKET_ROTATE', 'is not a duration');
  rejectsEnv(t, { TLS_CACHE_TICKET_ROTATE: '500ms' }, 'TLS_CACHE_TICKET_ROTATE', 'out of range');
  rejectsEnv(t, { TLS_CACHE_TICKET_ROTATE: '1s', TLS_CACHE_TIMEOUT: '1h' }, 'TLS_CACHE_TICKET_ROTATE',
    'rotates more than 62 times per session timeout (1h); expected at least 58065ms');
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: `${A_KEY},,${B_KEY}` }, 'TLS_CACHE_TICKET_KEY_FILE', 'holds an empty path');
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: '/nonexistent/a.key' }, 'TLS_CACHE_TICKET_KEY_FILE',
    'names "/nonexistent/a.key", which cannot be read (ENOENT)', 'expected paths of 48-byte ticket key files');
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: `${A_KEY},${SHORT_KEY}` }, 'TLS_CACHE_TICKET_KEY_FILE',
    "which is 80 bytes, not 48; nginx's 80-byte AES-256 keys are not supported");
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: KEY_DIR }, 'TLS_CACHE_TICKET_KEY_FILE', 'which is not a file');
  t.equal(loadConfig({}, { TLS_CACHE_TICKET_KEY_FILE: ` ${A_KEY} ,${B_KEY}` }).ticketKeyFile, `${A_KEY},${B_KEY}`);
  rejectsOption(t, { tickets: true }, 'tickets', 'expected a string, on or off, got boolean');
  rejectsOption(t, { ticketRotate: 1000, timeout: 3600 }, 'ticketRotate', 'rotates more than 62 times');
});

t.test('TLS_CACHE_SESSION_ID_CONTEXT and TLS_CACHE_REDIS_NAMESPACE', async (t) => {
  for (const variable of ['TLS_CACHE_SESSION_ID_CONTEXT', 'TLS_CACHE_REDIS_NAMESPACE']) {
    const option = variable === 'TLS_CACHE_SESSION_ID_CONTEXT' ? 'sessionIdContext' : 'redisNamespace';
    accepts(t, variable, option, [['a', 'a'], ['x'.repeat(32), 'x'.repeat(32)], ['shop:eu-1', 'shop:eu-1']]);
    for (const bad of ['x'.repeat(33), 'two words', 'caf\u00e9']) {
      rejectsEnv(t, { [variable]: bad }, variable, 'is not 1 to 32 printable ASCII characters without spaces');
    }
  }
});

t.test('TLS_CACHE_IPC_TIMEOUT, TLS_CACHE_REDIS_TIMEOUT and TLS_CACHE_LOCAL_SIZE', async (t) => {
  accepts(t, 'TLS_CACHE_IPC_TIMEOUT', 'ipcTimeout', [['1ms', 1], ['10s', 10_000], ['0.25', 250]]);
  accepts(t, 'TLS_CACHE_REDIS_TIMEOUT', 'redisTimeout', [['3ms', 3], ['2s', 2000]]);
  accepts(t, 'TLS_CACHE_LOCAL_SIZE', 'localSize', [['0', 0], ['64KiB', 64 * KiB], ['256MiB', 256 * MiB]]);
  for (const variable of ['TLS_CACHE_IPC_TIMEOUT', 'TLS_CACHE_REDIS_TIMEOUT']) {
    rejectsEnv(t, { [variable]: '0' }, variable, 'is out of range');
    rejectsEnv(t, { [variable]: '11s' }, variable, 'is out of range');
    rejectsEnv(t, { [variable]: 'soon' }, variable, 'is not a duration');
  }
  rejectsEnv(t, { TLS_CACHE_LOCAL_SIZE: '1GiB' }, 'TLS_CACHE_LOCAL_SIZE', 'is out of range');
});

t.test('TLS_CACHE_REDIS_URL and TLS_CACHE_REDIS_SECRET never show their value', async (t) => {
  const withSecret = { TLS_CACHE_REDIS_SECRET: SECRET };
  t.equal(loadConfig({}, { ...withSecret, TLS_CACHE_REDIS_URL: 'rediss://u:p@h:1/3' }).redisUrl, 'rediss://u:p@h:1/3');
  const cases: [string, string][] = [
    ['http://:hunter2@host', 'not redis: or rediss:'],
    ['hunter2', 'is not a URL'],
    ['redis://:hunter2@host/db', 'not a database number'],
  ];
  for (const [url, problem] of cases) {
    const err = thrown(() => loadConfig({}, { ...withSecret, TLS_CACHE_REDIS_URL: url }));
    t.ok(err instanceof InvalidEnvironmentError, `${problem}: an environment error`);
    const message = (err as Error).message;
    t.match(message, /^Invalid environment variable TLS_CACHE_REDIS_URL: the value given /, 'names the variable, not the value');
    t.ok(message.includes(problem), `says why: ${message}`);
    t.notOk(message.includes('hunter2'), 'the password is not in the message');
  }
  const short = thrown(() => loadConfig({}, { TLS_CACHE_REDIS_SECRET: 'hunter2-is-short' })) as Error;
  t.ok(short instanceof InvalidEnvironmentError, 'a short secret is refused');
  t.ok(short.message.includes('16 characters, fewer than 32'), short.message);
  t.notOk(short.message.includes('hunter2'), 'the secret is not in the message');
  const optionError = thrown(() => loadConfig({ redisSecret: 'hunter2' }, {})) as Error;
  t.ok(optionError instanceof InvalidOptionError, 'as an option too');
  t.notOk(optionError.message.includes('hunter2'), 'the option value is not in the message');
  const missing = thrown(() => loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://h' })) as InvalidEnvironmentError;
  t.ok(missing instanceof InvalidEnvironmentError, 'a URL without a secret is refused');
  t.equal(missing.variable, 'TLS_CACHE_REDIS_SECRET', 'naming the secret');
  t.ok(missing.message.includes('TLS_CACHE_REDIS_URL'), missing.message);
});

t.test('redactConfig hides secrets for logs', async (t) => {
  const config = loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://user:hunter2@h:1/2', TLS_CACHE_REDIS_SECRET: SECRET });
  const shown = JSON.stringify(redactConfig(config));
  t.notOk(shown.includes('hunter2'), 'no password');
  t.notOk(shown.includes('user'), 'no user name');
  t.notOk(shown.includes(SECRET), 'no secret');
  t.same(redactConfig(config).redisUrl, 'redis://***:***@h:1/2');
  t.same(redactConfig(config).redisSecret, '[redacted]');
  t.same(redactConfig(loadConfig({}, {})), loadConfig({}, {}), 'nothing to hide: unchanged');
  t.equal(redactUrl('not a url'), '[redacted]');
});
