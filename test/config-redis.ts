/**
 * The Redis topology settings (issue 16): `TLS_CACHE_REDIS_MODE`, lists of
 * URLs, `TLS_CACHE_REDIS_SENTINEL_NAME` and `_PASSWORD`,
 * `TLS_CACHE_REDIS_SECRET_PREVIOUS`; every bad combination refused before
 * anything starts, with the coded error naming the variables (never a
 * password or a secret); what ioredis is given for each mode.
 */
import t from 'tap';
import { loadConfig } from '../lib/config/load.ts';
import { redactConfig } from '../lib/config/redact.ts';
import { InvalidEnvironmentError, InvalidOptionError } from '../lib/errors.ts';
import { clientOptions, redisTargetOf } from '../lib/redis/topology.ts';
import { SECRET, thrown } from './helpers/config.ts';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const PASSWORD = 'hunter2-redis';
const SEEDS = `redis://:${PASSWORD}@10.0.0.1:7000,redis://:${PASSWORD}@10.0.0.2:7000, redis://:${PASSWORD}@10.0.0.3:7000`;

/** Asserts that `env` is refused naming `variable`, with each fragment, and without a password or secret in the message. */
function refused(t: Test, env: Record<string, string>, variable: string, ...fragments: string[]): void {
  const err = thrown(() => loadConfig({}, { TLS_CACHE_REDIS_SECRET: SECRET, ...env }));
  if (!(err instanceof InvalidEnvironmentError)) {
    t.fail(`${JSON.stringify(env)} should throw InvalidEnvironmentError, got ${String(err)}`);
    return;
  }
  t.equal(err.code, 'ERR_TLS_CACHE_INVALID_ENV');
  t.equal(err.variable, variable, `names ${variable}: ${err.message}`);
  for (const fragment of fragments) t.ok(err.message.includes(fragment), `says ${JSON.stringify(fragment)}: ${err.message}`);
  for (const secret of [PASSWORD, SECRET, 'sentinel-pw']) t.notOk(err.message.includes(secret), 'no password or secret in the message');
}

