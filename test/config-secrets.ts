/** The Redis URL and secret never reach an error message or a log: errors and redactConfig. */
import t from 'tap';
import { loadConfig } from '../lib/config/load.ts';
import { configForLog, redactConfig, redactUrl } from '../lib/config/redact.ts';
import { InvalidEnvironmentError, InvalidOptionError } from '../lib/errors.ts';
import { SECRET, thrown } from './helpers/config.ts';

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
  const logged = configForLog(config);
  t.notOk(JSON.stringify(logged).includes('hunter2') || JSON.stringify(logged).includes(SECRET), 'configForLog hides them too');
  t.same(logged.redisSecret, '[redacted]');
  t.equal(logged.sessionTimeout, '1h', 'the session timeout in the units a person writes (its option is seconds)');
  t.equal(logged.size, '32MiB');
  t.equal(logged.ownerTimeout, '5ms');
  t.equal(logged.workers, config.workers, 'counts stay numbers');
  t.equal(redactUrl('not a url'), '[redacted]');
});
