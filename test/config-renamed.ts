/**
 * Settings renamed in 0.2 (`lib/config/renamed-settings.ts`): the old
 * option and variable are read as the new one, each old name warns once
 * per process with its code, and the old and new names given together
 * with two values are refused, naming both.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadConfig } from '../lib/config/load.ts';
import { moveRenamedVariables, RENAMED_SETTINGS } from '../lib/config/renamed-settings.ts';
import { settingOf } from '../lib/config/settings.ts';
import { unknownSettings } from '../lib/config/unknown-settings.ts';

const warnings: Error[] = [];
const onWarning = (warning: Error): number => warnings.push(warning);
process.on('warning', onWarning);
t.teardown(() => process.off('warning', onWarning));
const deprecations = (): Array<[string | undefined, string]> =>
  warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => [(w as { code?: string }).code, w.message]);

t.test('the old names are read as the new ones, each warning once in a process with its code', async (t) => {
  t.equal(loadConfig({}, { TLS_CACHE_TIMEOUT: '2m' }).sessionTimeout, 120, 'TLS_CACHE_TIMEOUT is TLS_CACHE_SESSION_TIMEOUT');
  t.equal(loadConfig({ timeout: 90 }, {}).sessionTimeout, 90, 'the option timeout is sessionTimeout');
  t.equal(loadConfig({ timeout: '5m' }, {}).ticketRotate, 300_000, 'and the rotation follows it');
  t.equal(loadConfig({ timeout: 90 }, {}).sessionTimeout, 90);
  t.notOk('timeout' in loadConfig({ timeout: 90 }, {}), 'the resolved configuration has the new name only');
  t.equal(loadConfig({ ipcTimeout: '20ms' }, {}).ownerTimeout, 20, 'the option ipcTimeout is ownerTimeout');
  t.equal(loadConfig({}, { TLS_CACHE_IPC_TIMEOUT: '1s' }).ownerTimeout, 1000, 'TLS_CACHE_IPC_TIMEOUT is TLS_CACHE_OWNER_TIMEOUT');
  t.notOk('ipcTimeout' in loadConfig({ ipcTimeout: 20 }, {}));
  await new Promise((resolve) => setImmediate(resolve));
  t.same(deprecations(), [
    ['TLS_CACHE_DEP003', 'the setting timeout (TLS_CACHE_TIMEOUT) is deprecated and goes in 0.3: set sessionTimeout (TLS_CACHE_SESSION_TIMEOUT), the same setting under its new name'],
    ['TLS_CACHE_DEP004', 'the setting ipcTimeout (TLS_CACHE_IPC_TIMEOUT) is deprecated and goes in 0.3: set ownerTimeout (TLS_CACHE_OWNER_TIMEOUT), the same setting under its new name'],
  ], 'one warning per old name, at its first use');
  t.same(loadConfig({}, { TLS_CACHE_SESSION_TIMEOUT: '2m' }).sessionTimeout, 120, 'the new name');
  t.same(loadConfig({ sessionTimeout: 60 }, { TLS_CACHE_TIMEOUT: '2m' }).sessionTimeout, 60, 'an option wins over a variable, under either name');
  t.same(loadConfig({ timeout: 60 }, { TLS_CACHE_SESSION_TIMEOUT: '2m' }).sessionTimeout, 60);
});

t.test('old and new name together: the same value is accepted, two values are refused naming both', async (t) => {
  t.equal(loadConfig({}, { TLS_CACHE_TIMEOUT: '1h', TLS_CACHE_SESSION_TIMEOUT: '3600' }).sessionTimeout, 3600, 'two spellings of one value');
  t.equal(loadConfig({ timeout: '2m', sessionTimeout: 120 }, {}).sessionTimeout, 120);
  t.equal(loadConfig({}, { TLS_CACHE_TIMEOUT: '', TLS_CACHE_SESSION_TIMEOUT: '2m' }).sessionTimeout, 120, 'an empty variable is unset');
  t.throws(() => loadConfig({}, { TLS_CACHE_TIMEOUT: '1h', TLS_CACHE_SESSION_TIMEOUT: '2m' }), {
    code: 'ERR_TLS_CACHE_INVALID_ENV',
    variable: 'TLS_CACHE_SESSION_TIMEOUT',
    message: 'Invalid environment variable TLS_CACHE_SESSION_TIMEOUT: "2m" is set, and its old name TLS_CACHE_TIMEOUT to "1h"; set TLS_CACHE_SESSION_TIMEOUT alone, or both to the same value',
  });
  t.throws(() => loadConfig({ timeout: 60, sessionTimeout: 120 }, {}), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    option: 'sessionTimeout',
    message: 'Invalid option "sessionTimeout": "120" is set, and its old name timeout to "60"; set sessionTimeout alone, or both to the same value',
  });
  t.throws(() => loadConfig({}, { TLS_CACHE_TIMEOUT: 'soon' }), { code: 'ERR_TLS_CACHE_INVALID_ENV', variable: 'TLS_CACHE_TIMEOUT' }, 'a bad old value is named by its own name');
  t.throws(() => loadConfig({ timeout: 0 }, {}), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'timeout' });
  t.throws(() => loadConfig({}, { TLS_CACHE_IPC_TIMEOUT: '5ms', TLS_CACHE_OWNER_TIMEOUT: '20ms' }), {
    code: 'ERR_TLS_CACHE_INVALID_ENV',
    message: 'Invalid environment variable TLS_CACHE_OWNER_TIMEOUT: "20ms" is set, and its old name TLS_CACHE_IPC_TIMEOUT to "5ms"; set TLS_CACHE_OWNER_TIMEOUT alone, or both to the same value',
  });
  t.throws(() => loadConfig({ ipcTimeout: 5, ownerTimeout: '20ms' }, {}), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'ownerTimeout', message: /its old name ipcTimeout/ });
});

t.test('an old variable is known, not reported; a misspelling of one suggests the new name', async (t) => {
  t.same(unknownSettings({ TLS_CACHE_TIMEOUT: '1h', TLS_CACHE_IPC_TIMEOUT: '5ms' }), [], 'TLS_CACHE_TIMEOUT and TLS_CACHE_IPC_TIMEOUT are read');
  t.same(unknownSettings({ TLS_CACHE_IPC_TIMEOT: '5ms' }), [{ variable: 'TLS_CACHE_IPC_TIMEOT', suggestion: 'TLS_CACHE_OWNER_TIMEOUT' }]);
  t.same(unknownSettings({ TLS_CACHE_TIMOUT: '1h' }), [{ variable: 'TLS_CACHE_TIMOUT', suggestion: 'TLS_CACHE_SESSION_TIMEOUT' }]);
  t.throws(() => loadConfig({ timout: 5 } as never, {}), { code: 'ERR_TLS_CACHE_INVALID_OPTION', message: /did you mean "sessionTimeout"\?/ });
});

t.test("a node:cluster primary hands on the new names only (moveRenamedVariables)", async (t) => {
  const env: NodeJS.ProcessEnv = { TLS_CACHE_TIMEOUT: '2m', TLS_CACHE_SIZE: '1MiB', TLS_CACHE_IPC_TIMEOUT: '20ms' };
  moveRenamedVariables(env);
  t.same(env, { TLS_CACHE_SESSION_TIMEOUT: '2m', TLS_CACHE_SIZE: '1MiB', TLS_CACHE_OWNER_TIMEOUT: '20ms' }, 'moved to the new names');
  const both: NodeJS.ProcessEnv = { TLS_CACHE_TIMEOUT: '2m', TLS_CACHE_SESSION_TIMEOUT: '120' };
  moveRenamedVariables(both);
  t.same(both, { TLS_CACHE_SESSION_TIMEOUT: '120' }, 'the new one kept where both were set (loadConfig checked they agree)');
});

t.test('every renamed setting is documented with its code', async (t) => {
  const configuration = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
  const api = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
  for (const renamed of RENAMED_SETTINGS) {
    const row = `| \`${renamed.option}\` | \`${renamed.env}\` | \`${renamed.now}\`, \`${settingOf(renamed.now).env}\``;
    t.ok(configuration.includes(row), `${renamed.env}: a row of configuration.md#renamed-settings`);
    t.match(api, renamed.code, `${renamed.code} in docs/api.md#deprecated-names`);
  }
});