t.test('TLS_CACHE_REDIS_MODE: standalone by default, cluster or sentinel', async (t) => {
  t.equal(loadConfig({}, {}).redisMode, 'standalone');
  for (const [text, mode] of [['cluster', 'cluster'], [' Sentinel ', 'sentinel'], ['STANDALONE', 'standalone']]) {
    t.equal(loadConfig({}, { TLS_CACHE_REDIS_MODE: text, TLS_CACHE_REDIS_URL: 'redis://h:1', TLS_CACHE_REDIS_SECRET: SECRET }).redisMode, mode);
  }
  refused(t, { TLS_CACHE_REDIS_MODE: 'replicated', TLS_CACHE_REDIS_URL: 'redis://h' }, 'TLS_CACHE_REDIS_MODE',
    '"replicated" is not a Redis mode; expected one of standalone, cluster or sentinel');
  refused(t, { TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_MODE', 'is set, and TLS_CACHE_REDIS_URL (option redisUrl) is not');
  const option = thrown(() => loadConfig({ redisMode: 'cluster' }, {})) as InvalidOptionError;
  t.ok(option instanceof InvalidOptionError && option.option === 'redisMode', `an option names the option: ${option.message}`);
});

t.test('TLS_CACHE_REDIS_URL: a list of seed nodes or sentinels, one scheme, one set of credentials, one database', async (t) => {
  const cluster = loadConfig({}, { TLS_CACHE_REDIS_URL: SEEDS, TLS_CACHE_REDIS_MODE: 'cluster', TLS_CACHE_REDIS_SECRET: SECRET });
  t.equal(cluster.redisUrl.split(',').length, 3, 'three seeds, spaces trimmed');
  refused(t, { TLS_CACHE_REDIS_URL: SEEDS }, 'TLS_CACHE_REDIS_URL',
    'is a list of 3 URLs, and TLS_CACHE_REDIS_MODE (option redisMode) is standalone', 'cluster', 'sentinel');
  refused(t, { TLS_CACHE_REDIS_URL: `redis://a:1,rediss://b:2`, TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_URL', 'mixes redis:// and rediss://');
  refused(t, { TLS_CACHE_REDIS_URL: `redis://:${PASSWORD}@a:1,redis://:other@b:2`, TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_URL',
    'different user names or passwords');
  refused(t, { TLS_CACHE_REDIS_URL: 'redis://a:1/1,redis://b:2/2', TLS_CACHE_REDIS_MODE: 'sentinel' }, 'TLS_CACHE_REDIS_URL', 'different databases');
  refused(t, { TLS_CACHE_REDIS_URL: `redis://a:1,,redis://b:2`, TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_URL', 'an empty entry (the 2nd)');
  refused(t, { TLS_CACHE_REDIS_URL: `redis://:${PASSWORD}@a:1,${PASSWORD}`, TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_URL',
    'has an entry (the 2nd) that is not a URL');
  refused(t, { TLS_CACHE_REDIS_URL: `redis://a:1,http://b:2`, TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_URL', '(the 2nd) that has the scheme "http:"');
  refused(t, { TLS_CACHE_REDIS_URL: `redis://:${PASSWORD}@a:1/2,redis://:${PASSWORD}@b:2/2`, TLS_CACHE_REDIS_MODE: 'cluster' }, 'TLS_CACHE_REDIS_URL',
    'names a database other than 0, and TLS_CACHE_REDIS_MODE (option redisMode) is cluster');
  t.doesNotThrow(() => loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://a:1/0,redis://b:2/0', TLS_CACHE_REDIS_MODE: 'cluster', TLS_CACHE_REDIS_SECRET: SECRET }), '/0 is database 0');
  t.equal(loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://a:26379/3', TLS_CACHE_REDIS_MODE: 'sentinel', TLS_CACHE_REDIS_SECRET: SECRET }).redisUrl,
    'redis://a:26379/3', "sentinel: the master's database");
  const option = thrown(() => loadConfig({ redisUrl: SEEDS, redisSecret: SECRET }, {})) as InvalidOptionError;
  t.ok(option instanceof InvalidOptionError && option.option === 'redisUrl', `as an option: ${option.message}`);
  t.notOk(option.message.includes(PASSWORD));
});

t.test('the sentinel settings need the sentinel mode; the previous secret needs the secret; the namespace has no brace', async (t) => {
  const sentinel = loadConfig({}, {
    TLS_CACHE_REDIS_URL: 'redis://s1:26379,redis://s2:26379',
    TLS_CACHE_REDIS_MODE: 'sentinel',
    TLS_CACHE_REDIS_SENTINEL_NAME: 'sessions',
    TLS_CACHE_REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
    TLS_CACHE_REDIS_SECRET: SECRET,
  });
  t.same([sentinel.redisSentinelName, sentinel.redisSentinelPassword], ['sessions', 'sentinel-pw']);
  t.equal(loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://s:26379', TLS_CACHE_REDIS_MODE: 'sentinel', TLS_CACHE_REDIS_SECRET: SECRET }).redisSentinelName, 'mymaster');
  refused(t, { TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_SENTINEL_NAME: 'sessions' }, 'TLS_CACHE_REDIS_SENTINEL_NAME',
    'is set, and TLS_CACHE_REDIS_MODE (option redisMode) is standalone, not sentinel', 'TLS_CACHE_REDIS_MODE=sentinel');
  refused(t, { TLS_CACHE_REDIS_URL: SEEDS, TLS_CACHE_REDIS_MODE: 'cluster', TLS_CACHE_REDIS_SENTINEL_PASSWORD: 'sentinel-pw' }, 'TLS_CACHE_REDIS_SENTINEL_PASSWORD',
    'is cluster, not sentinel');
  refused(t, { TLS_CACHE_REDIS_SENTINEL_NAME: 'sessions' }, 'TLS_CACHE_REDIS_SENTINEL_NAME', 'TLS_CACHE_REDIS_URL (option redisUrl) is not');

  const moving = loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_SECRET: SECRET, TLS_CACHE_REDIS_SECRET_PREVIOUS: `${SECRET}-old` });
  t.equal(moving.redisSecretPrevious, `${SECRET}-old`);
  refused(t, { TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_SECRET_PREVIOUS: SECRET }, 'TLS_CACHE_REDIS_SECRET_PREVIOUS',
    'is the same as TLS_CACHE_REDIS_SECRET (option redisSecret)');
  refused(t, { TLS_CACHE_REDIS_SECRET_PREVIOUS: `${SECRET}-old` }, 'TLS_CACHE_REDIS_SECRET_PREVIOUS', 'TLS_CACHE_REDIS_URL (option redisUrl) is not');
  refused(t, { TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_SECRET_PREVIOUS: 'hunter2-short' }, 'TLS_CACHE_REDIS_SECRET_PREVIOUS', 'fewer than 32');
  const noSecret = thrown(() => loadConfig({}, { TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_SECRET_PREVIOUS: `${SECRET}-old` })) as InvalidEnvironmentError;
  t.equal(noSecret.variable, 'TLS_CACHE_REDIS_SECRET', 'a previous secret without a current one: the current one is missing');

  refused(t, { TLS_CACHE_REDIS_NAMESPACE: 'shop{eu}' }, 'TLS_CACHE_REDIS_NAMESPACE', 'holds a brace', 'without { or }', 'hash tags');
  t.equal(loadConfig({}, { TLS_CACHE_REDIS_NAMESPACE: 'shop:eu' }).redisNamespace, 'shop:eu');
});

t.test('redactConfig hides the previous secret, the sentinel password and the password of every URL of a list', async (t) => {
  const config = loadConfig({}, {
    TLS_CACHE_REDIS_URL: `redis://user:${PASSWORD}@s1:26379,redis://user:${PASSWORD}@s2:26379`,
    TLS_CACHE_REDIS_MODE: 'sentinel',
    TLS_CACHE_REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_REDIS_SECRET_PREVIOUS: `${SECRET}-old`,
  });
  const shown = redactConfig(config);
  t.equal(shown.redisUrl, 'redis://***:***@s1:26379,redis://***:***@s2:26379');
  t.equal(shown.redisSentinelPassword, '[redacted]');
  t.equal(shown.redisSecretPrevious, '[redacted]');
  for (const secret of [PASSWORD, 'sentinel-pw', SECRET]) t.notOk(JSON.stringify(shown).includes(secret));
});

t.test('what ioredis is given: fail fast in every mode; seeds, sentinels, credentials, TLS', async (t) => {
  const target = (env: Record<string, string>) => redisTargetOf(loadConfig({}, { TLS_CACHE_REDIS_SECRET: SECRET, ...env }));

  const standalone = clientOptions(target({ TLS_CACHE_REDIS_URL: `rediss://:${PASSWORD}@h:6380/2` }));
  t.equal(standalone.mode, 'standalone');
  t.match(standalone.options, { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2000 });

  const cluster = clientOptions(target({ TLS_CACHE_REDIS_URL: SEEDS.replaceAll('redis://', 'rediss://'), TLS_CACHE_REDIS_MODE: 'cluster' }), { commandTimeout: 2000 });
  if (cluster.mode !== 'cluster') throw new Error('cluster');
  t.same(cluster.nodes, [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7000 }, { host: '10.0.0.3', port: 7000 }], 'seeds as host and port');
  t.match(cluster.options, {
    enableOfflineQueue: false,
    scaleReads: 'master',
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 0,
    slotsRefreshInterval: 1000,
    redisOptions: { password: PASSWORD, tls: {}, commandTimeout: 500, maxRetriesPerRequest: 0 },
  }, 'fails fast; the password and TLS reach every node, not just the seeds');
  t.equal(clientOptions(target({ TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_MODE: 'cluster' })).mode, 'cluster');
  const plain = clientOptions(target({ TLS_CACHE_REDIS_URL: 'redis://h', TLS_CACHE_REDIS_MODE: 'cluster' }));
  t.same(plain.mode === 'cluster' && plain.nodes, [{ host: 'h', port: 6379 }], 'the default port');
  t.notOk(plain.mode === 'cluster' && 'tls' in plain.options.redisOptions!, 'no TLS for redis://');

  const sentinel = clientOptions(target({
    TLS_CACHE_REDIS_URL: `rediss://user:${PASSWORD}@s1/4,rediss://user:${PASSWORD}@s2:26380/4`,
    TLS_CACHE_REDIS_MODE: 'sentinel',
    TLS_CACHE_REDIS_SENTINEL_NAME: 'sessions',
    TLS_CACHE_REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
  }));
  t.match(sentinel.options, {
    sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }],
    name: 'sessions',
    role: 'master',
    username: 'user',
    password: PASSWORD,
    sentinelPassword: 'sentinel-pw',
    db: 4,
    tls: {},
    enableTLSForSentinelMode: true,
    sentinelTLS: {},
    failoverDetector: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
  }, "the sentinels (default port 26379), the master's name, credentials and database, TLS to both, the failover detector");
  const retry = (sentinel.options as { retryStrategy: (times: number) => number }).retryStrategy;
  t.same([1, 2, 5, 50].map(retry), [10, 100, 100, 100], 'reconnects at once after a dropped connection, then every 100 ms until the master is back');
  const noPassword = clientOptions(target({ TLS_CACHE_REDIS_URL: 'redis://s1', TLS_CACHE_REDIS_MODE: 'sentinel' }));
  t.notOk('sentinelPassword' in noPassword.options || 'password' in noPassword.options || 'tls' in noPassword.options, 'nothing set that was not given');
});
