/**
 * What the package's server side costs per handshake, counted in
 * instructions (`npm run bench:instructions`): `valgrind --tool=callgrind`
 * counts every instruction the process runs, the same for the same binary
 * and inputs whatever else the machine does, so two trees can be compared
 * on a shared, noisy machine where timings cannot (the load benchmark's CPU
 * seconds vary by 10% between runs there). Each path and tree runs twice,
 * with `--few` and `--many` handshakes (`bench/instructions-handshakes.ts`:
 * in memory, client and server in one process); the difference divided by
 * the difference in handshakes is the cost of one, start-up left out.
 * It includes the client's side, the same for every tree: compare trees,
 * not paths. Repeat a run to see its spread (about 3% seen: V8 compiles in
 * the background, and its tiers differ run to run).
 *
 * Usage: node bench/instructions.ts [--trees DIR,DIR] [--paths tls12-id,tls12-ticket,tls13-once] [--few N] [--many N] [--attach hooks|runtime]
 *   --trees: checkouts of this repository (`git worktree add /tmp/before <commit>`, with node_modules linked); default this one
 *   --attach: `hooks` (default) the session hooks and ticket keys alone; `runtime` all a runtime attaches
 *     (`attachRuntime`: the counters, the missed resumptions' reasons and the session ages at 'secureConnection' too)
 *   --single-threaded: runs Node with V8's `--single-threaded` (no background compilation, no concurrent
 *     garbage collection): runs side by side then count alike; collections V8 times by the clock still
 *     move runs made under another load (docs/benchmarks.md has the figures)
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    trees: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
    paths: { type: 'string', default: 'tls12-id,tls12-ticket,tls13-once' },
    few: { type: 'string', default: '100' },
    many: { type: 'string', default: '600' },
    attach: { type: 'string', default: 'hooks' },
    'single-threaded': { type: 'boolean', default: false },
  },
});
try {
  execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
} catch {
  process.stderr.write('bench/instructions.ts needs valgrind (apt-get install valgrind)\n');
  process.exit(2);
}
if (values.attach !== 'hooks' && values.attach !== 'runtime') {
  process.stderr.write(`--attach takes hooks or runtime, not ${JSON.stringify(values.attach)}\n`);
  process.exit(2);
}
const few = Number(values.few);
const many = Number(values.many);
const child = fileURLToPath(new URL('./instructions-handshakes.ts', import.meta.url));

/** Instructions of one run of the handshakes, as callgrind counts them. */
function instructions(tree: string, path: string, count: number): number {
  const run = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, ...(values['single-threaded'] ? ['--single-threaded'] : []), '--no-warnings', child, tree, path, String(count), values.attach], { encoding: 'utf8' });
  const collected = /Collected : (\d+)/.exec(run.stderr);
  const done = /\{"path".*\}/.exec(run.stdout);
  if (collected === null || done === null) throw new Error(`no count for ${path} in ${tree}: ${run.stderr.slice(-500)}`);
  const { reused } = JSON.parse(done[0]) as { reused: number };
  if (reused !== count) throw new Error(`${path} in ${tree}: ${reused} of ${count} resumed`);
  return Number(collected[1]);
}

const trees = values.trees.split(',');
process.stdout.write(`instructions per resumed handshake (client and server, in memory, attach: ${values.attach}${values['single-threaded'] ? ', V8 single-threaded' : ''}), ${few} and ${many} handshakes\n`);
for (const path of values.paths.split(',')) {
  const row: string[] = [];
  for (const tree of trees) {
    const perHandshake = (instructions(tree, path, many) - instructions(tree, path, few)) / (many - few);
    row.push(`${tree}: ${(perHandshake / 1000).toFixed(0)}k`);
  }
  process.stdout.write(`${path.padEnd(13)} ${row.join('   ')}\n`);
}
