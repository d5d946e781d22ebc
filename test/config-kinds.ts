/**
 * How each kind of setting reads its text (sizes, durations, seconds,
 * integers, levels, names), through the variables that take it, and
 * parseSize, parseDuration, formatSize and formatDuration themselves.
 */
import t from 'tap';
import { formatDuration, formatSize, parseDuration, parseSize } from '../lib/config/kinds.ts';
import { loadConfig } from '../lib/config/load.ts';
import { DAY_MS, DURATION_FORM, DURATION_UNITS, GiB, KiB, MiB, SIZE_FORM, accepts, rejectsEnv, thrown } from './helpers/config.ts';

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

t.test('TLS_CACHE_SESSION_TIMEOUT', async (t) => {
  accepts(t, 'TLS_CACHE_SESSION_TIMEOUT', 'sessionTimeout', [
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
    rejectsEnv(t, { TLS_CACHE_SESSION_TIMEOUT: '1500ms' }, 'TLS_CACHE_SESSION_TIMEOUT', 'is not a whole number of seconds',
      "Node's TLS session timeout", form, DURATION_UNITS);
    rejectsEnv(t, { TLS_CACHE_SESSION_TIMEOUT: '0.5' }, 'TLS_CACHE_SESSION_TIMEOUT', 'is not a whole number of seconds', form);
    rejectsEnv(t, { TLS_CACHE_SESSION_TIMEOUT: '1.0001s' }, 'TLS_CACHE_SESSION_TIMEOUT', 'is not a whole number of', form);
  });
  for (const bad of ['5 minutes', '5M', '5S', '-5', 'Infinity', '1e3', 'forever', '5m30s', '1w']) {
    rejectsEnv(t, { TLS_CACHE_SESSION_TIMEOUT: bad }, 'TLS_CACHE_SESSION_TIMEOUT', 'is not a duration', form, DURATION_UNITS);
  }
  for (const bad of ['0', '0s', '8d', '604801']) {
    rejectsEnv(t, { TLS_CACHE_SESSION_TIMEOUT: bad }, 'TLS_CACHE_SESSION_TIMEOUT', 'is out of range',
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

t.test('TLS_CACHE_LOG_FORMAT', async (t) => {
  accepts(t, 'TLS_CACHE_LOG_FORMAT', 'logFormat', [
    ['auto', 'auto'],
    ['json', 'json'],
    ['pretty', 'pretty'],
    [' Pretty ', 'pretty'],
    ['JSON', 'json'],
  ]);
  const form = 'expected one of auto, json or pretty';
  for (const bad of ['text', 'colour', 'pino-pretty', ' ', 'json,pretty']) {
    rejectsEnv(t, { TLS_CACHE_LOG_FORMAT: bad }, 'TLS_CACHE_LOG_FORMAT', 'is not a log format', form);
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

t.test('TLS_CACHE_SESSION_ID_CONTEXT and TLS_CACHE_REDIS_NAMESPACE', async (t) => {
  for (const variable of ['TLS_CACHE_SESSION_ID_CONTEXT', 'TLS_CACHE_REDIS_NAMESPACE']) {
    const option = variable === 'TLS_CACHE_SESSION_ID_CONTEXT' ? 'sessionIdContext' : 'redisNamespace';
    accepts(t, variable, option, [['a', 'a'], ['x'.repeat(32), 'x'.repeat(32)], ['shop:eu-1', 'shop:eu-1']]);
    for (const bad of ['x'.repeat(33), 'two words', 'caf\u00e9']) {
      rejectsEnv(t, { [variable]: bad }, variable, 'is not 1 to 32 printable ASCII characters without spaces');
    }
  }
});

t.test('TLS_CACHE_OWNER_TIMEOUT, TLS_CACHE_REDIS_TIMEOUT and TLS_CACHE_LOCAL_SIZE', async (t) => {
  accepts(t, 'TLS_CACHE_OWNER_TIMEOUT', 'ownerTimeout', [['1ms', 1], ['10s', 10_000], ['0.25', 250]]);
  accepts(t, 'TLS_CACHE_REDIS_TIMEOUT', 'redisTimeout', [['3ms', 3], ['2s', 2000]]);
  accepts(t, 'TLS_CACHE_LOCAL_SIZE', 'localSize', [['0', 0], ['64KiB', 64 * KiB], ['256MiB', 256 * MiB]]);
  for (const variable of ['TLS_CACHE_OWNER_TIMEOUT', 'TLS_CACHE_REDIS_TIMEOUT']) {
    rejectsEnv(t, { [variable]: '0' }, variable, 'is out of range');
    rejectsEnv(t, { [variable]: '11s' }, variable, 'is out of range');
    rejectsEnv(t, { [variable]: 'soon' }, variable, 'is not a duration');
  }
  rejectsEnv(t, { TLS_CACHE_LOCAL_SIZE: '1GiB' }, 'TLS_CACHE_LOCAL_SIZE', 'is out of range');
});
