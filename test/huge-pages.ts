// Transparent huge pages for the table's memory: what is detected, what the primary says, and what a process really gets.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { loadConfig } from '../lib/config/load.ts';
import { GLIBC_HUGE_PAGES, hugePageSupport, hugetlbTunable } from '../lib/table/huge-pages.ts';
import { CachePrimary } from '../lib/runtime/cache-primary.ts';
import { run } from './fixtures/process.ts';

const MiB = 1024 * 1024;

/** The kernel's policy, read here independently of the module under test. */
function kernelPolicy(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
const glibc = typeof (process.report.getReport() as { header?: { glibcVersionRuntime?: unknown } }).header?.glibcVersionRuntime === 'string';

t.test('the glibc.malloc.hugetlb tunable is read out of GLIBC_TUNABLES', async (t) => {
  t.equal(hugetlbTunable(undefined), 0);
  t.equal(hugetlbTunable(''), 0);
  t.equal(hugetlbTunable(GLIBC_HUGE_PAGES), 1);
  t.equal(hugetlbTunable('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1'), 1, 'among others');
  t.equal(hugetlbTunable('glibc.malloc.hugetlb=2'), 2);
  t.equal(hugetlbTunable('glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0'), 0, 'the last one counts, as for glibc');
  t.equal(hugetlbTunable('glibc.malloc.hugetlb=yes'), 0, 'not a number');
  t.equal(hugetlbTunable('xglibc.malloc.hugetlb=1'), 0, 'another name');
});

t.test('support follows the kernel policy and the environment', async (t) => {
  const policy = kernelPolicy();
  const without = hugePageSupport({});
  const with1 = hugePageSupport({ GLIBC_TUNABLES: GLIBC_HUGE_PAGES });
  t.equal(without.policy, policy);
  t.equal(with1.policy, policy);
  if (!glibc) {
    t.equal(without.glibcHugetlb, undefined, 'no glibc, no tunable');
    return;
  }
  t.equal(without.glibcHugetlb, 0);
  t.equal(with1.glibcHugetlb, 1);
  t.equal(without.expected, policy === 'always');
  t.equal(with1.expected, policy === 'always' || policy === 'madvise');
  t.equal(with1.advice, undefined);
  if (policy === 'madvise') t.match(without.advice, /GLIBC_TUNABLES=glibc\.malloc\.hugetlb=1/);
  else t.equal(without.advice, undefined, `nothing to advise under "${policy}"`);
});

const policyHere = kernelPolicy();
const hugePagesPossible = glibc && (policyHere === 'madvise' || policyHere === 'always');
t.test('a process started with the tunable gets its table in huge pages; one without does not', {
  skip: hugePagesPossible ? false : `transparent huge pages are "${policyHere}"${glibc ? '' : ' and the runtime has no glibc'}`,
}, async (t) => {
  const policy = policyHere;
  const fixture = fileURLToPath(new URL('./fixtures/huge-table.ts', import.meta.url));
  const measure = async (env: Record<string, string>) => {
    const child = run(fixture, env);
    t.teardown(() => child.kill());
    t.equal(await child.exited, 0, child.stderr());
    const last = child.logs.at(-1) as { tableBytes: number; hugeBytes: number; support: { expected: boolean } };
    return last;
  };
  const advised = await measure({ GLIBC_TUNABLES: GLIBC_HUGE_PAGES });
  t.ok(advised.support.expected, 'expected with the tunable');
  t.ok(advised.hugeBytes >= advised.tableBytes / 2, `${advised.hugeBytes / MiB} MiB in huge pages, the table is ${advised.tableBytes / MiB} MiB`);
  if (policy === 'madvise') {
    const plain = await measure({});
    t.notOk(plain.support.expected, 'not expected without it');
    t.ok(plain.hugeBytes < plain.tableBytes / 2, `${plain.hugeBytes / MiB} MiB in huge pages without the tunable`);
  }
});

t.test('the primary says once how to get huge pages, and only when it can help', async (t) => {
  const policy = kernelPolicy();
  const saved = process.env.GLIBC_TUNABLES;
  t.teardown(() => {
    if (saved === undefined) delete process.env.GLIBC_TUNABLES;
    else process.env.GLIBC_TUNABLES = saved;
  });
  const adviceLines = (tunables: string | undefined): Array<Record<string, unknown>> => {
    if (tunables === undefined) delete process.env.GLIBC_TUNABLES;
    else process.env.GLIBC_TUNABLES = tunables;
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const primary = CachePrimary.create(loadConfig({ size: MiB }, {}), pino({ level: 'debug' }, stream));
    primary.table.close();
    return lines.filter((l) => /huge pages/.test(String(l.msg)));
  };
  const without = adviceLines(undefined);
  const withTunable = adviceLines(GLIBC_HUGE_PAGES);
  t.same(withTunable, [], 'nothing to say when glibc is told');
  if (glibc && policy === 'madvise') {
    t.equal(without.length, 1, 'one line, at debug (a tip, not news at every start)');
    t.match(without[0], { level: 20, transparentHugePages: 'madvise', msg: /4 KiB pages; start node with GLIBC_TUNABLES=glibc\.malloc\.hugetlb=1/ });
  } else {
    t.same(without, [], `nothing to say under "${policy}"`);
  }
});
