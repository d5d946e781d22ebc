/** SETTINGS, the declaration of every setting, and the README table rendered from it. */
import t from 'tap';
import { SETTINGS } from '../lib/config/settings.ts';
import { settingsTable } from './helpers/settings-table.ts';
import { loadConfig } from '../lib/config/load.ts';
import { DEFAULTS, SECRET } from './helpers/config.ts';

t.test('SETTINGS', async (t) => {
  t.equal(SETTINGS.length, 30);
  t.same(SETTINGS.map((s) => s.option).sort(), Object.keys(DEFAULTS).sort(), 'one setting per option');
  t.ok(Object.isFrozen(SETTINGS), 'frozen');
  for (const s of SETTINGS) {
    t.ok(Object.isFrozen(s), `${s.option} frozen`);
    const snake = s.option.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
    t.equal(s.env, `TLS_CACHE_${snake}`, `${s.option} has the variable named after it`);
    t.ok(s.description.length > 20, `${s.option} is described`);
    // The Redis settings besides the URL need a URL (and the sentinel ones, the sentinel mode).
    const context: Record<string, string> = s.env.startsWith('TLS_CACHE_REDIS_') && s.env !== 'TLS_CACHE_REDIS_URL'
      ? { TLS_CACHE_REDIS_URL: 'redis://127.0.0.1:26379', TLS_CACHE_REDIS_MODE: 'sentinel', TLS_CACHE_REDIS_SECRET: SECRET }
      : {};
    if (!['workers', 'ticketRotate', 'ticketKeyFile', 'socket', 'redisUrl', 'redisSecret', 'redisSecretPrevious', 'redisSentinelPassword'].includes(s.option)) {
      t.equal(loadConfig({}, { ...context, [s.env]: s.default })[s.option], DEFAULTS[s.option],
        `${s.env}=${s.default} gives the default`);
    }
    for (const example of s.examples) {
      t.doesNotThrow(() => loadConfig({}, { TLS_CACHE_REDIS_SECRET: SECRET, ...context, [s.env]: example, TLS_CACHE_MAX_RESTART_DELAY: '24d' }),
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
    TLS_CACHE_SESSION_TIMEOUT: '1h',
    TLS_CACHE_SWEEP_INTERVAL: '10s',
    TLS_CACHE_WORKERS: 'os.availableParallelism()',
    TLS_CACHE_SHUTDOWN_TIMEOUT: '10s',
    TLS_CACHE_RESTART_DELAY: '100ms',
    TLS_CACHE_MAX_RESTART_DELAY: '10s',
    TLS_CACHE_LOG_LEVEL: 'info',
    TLS_CACHE_LOG_FORMAT: 'auto',
    TLS_CACHE_STATS_INTERVAL: '1m',
    TLS_CACHE_TICKETS: 'on',
    TLS_CACHE_TICKET_ROTATE: 'TLS_CACHE_SESSION_TIMEOUT',
    TLS_CACHE_TICKET_KEY_FILE: 'none',
    TLS_CACHE_METRICS_PORT: '0',
    TLS_CACHE_METRICS_HOST: '127.0.0.1',
    TLS_CACHE_SUMMARY_INTERVAL: '1m',
    TLS_CACHE_SESSION_ID_CONTEXT: 'tls-resumption',
    TLS_CACHE_OWNER_TIMEOUT: '5ms',
    TLS_CACHE_LOCAL_SIZE: '1MiB',
    TLS_CACHE_SOCKET: 'per session ID context',
    TLS_CACHE_DAEMON_IDLE_TIMEOUT: '10m',
    TLS_CACHE_REDIS_URL: 'none',
    TLS_CACHE_REDIS_MODE: 'standalone',
    TLS_CACHE_REDIS_SENTINEL_NAME: 'mymaster',
    TLS_CACHE_REDIS_SENTINEL_PASSWORD: 'none',
    TLS_CACHE_REDIS_TIMEOUT: '5ms',
    TLS_CACHE_REDIS_SECRET: 'none',
    TLS_CACHE_REDIS_SECRET_PREVIOUS: 'none',
    TLS_CACHE_REDIS_NAMESPACE: 'tls-resumption',
  };
  SETTINGS.forEach((s, i) => {
    const row = lines[2 + i];
    t.ok(row.startsWith(`| \`${s.env}\` | \`${s.option}\` | \`${defaults[s.env]}\` | `), `row of ${s.env}: ${row}`);
    t.ok(row.endsWith(' |'), `row of ${s.env} is closed`);
    t.equal(row.split(/(?<!\\)\|/).length, 6, `row of ${s.env} has four cells`);
  });
  t.match(table, /`TLS_CACHE_SIZE`.*A size from 64KiB to 2GiB \(option: bytes\)\./);
  t.match(table, /`TLS_CACHE_SESSION_TIMEOUT`.*from 1s to 7d \(option: seconds\)\./);
  t.match(table, /`TLS_CACHE_WORKERS`.*An integer from 1 to 256\./);
  t.match(table, /`TLS_CACHE_LOG_LEVEL`.*fatal, error, warn, info, debug, trace or silent/);
});
