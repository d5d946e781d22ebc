/** The README documents every setting, with the defaults the code uses. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { SETTINGS } from '../lib/config/settings.ts';
import { settingsTable } from '../lib/config/settings-table.ts';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

t.test('the README holds every row of the settings table, as the code renders it', async (t) => {
  for (const row of settingsTable().split('\n').slice(2)) t.ok(readme.includes(row), row.slice(0, 40));
  t.equal(SETTINGS.length, settingsTable().split('\n').length - 2);
  const documented = readme.split('\n').filter((line) => line.startsWith('| `TLS_CACHE_') && !line.includes('(example only)'));
  t.equal(documented.length, SETTINGS.length, 'one row per setting, none twice (one table)');
});

t.test('the README documents the example\'s own variables', async (t) => {
  const example = readFileSync(new URL('../examples/https-server.ts', import.meta.url), 'utf8')
    + readFileSync(new URL('../examples/certificate.ts', import.meta.url), 'utf8');
  const used = new Set([...example.matchAll(/\b(PORT|TLS_CACHE_[A-Z_]+)\b/g)].map((m) => m[1]));
  t.ok(used.size >= 3);
  for (const name of used) t.match(readme, new RegExp(`\\| \`${name}\` \\|`), name);
});

t.test('the README documents the variables the library reads besides its settings', async (t) => {
  const hugePages = readFileSync(new URL('../lib/table/huge-pages.ts', import.meta.url), 'utf8');
  t.match(hugePages, /env\.GLIBC_TUNABLES/, 'lib/table/huge-pages.ts reads GLIBC_TUNABLES');
  t.match(readme, /^\| `GLIBC_TUNABLES` \| \(read by glibc\) \|/m, 'a row in the one table');
});

t.test('the README\'s commands are the package scripts', async (t) => {
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts;
  t.match(readme, /npm install && npm start/);
  t.ok(scripts.start && scripts.test && scripts['bench:table']);
  const ci = readFileSync(new URL('../.ci/run', import.meta.url), 'utf8');
  t.match(ci, /^npm test$/m, '.ci/run runs the README\'s test command');
});
