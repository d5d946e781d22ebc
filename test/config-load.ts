/**
 * loadConfig: an option wins over its variable, which wins over the
 * default; options of the wrong name, type or range; the cross-checks
 * (restart delays, ticket rotation) and the ticket key files.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS, type CacheConfig } from '../lib/config/settings.ts';
import { loadConfig } from '../lib/config/load.ts';
import { InvalidEnvironmentError, InvalidOptionError } from '../lib/errors.ts';
import { DAY_MS, DEFAULTS, KiB, MiB, SECRET, SIZE_FORM, accepts, rejectsEnv, rejectsOption, thrown } from './helpers/config.ts';

/** 48-byte ticket key files, which TLS_CACHE_TICKET_KEY_FILE must name. */
const KEY_DIR = mkdtempSync(join(tmpdir(), 'config-keys-'));
t.teardown(() => rmSync(KEY_DIR, { recursive: true, force: true }));
const [A_KEY, B_KEY, K_KEY, SHORT_KEY] = ['a.key', 'b.key', 'k.key', 'short.key'].map((name) => join(KEY_DIR, name));
for (const file of [A_KEY, B_KEY, K_KEY]) writeFileSync(file, Buffer.alloc(48, 7));
writeFileSync(SHORT_KEY, Buffer.alloc(80, 7));

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

