/**
 * The documentation holds every setting, with the defaults the code uses
 * (the table lives in docs/configuration.md), and the README stays a front
 * page whose commands are the package scripts.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { SETTINGS } from '../lib/config/settings.ts';
import { settingsTable } from './helpers/settings-table.ts';

const read = (path: string): string => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const readme = read('README.md');
/** The one page that holds the settings table. */
const CONFIGURATION = 'docs/configuration.md';
const configuration = read(CONFIGURATION);
const everyDocument = ['README.md', ...readdirSync(new URL('../docs/', import.meta.url)).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The rows of a settings table in a document: lines that start with a `TLS_CACHE_*` variable's cell. */
const settingRows = (markdown: string): string[] =>
  markdown.split('\n').filter((line) => line.startsWith('| `TLS_CACHE_') && !line.includes('(example only)') && !line.includes('(command line only)'));

t.test(`${CONFIGURATION} holds every row of the settings table, as the code renders it`, async (t) => {
  const rows = settingsTable().split('\n').slice(2);
  t.equal(SETTINGS.length, rows.length);
  for (const row of rows) t.ok(configuration.split('\n').includes(row), row.slice(0, 40));
  t.equal(settingRows(configuration).length, SETTINGS.length, 'one row per setting, none twice');
  for (const name of everyDocument.filter((name) => name !== CONFIGURATION)) {
    t.same(settingRows(read(name)), [], `${name} holds no second copy of the table`);
  }
  t.match(readme, /\]\(docs\/configuration\.md\)/, 'the README links the table');
});

t.test(`${CONFIGURATION} documents the example's own variables`, async (t) => {
  const example = read('examples/https-server.ts') + read('examples/certificate.ts');
  const used = new Set([...example.matchAll(/\b(PORT|TLS_CACHE_[A-Z_]+)\b/g)].map((m) => m[1]));
  t.ok(used.size >= 3);
  for (const name of used) t.match(configuration, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name);
});

t.test(`${CONFIGURATION} documents the variables the library reads besides its settings`, async (t) => {
  const hugePages = read('lib/table/huge-pages.ts');
  t.match(hugePages, /env\.GLIBC_TUNABLES/, 'lib/table/huge-pages.ts reads GLIBC_TUNABLES');
  t.match(configuration, /^\| `GLIBC_TUNABLES` \| \(read by glibc\) \|/m, 'a row in the one table');
});

t.test('the README\'s commands are the package scripts', async (t) => {
  const scripts = JSON.parse(read('package.json')).scripts;
  t.match(readme, /npm install && npm start/);
  // The README's test command: the one line of the shell block that follows "Run the tests".
  const testCommand = /Run the tests[\s\S]*?```sh\n(.+)\n```/.exec(readme)?.[1];
  t.equal(testCommand, 'npm test && npm run test:long && npm run test:other-nodes', 'the README gives the test command');
  t.ok(scripts.start && scripts.test && scripts['test:long'] && scripts['test:other-nodes'] && scripts['bench:table']);
  const ci = read('.ci/run');
  t.ok(ci.split('\n').includes(testCommand ?? '-'), '.ci/run runs exactly the README\'s test command');
  const named = new Set(everyDocument.flatMap((name) => [...read(name).matchAll(/\bnpm run ([a-z][a-z0-9:-]*)/g)].map((m) => m[1])));
  t.ok(named.size >= 4, `the docs name ${[...named].join(', ')}`);
  for (const script of named) t.ok(script in scripts, `npm run ${script} is a script of package.json`);
});

t.test('the README is a front page', async (t) => {
  const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0);
  t.ok(lines <= 260, `${lines} lines, at most 260: the reference lives in docs/`);
});

t.test('docs/pm2.md holds the PM2 example as the repository has it (the package ships docs/, not examples/)', async (t) => {
  const pm2 = read('docs/pm2.md');
  for (const file of ['examples/pm2/app.mjs', 'examples/pm2/ecosystem.config.cjs']) {
    t.ok(pm2.includes(`\`\`\`js\n// ${file}\n${read(file)}\`\`\``), `${file}, verbatim`);
  }
  const files = JSON.parse(read('package.json')).files as string[];
  t.notOk(files.some((entry) => entry.startsWith('examples')), 'examples/ is not in the package: the page is where a user finds it');
  t.notMatch(pm2, /\]\(\.\.\/examples\//, 'no link to a directory the package does not ship');
});
