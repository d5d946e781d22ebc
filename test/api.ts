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

t.test('the deprecated names of the worker-thread runtime are the new functions', async (t) => {
  t.equal(api.runCluster, api.runThreadCluster);
  t.equal(api.startCluster, api.startThreadCluster);
});
