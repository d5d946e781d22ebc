/**
 * unknownSettings: `TLS_CACHE_*` variables that no setting reads, each with
 * the closest setting's variable, and never a value.
 */
import t from 'tap';
import { SETTINGS } from '../lib/config/settings.ts';
import { unknownSettingMessage, unknownSettings, warnOfUnknownSettings } from '../lib/config/unknown-settings.ts';

/** A value that must never show: it looks like what a misspelt secret variable would hold. */
const SECRET_VALUE = 'hunter2-0123456789abcdef0123456789abcdef';

t.test('misspellings are reported with the closest setting', async (t) => {
  const cases: Array<[string, string]> = [
    ['TLS_CACHE_WORKER', 'TLS_CACHE_WORKERS'],
    ['TLS_CACHE_TIMOUT', 'TLS_CACHE_SESSION_TIMEOUT'],
    ['TLS_CACHE_LOGLEVEL', 'TLS_CACHE_LOG_LEVEL'],
    ['TLS_CACHE_METRIC_PORT', 'TLS_CACHE_METRICS_PORT'],
    ['TLS_CACHE_TICKET_KEY_FILES', 'TLS_CACHE_TICKET_KEY_FILE'],
    ['TLS_CACHE_REDIS_SECRETS', 'TLS_CACHE_REDIS_SECRET'],
    ['TLS_CACHE_REDIS_URI', 'TLS_CACHE_REDIS_URL'],
    ['TLS_CACHE_MAX_SESSIONSIZE', 'TLS_CACHE_MAX_SESSION_SIZE'],
    ['TLS_CACHE_SHUTDOWN_TIMEOUT_MS', 'TLS_CACHE_SHUTDOWN_TIMEOUT'],
    ['TLS_CACHE_SIZ', 'TLS_CACHE_SIZE'],
    ['TLS_CACHE_workers', 'TLS_CACHE_WORKERS'],
    // A name without its group: the one setting it ends, not a near spelling of another (SECRET is two edits from SOCKET).
    ['TLS_CACHE_SECRET', 'TLS_CACHE_REDIS_SECRET'],
    ['TLS_CACHE_NAMESPACE', 'TLS_CACHE_REDIS_NAMESPACE'],
  ];
  for (const [variable, suggestion] of cases) {
    t.same(unknownSettings({ [variable]: '4' }), [{ variable, suggestion }], `${variable}: did you mean ${suggestion}?`);
  }
});

t.test('a variable that nothing is close to has no suggestion', async (t) => {
  for (const variable of ['TLS_CACHE_FOO', 'TLS_CACHE_CERT', 'TLS_CACHE_KEY', 'TLS_CACHE_REDIS_PASSWORD', 'TLS_CACHE_', 'TLS_CACHE_X']) {
    const found = unknownSettings({ [variable]: 'x' });
    t.same(found, [{ variable, suggestion: undefined }], `${variable}: no suggestion`);
    t.equal(unknownSettingMessage(found[0]), `unknown variable ${variable} ignored; no setting has a similar name`);
  }
  t.equal(
    unknownSettingMessage({ variable: 'TLS_CACHE_WORKER', suggestion: 'TLS_CACHE_WORKERS' }),
    'unknown variable TLS_CACHE_WORKER ignored; did you mean TLS_CACHE_WORKERS?',
  );
});

t.test('known variables, and variables of other prefixes, are not reported', async (t) => {
  const known = Object.fromEntries(SETTINGS.map((s) => [s.env, 'x']));
  t.same(unknownSettings(known), [], 'every setting');
  t.same(unknownSettings({}), [], 'an empty environment');
  t.same(unknownSettings({ PATH: '/bin', TLS_CACHE: '1', TLS_CACH_SIZE: '1', tls_cache_workers: '4', XTLS_CACHE_SIZE: '1' }), [],
    'only names that start with TLS_CACHE_ exactly');
  const env = { ...known, TLS_CACHE_WORKER: '2', HOME: '/root', TLS_CACHE_SIZ: '1MiB' };
  t.same(unknownSettings(env).map((u) => u.variable), ['TLS_CACHE_WORKER', 'TLS_CACHE_SIZ'], 'only the unknown ones, in order');
});

