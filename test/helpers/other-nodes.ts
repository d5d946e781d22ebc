/**
 * The suites of test/other-nodes.txt on every Node.js line that `engines`
 * claims besides the repository's own (`npm test` runs the whole suite on
 * that one first, then this): the floor at its first release line
 * (`^22.12.0` → the registry's `node@22.12`, 22.12.x) and every other line
 * at its latest release (`^26.0.0` → `node@26`).
 *
 * Each Node is installed the way the repository brings its own, from the
 * registry's `node` package, under node_modules/.cache/other-nodes/ (not
 * committed; npm's cache makes a second run quick), and runs tap itself:
 * tap starts every test file, and the tests every program, with
 * `process.execPath`. Its directory also comes first on PATH, for
 * `#!/usr/bin/env node`. Every Node runs even if one fails; the run fails
 * if any suite failed on any of them, naming the Node.
 *
 *   node test/helpers/other-nodes.ts                       every listed suite, every other Node
 *   node test/helpers/other-nodes.ts test/hooks.ts         these files instead of the list
 *   node test/helpers/other-nodes.ts --node=26 [files]     one Node only (a spec of the run: 22.12, 26)
 *   node test/helpers/other-nodes.ts --reporter=tap        any other --option goes to tap
 *
 * (`npm run test:other-nodes -- ...` is the same.)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { claimedNodeLines } from './engines.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LIST = join(ROOT, 'test', 'other-nodes.txt');
const TAP = join(ROOT, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
const CACHE = join(ROOT, 'node_modules', '.cache');

/** The suites of the list: one path a line; `#` starts a comment. */
export function listedSuites(text = readFileSync(LIST, 'utf8')): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '');
}

/** What to install for each line other than this Node's: the lowest at its first minor (`22.12`), the others at their latest (`26`). */
export function otherNodes(ownMajor = Number(process.versions.node.split('.')[0])): string[] {
  return claimedNodeLines().flatMap((line, i) => (line.major === ownMajor ? [] : [i === 0 ? line.floor.split('.').slice(0, 2).join('.') : String(line.major)]));
}

function install(spec: string): string {
  const prefix = join(CACHE, 'other-nodes', spec);
  const installed = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--no-package-lock', '--prefix', prefix, `node@${spec}`], { cwd: ROOT, encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`npm install node@${spec} failed (${installed.status}):\n${installed.stdout}${installed.stderr}`);
  const binary = join(prefix, 'node_modules', '.bin', 'node');
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
  if (!version.startsWith(`v${spec}.`)) throw new Error(`node@${spec} installed ${JSON.stringify(version)} at ${binary}`);
  return binary;
}

function tap(binary: string, args: string[]): Promise<number> {
  const env = {
    ...process.env,
    PATH: `${dirname(binary)}:${process.env.PATH ?? ''}`,
    NODE_COMPILE_CACHE: join(CACHE, 'node-compile-cache'),
    // tap adds --experimental-strip-types on Node 22, where type stripping needs the flag.
    TAP_TYPE_STRIP_ONLY: '1',
  };
  return new Promise((resolve) => {
    const child = spawn(binary, [TAP, ...args], { cwd: ROOT, env, stdio: 'inherit' });
    child.on('error', () => resolve(127));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.filter((arg) => arg.startsWith('--node=')).map((arg) => arg.slice('--node='.length));
  const options = args.filter((arg) => arg.startsWith('--') && !arg.startsWith('--node='));
  const given = args.filter((arg) => !arg.startsWith('--'));
  const files = given.length > 0 ? given : listedSuites();
  const absent = files.filter((file) => !existsSync(join(ROOT, file)));
  if (absent.length > 0) throw new Error(`no such test file: ${absent.join(', ')}${given.length > 0 ? '' : ' (test/other-nodes.txt)'}`);
  const specs = otherNodes().filter((spec) => only.length === 0 || only.includes(spec));
  if (specs.length === 0) throw new Error(`no Node to run on: engines claims ${otherNodes().join(', ')} besides this Node (${process.version})`);

  const results: { node: string; code: number; seconds: number }[] = [];
  for (const spec of specs) {
    let name = `node@${spec}`;
    const started = Date.now();
    let code: number;
    try {
      const binary = install(spec);
      name = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
      console.log(`\n== Node ${name} (node@${spec}): ${files.length} suite${files.length === 1 ? '' : 's'} ==`);
      code = await tap(binary, [...options, ...files]);
    } catch (error) {
      console.error((error as Error).message);
      code = 1;
    }
    results.push({ node: name, code, seconds: Math.round((Date.now() - started) / 1000) });
  }

  console.log('\n== Other Nodes ==');
  for (const { node, code, seconds } of results) console.log(`Node ${node}: ${code === 0 ? 'passed' : `FAILED (exit code ${code})`}, ${seconds} s`);
  const failed = results.filter((result) => result.code !== 0);
  if (failed.length > 0) {
    console.error(`The suites failed on ${failed.map((result) => `Node ${result.node}`).join(' and ')} (the output above the summary says which).`);
    process.exitCode = 1;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