t.test('an option overrides its variable, which overrides the default', async (t) => {
  const env: Record<string, string> = {
    TLS_CACHE_SIZE: '1MiB',
    TLS_CACHE_MAX_SESSION_SIZE: '4KiB',
    TLS_CACHE_SESSION_TIMEOUT: '1h',
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
    TLS_CACHE_LOG_FORMAT: 'JSON',
    TLS_CACHE_OWNER_TIMEOUT: '20ms',
    TLS_CACHE_LOCAL_SIZE: '256KiB',
    TLS_CACHE_REDIS_URL: 'redis://127.0.0.1:26379, redis://127.0.0.2:26379',
    // The option below is the same mode: the sentinel settings need it, whichever wins.
    TLS_CACHE_REDIS_MODE: ' Sentinel ',
    TLS_CACHE_REDIS_SENTINEL_NAME: 'shop-master',
    TLS_CACHE_REDIS_SENTINEL_PASSWORD: 'sentinel password',
    TLS_CACHE_REDIS_TIMEOUT: '50ms',
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_REDIS_SECRET_PREVIOUS: `${SECRET}-before`,
    TLS_CACHE_REDIS_NAMESPACE: 'shop:eu',
    TLS_CACHE_SOCKET: '/run/shop/cache.sock',
    TLS_CACHE_DAEMON_IDLE_TIMEOUT: '1h',
  };
  const fromEnv: CacheConfig = {
    size: MiB,
    maxSessionSize: 4096,
    sessionTimeout: 3600,
    sweepInterval: 1000,
    workers: 3,
    shutdownTimeout: 60_000,
    restartDelay: 1000,
    maxRestartDelay: 60_000,
    logLevel: 'warn',
    logFormat: 'json',
    statsInterval: 300_000,
    tickets: 'off',
    ticketRotate: 600_000,
    ticketKeyFile: `${A_KEY},${B_KEY}`,
    metricsPort: 9464,
    metricsHost: '0.0.0.0',
    summaryInterval: 30_000,
    sessionIdContext: 'shop',
    ownerTimeout: 20,
    socket: '/run/shop/cache.sock',
    daemonIdleTimeout: 3_600_000,
    localSize: 256 * KiB,
    redisUrl: 'redis://127.0.0.1:26379,redis://127.0.0.2:26379',
    redisMode: 'sentinel',
    redisSentinelName: 'shop-master',
    redisSentinelPassword: 'sentinel password',
    redisTimeout: 50,
    redisSecret: SECRET,
    redisSecretPrevious: `${SECRET}-before`,
    redisNamespace: 'shop:eu',
  };
  t.same(loadConfig({}, env), fromEnv, 'every variable is read');
  const options: CacheConfig = {
    size: 2 * MiB,
    maxSessionSize: 2048,
    sessionTimeout: 60,
    sweepInterval: 0,
    workers: 5,
    shutdownTimeout: 0,
    restartDelay: 50,
    maxRestartDelay: 5000,
    logLevel: 'error',
    logFormat: 'pretty',
    statsInterval: 0,
    tickets: 'on',
    ticketRotate: 60_000,
    ticketKeyFile: K_KEY,
    metricsPort: 9100,
    metricsHost: '::1',
    summaryInterval: 0,
    sessionIdContext: 'other',
    ownerTimeout: 1,
    socket: '/run/other/cache.sock',
    daemonIdleTimeout: 0,
    localSize: 0,
    redisUrl: 'rediss://:pw@redis.internal:6380/2',
    redisMode: 'sentinel',
    redisSentinelName: 'other-master',
    redisSentinelPassword: 'another sentinel password',
    redisTimeout: 1000,
    redisSecret: `${SECRET}-longer`,
    redisSecretPrevious: `${SECRET}-before-that`,
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
  t.equal(loadConfig({ sessionTimeout: 60 }, {}).sessionTimeout, 60, 'sessionTimeout is in seconds');
  t.equal(loadConfig({ sweepInterval: 60 }, {}).sweepInterval, 60, 'durations are in milliseconds');
  t.equal(loadConfig({ size: 65536 }, {}).size, 65536, 'sizes are in bytes');
  const strings = {
    size: '64MiB',
    maxSessionSize: '16KiB',
    sessionTimeout: '1h',
    sweepInterval: '30s',
    workers: '7',
    shutdownTimeout: '5s',
    restartDelay: '250ms',
    maxRestartDelay: '1m',
    logLevel: 'TRACE',
    logFormat: 'Pretty',
    statsInterval: '0',
    tickets: 'OFF',
    ticketRotate: '2m',
    ticketKeyFile: A_KEY,
    metricsPort: '8080',
    metricsHost: 'localhost',
    summaryInterval: '10s',
    sessionIdContext: ' ctx ',
    ownerTimeout: '10ms',
    socket: ' /run/app/cache.sock ',
    daemonIdleTimeout: '5m',
    localSize: '2MiB',
    redisUrl: 'redis://localhost:7000 , redis://localhost:7001',
    redisMode: 'Cluster',
    redisTimeout: '1s',
    redisSecret: SECRET,
    redisSecretPrevious: `${SECRET}-old`,
    redisNamespace: 'ns',
  };
  t.same(loadConfig(strings as unknown as Partial<CacheConfig>, {}), {
    size: 64 * MiB,
    maxSessionSize: 16 * KiB,
    sessionTimeout: 3600,
    sweepInterval: 30_000,
    workers: 7,
    shutdownTimeout: 5000,
    restartDelay: 250,
    maxRestartDelay: 60_000,
    logLevel: 'trace',
    logFormat: 'pretty',
    statsInterval: 0,
    tickets: 'off',
    ticketRotate: 120_000,
    ticketKeyFile: A_KEY,
    metricsPort: 8080,
    metricsHost: 'localhost',
    summaryInterval: 10_000,
    sessionIdContext: 'ctx',
    ownerTimeout: 10,
    socket: '/run/app/cache.sock',
    daemonIdleTimeout: 300_000,
    localSize: 2 * MiB,
    redisUrl: 'redis://localhost:7000,redis://localhost:7001',
    redisMode: 'cluster',
    redisSentinelName: 'mymaster',
    redisSentinelPassword: '',
    redisTimeout: 1000,
    redisSecret: SECRET,
    redisSecretPrevious: `${SECRET}-old`,
    redisNamespace: 'ns',
  });
});

t.test('bad option strings throw InvalidOptionError with the form', async (t) => {
  rejectsOption(t, { size: '64 potatoes' }, 'size', '"64 potatoes" is not a size', `${SIZE_FORM} 64MiB`);
  rejectsOption(t, { sessionTimeout: '1500ms' }, 'sessionTimeout', 'is not a whole number of seconds');
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
  rejectsOption(t, { sessionTimeout: null }, 'sessionTimeout', 'expected a number of seconds or a string such as "300", got null');
  rejectsOption(t, { workers: [4] }, 'workers', 'got an array');
  rejectsOption(t, { logLevel: 30 }, 'logLevel', 'expected a string, one of fatal, error', 'got number');
  rejectsOption(t, { size: 12.5 }, 'size', '12.5 is not a whole number of bytes');
  rejectsOption(t, { size: NaN }, 'size', 'NaN is not a whole number of bytes');
  rejectsOption(t, { size: Infinity }, 'size', 'Infinity is not a whole number of bytes');
  rejectsOption(t, { sessionTimeout: 1.5 }, 'sessionTimeout', '1.5 is not a whole number of seconds');
  rejectsOption(t, { sweepInterval: 0.5 }, 'sweepInterval', '0.5 is not a whole number of milliseconds');
  rejectsOption(t, { workers: 2.5 }, 'workers', '2.5 is not an integer');
  rejectsOption(t, { size: 1 }, 'size', '1 is out of range; expected a number of bytes from 65536 to 2147483648 (64KiB to 2GiB)');
  rejectsOption(t, { maxSessionSize: 0 }, 'maxSessionSize', 'from 1 to 65536 (1B to 64KiB)');
  rejectsOption(t, { sessionTimeout: 0 }, 'sessionTimeout', 'expected a number of seconds from 1 to 604800 (1s to 7d)');
  rejectsOption(t, { sessionTimeout: 604_801 }, 'sessionTimeout', 'out of range');
  rejectsOption(t, { sessionTimeout: -0 }, 'sessionTimeout', 'out of range');
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
  rejectsOption(t, { potato: 1 }, 'potato', 'unknown option; the options are size, maxSessionSize,', 'statsInterval');
  // One edit away is a slip, as for a variable (config-unknown.ts) and the command line's options (cli.ts).
  rejectsOption(t, { sise: 1 }, 'sise', 'unknown option (did you mean "size"?); the options are size, maxSessionSize,', 'statsInterval');
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

t.test('ticket settings', async (t) => {
  t.equal(loadConfig({}, { TLS_CACHE_SESSION_TIMEOUT: '1h' }).ticketRotate, 3_600_000, 'the rotation defaults to the timeout');
  t.equal(loadConfig({ sessionTimeout: 5 }, {}).ticketRotate, 5000);
  t.equal(loadConfig({}, { TLS_CACHE_TICKET_ROTATE: '1s', TLS_CACHE_SESSION_TIMEOUT: '5s' }).ticketRotate, 1000);
  t.equal(loadConfig({}, { TLS_CACHE_TICKETS: ' Off ' }).tickets, 'off');
  rejectsEnv(t, { TLS_CACHE_TICKETS: 'maybe' }, 'TLS_CACHE_TICKETS', 'is not on or off', 'expected on or off');
  rejectsEnv(t, { TLS_CACHE_TICKET_ROTATE: 'soon' }, 'TLS_CACHE_TICKET_ROTATE', 'is not a duration');
  rejectsEnv(t, { TLS_CACHE_TICKET_ROTATE: '500ms' }, 'TLS_CACHE_TICKET_ROTATE', 'out of range');
  rejectsEnv(t, { TLS_CACHE_TICKET_ROTATE: '1s', TLS_CACHE_SESSION_TIMEOUT: '1h' }, 'TLS_CACHE_TICKET_ROTATE',
    'rotates more than 62 times per session timeout (1h); expected at least 58065ms');
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: `${A_KEY},,${B_KEY}` }, 'TLS_CACHE_TICKET_KEY_FILE', 'holds an empty path');
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: '/nonexistent/a.key' }, 'TLS_CACHE_TICKET_KEY_FILE',
    'names "/nonexistent/a.key", which cannot be read (ENOENT)', 'expected paths of 48-byte ticket key files');
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: `${A_KEY},${SHORT_KEY}` }, 'TLS_CACHE_TICKET_KEY_FILE',
    "which is 80 bytes, not 48; nginx's 80-byte AES-256 keys are not supported");
  rejectsEnv(t, { TLS_CACHE_TICKET_KEY_FILE: KEY_DIR }, 'TLS_CACHE_TICKET_KEY_FILE', 'which is not a file');
  t.equal(loadConfig({}, { TLS_CACHE_TICKET_KEY_FILE: ` ${A_KEY} ,${B_KEY}` }).ticketKeyFile, `${A_KEY},${B_KEY}`);
  rejectsOption(t, { tickets: true }, 'tickets', 'expected a string, on or off, got boolean');
  rejectsOption(t, { ticketRotate: 1000, sessionTimeout: 3600 }, 'ticketRotate', 'rotates more than 62 times');
});