t.test('application variables are not reported', async (t) => {
  const env = { TLS_CACHE_CERT: '/etc/cert.pem', TLS_CACHE_KEY: '/etc/key.pem', TLS_CACHE_WORKER: '2' };
  t.same(unknownSettings(env, ['TLS_CACHE_CERT', 'TLS_CACHE_KEY']).map((u) => u.variable), ['TLS_CACHE_WORKER']);
  t.same(unknownSettings(env).map((u) => u.variable), ['TLS_CACHE_CERT', 'TLS_CACHE_KEY', 'TLS_CACHE_WORKER'], 'unless named');
  for (const bad of ['TLS_CACHE_CERT', [42], null]) {
    t.throws(() => unknownSettings(env, bad as never), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'applicationVariables' },
      `applicationVariables ${JSON.stringify(bad)}`);
  }
  t.throws(() => unknownSettings(null as never), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'env' });
});

t.test('values never reach the result, the message or the log', async (t) => {
  const env = { TLS_CACHE_REDIS_SECRE: SECRET_VALUE, TLS_CACHE_REDIS_ULR: `redis://:${SECRET_VALUE}@h`, TLS_CACHE_NOPE: SECRET_VALUE };
  const found = unknownSettings(env);
  t.equal(found.length, 3);
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => void lines.push({ fields, message }) };
  t.same(warnOfUnknownSettings(logger as never, env), found, 'returns what it warned of');
  t.equal(lines.length, 3, 'one warning per variable');
  t.same(lines[0].fields, { variable: 'TLS_CACHE_REDIS_SECRE', suggestion: 'TLS_CACHE_REDIS_SECRET' });
  t.equal(lines[0].message, 'unknown variable TLS_CACHE_REDIS_SECRE ignored; did you mean TLS_CACHE_REDIS_SECRET?');
  const text = JSON.stringify({ found, lines, messages: found.map(unknownSettingMessage) });
  t.notOk(text.includes('hunter2'), 'no value anywhere');
  for (const [variable] of Object.entries(env)) t.ok(text.includes(variable), `${variable} is named`);
});

t.test('TLS_CACHE_REDIS_SECRET without TLS_CACHE_REDIS_URL: a warning naming both, never the value', async (t) => {
  const lines: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const logger = { warn: (fields: Record<string, unknown>, message: string) => void lines.push({ fields, message }) };
  t.same(warnOfUnknownSettings(logger as never, { TLS_CACHE_REDIS_SECRET: SECRET_VALUE }), [], 'not an unknown variable');
  t.equal(lines.length, 1);
  t.same(lines[0].fields, { variable: 'TLS_CACHE_REDIS_SECRET', needs: 'TLS_CACHE_REDIS_URL' });
  t.match(lines[0].message, /^TLS_CACHE_REDIS_SECRET is set and TLS_CACHE_REDIS_URL is not: the secret is not used/);
  t.notOk(JSON.stringify(lines).includes('hunter2'), 'no value');
  lines.length = 0;
  warnOfUnknownSettings(logger as never, { TLS_CACHE_REDIS_SECRET: SECRET_VALUE, TLS_CACHE_REDIS_URL: 'redis://h' });
  t.same(lines, [], 'with the URL: nothing');
});

t.test('reads process.env when no env is given', async (t) => {
  process.env.TLS_CACHE_WORKER = '2';
  t.teardown(() => delete process.env.TLS_CACHE_WORKER);
  t.ok(unknownSettings().some((u) => u.variable === 'TLS_CACHE_WORKER' && u.suggestion === 'TLS_CACHE_WORKERS'));
});

t.test('one "did you mean": simplified names, Levenshtein distance, a third of the length or 2 edits', async (t) => {
  const { nearestName } = await import('../lib/config/did-you-mean.ts');
  t.equal(nearestName('TIMOUT', ['SIZE', 'TIMEOUT']), 'TIMEOUT');
  t.equal(nearestName('log-level', ['logLevel', 'logFormat']), 'logLevel', 'case and separators do not count');
  t.equal(nearestName('--prot', ['--port', '--host']), '--port', 'the candidate comes back as given');
  t.equal(nearestName('ab', ['xyz']), undefined, '3 edits from a short name: none');
  t.equal(nearestName('abcdefghijkl', ['abcdefghxxxx']), 'abcdefghxxxx', '4 edits of 12 letters, a third: close enough...');
  t.equal(nearestName('abcdefghijkl', ['abcdefgxxxxx']), undefined, '...5 edits are not');
  t.equal(nearestName('', ['a']), undefined);
  t.equal(nearestName('a', []), undefined);
});
