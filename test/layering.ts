/**
 * The layering and unused-code checks of `npm test` (`npm run lint:layers`,
 * dependency-cruiser with `.dependency-cruiser.cjs`; `npm run lint:unused`,
 * knip with `knip.jsonc`) pass on the repository, fail on a deliberate
 * violation naming it, and carry no exception that is no longer needed.
 *
 * Violations are made in a copy of the repository under the system's
 * temporary directory (its `node_modules` a link to the repository's),
 * never in the repository itself; the tools run as `npm test` runs them.
 */
import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The script of a package's command, as its package.json names it (what `npm run` starts). */
function command(name: string, bin: string): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  return join(ROOT, 'node_modules', name, manifest.bin[bin]);
}
const DEPCRUISE = command('dependency-cruiser', 'depcruise');
const KNIP = command('knip', 'knip');

/** What the repository's copy needs for both tools: the sources and their configuration. */
const COPIED = ['lib', 'workers', 'test', 'bench', 'examples', 'package.json', 'tsconfig.json', '.dependency-cruiser.cjs', 'knip.jsonc', '.gitignore'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool's script on this Node in `cwd`; never rejects. */
function run(script: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A copy of the repository's sources under the temporary directory, removed after the test. */
function copyOfRepository(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'tls-resumption-layering-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of COPIED) {
    cpSync(join(ROOT, name), join(dir, name), { recursive: true, filter: (source) => !/[/\\](node_modules|\.tap)([/\\]|$)/.test(source) });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

interface Cruise {
  summary: { violations: Violation[]; error: number };
  modules: Array<{ source: string; dependencies: Array<{ resolved: string; circular: boolean }> }>;
}

/** The arguments `npm run <script>` gives `command` (package.json's scripts are `command arg...`). */
function scriptArguments(script: string, command: string): string[] {
  const [first, ...rest] = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts[script].split(' ');
  if (first !== command) throw new Error(`npm run ${script} does not run ${command}`);
  return rest;
}
const LINT_LAYERS = scriptArguments('lint:layers', 'depcruise');
const LINT_UNUSED = scriptArguments('lint:unused', 'knip');

/** `npm run lint:layers` in `cwd`: its exit code and what it prints, and the same cruise as data. */
async function depcruise(cwd: string): Promise<Run & { cruise: Cruise }> {
  const [lint, json] = await Promise.all([run(DEPCRUISE, LINT_LAYERS, cwd), run(DEPCRUISE, [...LINT_LAYERS, '--output-type', 'json'], cwd)]);
  return { ...lint, cruise: JSON.parse(json.stdout) as Cruise };
}

t.test('dependency-cruiser: the layers hold in the repository', async (t) => {
  const { code, stdout, stderr, cruise } = await depcruise(ROOT);
  t.same(cruise.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`), [], 'no violation');
  t.equal(code, 0, `exits with 0 ${stderr}`);
  t.match(stdout, /no dependency violations found/);

  // Every exception of the configuration is an import of the repository
  // that breaks its rule: one that is gone goes from the list.
  const { exceptions } = createRequire(import.meta.url)(join(ROOT, '.dependency-cruiser.cjs')) as {
    exceptions: Array<{ rule: string; from: string; to: string }>;
  };
  const imports = new Map(cruise.modules.map((m) => [m.source, new Map(m.dependencies.map((d) => [d.resolved, d]))]));
  for (const { rule, from, to } of exceptions) {
    const edge = imports.get(from)?.get(to);
    t.ok(edge, `the exception ${from} -> ${to} (${rule}) is an import of the repository: if it is gone, remove its line from .dependency-cruiser.cjs`);
    if (rule === 'no-circular') t.ok(edge?.circular, `${from} -> ${to} is still part of a cycle: if not, remove its line from .dependency-cruiser.cjs`);
  }
});

t.test('dependency-cruiser: each kind of violation fails, naming its rule and its files', async (t) => {
  const dir = copyOfRepository(t);
  const add = (file: string, line: string): void => appendFileSync(join(dir, file), `\n${line}\n`);
  // A lower layer importing a higher one: the table imports the command line.
  add('lib/table/hash.ts', "import '../cli/help.ts';");
  // The store imports the owner, a layer above it.
  add('lib/store/memory-levels.ts', "import '../owner/frames.ts';");
  // One runtime importing the other.
  add('lib/threads/free-port.ts', "import '../processes/ask-primary.ts';");
  // A new cycle, within one layer.
  add('lib/store/levelled-store.ts', "import './memory-levels.ts';");
  // A cycle between lib/tls and lib/tickets: the ticket callback imports the names' binding, so the binding must not import back.
  add('lib/tls/session-names.ts', "import '../tickets/renewal-self-test.ts';");
  // The package importing the tests.
  add('lib/config/redact.ts', "import '../../test/helpers/until.ts';");
  // A file nothing imports and that imports nothing.
  writeFileSync(join(dir, 'lib/table/orphan.ts'), 'export const ORPHAN = 1;\n');

  const { code, stdout, cruise } = await depcruise(dir);
  t.not(code, 0, 'fails');
  t.match(stdout, /error layer-table-and-config: lib\/table\/hash\.ts → lib\/cli\/help\.ts/, 'says which rule and which import');
  const found = cruise.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
  for (const expected of [
    'layer-table-and-config: lib/table/hash.ts -> lib/cli/help.ts',
    'layer-store: lib/store/memory-levels.ts -> lib/owner/frames.ts',
    'runtimes-apart: lib/threads/free-port.ts -> lib/processes/ask-primary.ts',
    'no-circular: lib/store/levelled-store.ts -> lib/store/memory-levels.ts',
    'not-to-tests-or-bench: lib/config/redact.ts -> test/helpers/until.ts',
    'no-orphans: lib/table/orphan.ts -> lib/table/orphan.ts',
  ]) {
    t.ok(found.includes(expected), expected, { found });
  }
  // dependency-cruiser names a cycle by one of its edges, whichever it meets first.
  const tlsTickets = found.filter((v) => v.startsWith('no-circular: lib/t') && /lib\/(tls|tickets)\/.*-> lib\/(tls|tickets)\//.test(v));
  t.ok(tlsTickets.length > 0, 'no-circular: the new lib/tls <-> lib/tickets cycle', { found });
});

interface KnipReport {
  issues: Array<{ file: string; files: Array<{ name: string }>; exports: Array<{ name: string }>; types: Array<{ name: string }>; dependencies: Array<{ name: string }> }>;
}

/** knip.jsonc as data: its comments are whole lines. */
function knipConfig(text: string): { ignoreIssues?: Record<string, string[]> } & Record<string, unknown> {
  return JSON.parse(text.split('\n').filter((line) => !/^\s*\/\//.test(line)).join('\n'));
}

/** `npm run lint:unused` in `cwd`, reporting as data. */
const knip = (cwd: string): Promise<Run> => run(KNIP, [...LINT_UNUSED, '--reporter', 'json', '--no-progress'], cwd);

t.test('knip: nothing unused in the repository', async (t) => {
  const { code, stdout, stderr } = await knip(ROOT);
  const report = JSON.parse(stdout) as KnipReport;
  t.same(report.issues, [], 'no issue');
  t.equal(code, 0, `exits with 0 ${stderr}`);
});

t.test('knip: an unused export, file or dependency fails; each file it ignores still needs it', async (t) => {
  const dir = copyOfRepository(t);
  appendFileSync(join(dir, 'lib/table/hash.ts'), '\nexport const UNUSED_FOR_THE_TEST = 1;\n');
  writeFileSync(join(dir, 'lib/table/unused.ts'), "import { halfSipHash } from './hash.ts';\nexport const UNUSED = halfSipHash;\n");
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  manifest.dependencies['left-pad'] = '^1.3.0';
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  // Without its exceptions, to see that each one is still needed.
  const config = knipConfig(readFileSync(join(dir, 'knip.jsonc'), 'utf8'));
  const ignored = config.ignoreIssues ?? {};
  writeFileSync(join(dir, 'knip.jsonc'), JSON.stringify({ ...config, ignoreIssues: {} }, null, 2));

  const { code, stdout } = await knip(dir);
  t.not(code, 0, 'fails');
  const report = JSON.parse(stdout) as KnipReport;
  const of = (file: string) => report.issues.find((issue) => issue.file === file);
  t.ok(of('lib/table/hash.ts')?.exports.some((e) => e.name === 'UNUSED_FOR_THE_TEST'), 'names the unused export and its file');
  t.ok(of('lib/table/unused.ts')?.files.some((f) => f.name === 'lib/table/unused.ts'), 'names the unused file');
  t.ok(of('package.json')?.dependencies.some((d) => d.name === 'left-pad'), 'names the unused dependency');
  for (const [file, kinds] of Object.entries(ignored)) {
    for (const kind of kinds as Array<'exports' | 'types'>) {
      const names = of(file)?.[kind].map((e) => e.name) ?? [];
      t.ok(names.length > 0, `${file} still has unused ${kind} (${names.join(', ')}): if not, remove its line from knip.jsonc`);
    }
  }
});
