/**
 * The main entry is a small API, and every value of it is documented
 * (issue 22): at most 30 values, each with a section of `docs/api.md`
 * (a level-3 heading starting with its name), and no section for a value
 * that is not exported. The deprecated names are the new ones.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import * as api from '../lib/index.ts';

const page = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
/** `### \`name(...)\`` or `### \`name\``: the names the page has a section for. */
const sections = [...page.matchAll(/^### `([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]!);
const values = Object.keys(api).sort();

t.test('the main entry exports at most 30 values', async (t) => {
  t.ok(values.length <= 30, `${values.length} values: ${values.join(', ')}`);
  t.ok(values.includes('runThreadCluster') && values.includes('startClusterCache') && values.includes('errors'), 'the runtimes and the errors among them');
});

t.test('every exported value has its section in docs/api.md, and every section is of an exported value', async (t) => {
  t.same(values.filter((name) => !sections.includes(name)), [], 'no value without a section');
  t.same([...new Set(sections)].filter((name) => !values.includes(name)).sort(), [], 'no section of a value that is not exported');
});

t.test('errors: every error class, each with its stable code, is under one namespace', async (t) => {
  const classes = Object.entries(api.errors);
  t.ok(classes.length >= 20, `${classes.length} error classes`);
  for (const [name, value] of classes) {
    t.ok(value === api.errors.TlsCacheError || value.prototype instanceof api.errors.TlsCacheError, `${name} is a TlsCacheError`);
    t.match(page, name, `${name} is named in docs/api.md`);
  }
});

t.test('the deprecated names of the worker-thread runtime call the new functions, each warning once with its code', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  // Bad options: each function refuses them before starting anything, the new name and the old alike.
  const refused = { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'options' };
  await t.rejects(api.startThreadCluster(null as never), refused);
  await t.rejects(api.startCluster(null as never), refused, 'startCluster() is startThreadCluster()');
  await t.rejects(api.startCluster(null as never), refused);
  // runCluster() says why it could not start on standard error and sets the exit code, as runThreadCluster() does.
  const write = process.stderr.write;
  const written: string[] = [];
  process.stderr.write = ((text: string) => written.push(String(text)) > 0) as typeof process.stderr.write;
  try {
    t.equal(await api.runCluster(null as never), undefined, 'runCluster() is runThreadCluster()');
    await api.runCluster(null as never);
  } finally {
    process.stderr.write = write;
    process.exitCode = 0;
  }
  t.match(written.join(''), /could not start: ERR_TLS_CACHE_INVALID_OPTION/);
  await new Promise((resolve) => setImmediate(resolve));
  const deprecations = warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => [(w as { code?: string }).code, w.message]);
  t.same(deprecations, [
    ['TLS_CACHE_DEP002', 'startCluster() is deprecated and goes in 0.3: call startThreadCluster(), the same function under its new name'],
    ['TLS_CACHE_DEP001', 'runCluster() is deprecated and goes in 0.3: call runThreadCluster(), the same function under its new name'],
  ], 'one warning per name, at its first call');
  t.match(page, 'TLS_CACHE_DEP001');
  t.match(page, 'TLS_CACHE_DEP002');
});

t.test('the deprecated names of the attach that works in every runtime call the new functions, each warning once with its code', async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const env = { TLS_CACHE_SESSION_TIMEOUT: '2m', TLS_CACHE_SESSION_ID_CONTEXT: 'shop' };
  t.same(api.clusterServerOptions(env), api.sharedCacheServerOptions(env), 'clusterServerOptions() is sharedCacheServerOptions()');
  t.same(api.clusterServerOptions(env), { sessionTimeout: 120, sessionIdContext: 'shop' });
  // Not a tls.Server: each refuses it before attaching anything, the new name and the old alike.
  const refused = { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'server' };
  await t.rejects(api.attachSharedCache({} as never), refused);
  await t.rejects(api.attachClusterCache({} as never), refused, 'attachClusterCache() is attachSharedCache()');
  await t.rejects(api.attachClusterCache({} as never), refused);
  await new Promise((resolve) => setImmediate(resolve));
  const deprecations = warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => [(w as { code?: string }).code, w.message]);
  t.same(deprecations, [
    ['TLS_CACHE_DEP006', 'clusterServerOptions() is deprecated and goes in 0.3: call sharedCacheServerOptions(), the same function under its new name'],
    ['TLS_CACHE_DEP005', 'attachClusterCache() is deprecated and goes in 0.3: call attachSharedCache(), the same function under its new name'],
  ], 'one warning per name, at its first call');
  t.match(page, 'TLS_CACHE_DEP005');
  t.match(page, 'TLS_CACHE_DEP006');
});
