import t from 'tap';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { USAGE, parseBenchArgs, tableBytesFor } from '../bench/lib/args.ts';
import {
  checkTargets,
  combineRepetitions,
  formatNs,
  formatTable,
  mean,
  median,
  quantile,
  summarize,
  target,
  type Summary,
} from '../bench/lib/stats.ts';
import { ID_BYTES, randomIds, sessionPool } from '../bench/table-worker.ts';

const MiB = 1024 * 1024;

t.test('median, mean and quantiles', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.equal(median([7]), 7);
  t.ok(Number.isNaN(median([])));
  t.equal(mean([1, 2, 3, 6]), 3);
  t.ok(Number.isNaN(mean([])));
  t.equal(quantile([0, 10, 20, 30, 40], 0.9), 36);
  t.equal(quantile([5, 1], 0), 1);
  t.equal(quantile([5, 1], 1), 5);
  t.throws(() => quantile([1], 1.5), RangeError);
  const input = [3, 1, 2];
  median(input);
  t.same(input, [3, 1, 2], 'does not sort its input in place');
});

t.test('summarize: one thread', async (t) => {
  const s = summarize([{ samples: [100, 300, 200, 1000], ops: 4000, elapsedNs: 2_000_000 }]);
  t.equal(s.threads, 1);
  t.equal(s.batches, 4);
  t.equal(s.ops, 4000);
  t.equal(s.medianNs, 250, 'median of the batches');
  t.equal(s.meanNs, 500, 'timed span over operations');
  t.equal(s.minNs, 100);
  t.equal(s.maxNs, 1000);
  t.equal(s.opsPerSec, 2_000_000, 'operations over the span');
});

t.test('summarize: threads together', async (t) => {
  const s = summarize([
    { samples: [100, 100, 100], ops: 3000, elapsedNs: 300_000 },
    { samples: [200, 200, 200], ops: 3000, elapsedNs: 600_000 },
  ]);
  t.equal(s.threads, 2);
  t.equal(s.batches, 6);
  t.equal(s.medianNs, 150, 'median of both threads’ batches pooled');
  t.equal(s.meanNs, 150, 'average of each thread’s ns/op');
  t.equal(s.opsPerSec, 10_000_000, 'all operations over the longest thread’s span');
  t.throws(() => summarize([]), RangeError);
  t.throws(() => summarize([{ samples: [1], ops: 0, elapsedNs: 1 }]), RangeError);
});

const summary = (medianNs: number, opsPerSec: number): Summary => ({
  threads: 1,
  ops: 1000,
  batches: 1,
  medianNs,
  meanNs: medianNs,
  minNs: medianNs,
  maxNs: medianNs,
  p90Ns: medianNs,
  opsPerSec,
});

t.test('formatTable lines up the columns', async (t) => {
  const text = formatTable('Title', [
    { operation: 'get (hit)', summary: summary(612.4, 1_634_000) },
    { operation: 'set (new ID, evicts)', summary: summary(12.34, 81_037_000) },
  ]);
  const lines = text.split('\n');
  t.equal(lines[0], 'Title');
  t.match(lines[1], /^operation\s+ns\/op median\s+ns\/op mean\s+ops\/s$/);
  t.match(lines[3], /^get \(hit\)\s+612\s+612\s+1,634,000$/);
  t.match(lines[4], /^set \(new ID, evicts\)\s+12\.3\s+12\.3\s+81,037,000$/);
  t.equal(new Set(lines.slice(1).map((l) => l.length)).size, 1, 'every row has the same width');
  t.equal(formatNs(1234.5), '1,235');
  t.equal(formatNs(7.25), '7.3');
});

t.test('targets', async (t) => {
  const max = target('x', 0.8, 'max', 1, ' µs');
  t.ok(max.pass);
  t.equal(max.line, 'PASS  x <= 1 µs: 0.80 µs');
  t.notOk(target('x', 1.2, 'max', 1, ' µs').pass);
  t.ok(target('y', 1.6, 'min', 1.6, 'x').pass, 'the limit itself passes');
  t.match(target('y', 1.2, 'min', 1.6, 'x').line, /^MISS  y >= 1\.6x: 1\.20x$/);

  const good = checkTargets({
    hit1: summary(500, 2_000_000),
    set1: summary(1500, 600_000),
    hit2: summary(550, 3_600_000),
    postMessageHit: summary(20_000, 50_000),
  });
  t.same(good.map((x) => x.pass), [true, true, true, true]);
  t.equal(good[2].measured, 40, 'postMessage median over table median');
  t.equal(good[3].measured, 1.8, '2-thread ops/s over 1-thread ops/s');
  const bad = checkTargets({
    hit1: summary(1500, 600_000),
    set1: summary(2500, 400_000),
    hit2: summary(1600, 700_000),
    postMessageHit: summary(20_000, 50_000),
  });
  t.same(bad.map((x) => x.pass), [false, false, false, false]);
  for (const x of bad) t.match(x.line, /^MISS  /);
});

t.test('combineRepetitions: the median of each figure over repetitions', async (t) => {
  const rep = (medianNs: number, opsPerSec: number, minNs: number, maxNs: number): Summary => ({
    threads: 2, ops: 1000, batches: 10, medianNs, meanNs: medianNs + 10, minNs, maxNs, p90Ns: medianNs * 2, opsPerSec,
  });
  const c = combineRepetitions([rep(900, 1_000_000, 800, 5000), rep(2000, 400_000, 1500, 9000), rep(1000, 950_000, 700, 1200)]);
  t.equal(c.medianNs, 1000, 'one slow repetition does not move the median');
  t.equal(c.meanNs, 1010);
  t.equal(c.opsPerSec, 950_000);
  t.equal(c.p90Ns, 2000);
  t.equal(c.minNs, 700);
  t.equal(c.maxNs, 9000);
  t.equal(c.ops, 3000);
  t.equal(c.batches, 30);
  t.equal(c.threads, 2);
  t.same(combineRepetitions([rep(5, 6, 4, 7)]), rep(5, 6, 4, 7), 'one repetition is itself');
  t.throws(() => combineRepetitions([]), RangeError);
});

t.test('parseBenchArgs', async (t) => {
  const full = parseBenchArgs([]);
  t.equal(full.entries, 1_000_000);
  t.equal(full.tableBytes, 256 * MiB);
  t.equal(full.quick, false);
  t.equal(full.batchSize, 1000);
  t.ok(full.batches > 0 && full.warmupBatches > 0 && full.postMessageBatches > 0);

  const quick = parseBenchArgs(['--quick']);
  t.equal(quick.quick, true);
  t.equal(quick.entries, 100_000);
  t.ok(quick.batches < full.batches);

  t.equal(parseBenchArgs(['--quick', '--entries', '20000']).entries, 20_000);
  t.equal(parseBenchArgs(['--entries=1_000_000']).entries, 1_000_000);
  t.equal(parseBenchArgs(['--batches', '5']).batches, 5);
  t.equal(full.repeats, 3, 'three repetitions by default');
  t.equal(quick.repeats, 1);
  t.equal(parseBenchArgs(['--repeats', '5']).repeats, 5);
  t.throws(() => parseBenchArgs(['--repeats', '0']), RangeError);
  t.equal(parseBenchArgs(['--help']).help, true);
  for (const bad of [['--entries', '0'], ['--entries=-5'], ['--entries', '1e6'], ['--entries', 'many'], ['--batches', '2.5']]) {
    t.throws(() => parseBenchArgs(bad), RangeError, bad.join(' '));
  }
  t.throws(() => parseBenchArgs(['--entries', '9000000']), /2 GiB/);
  t.throws(() => parseBenchArgs(['--bogus']), 'unknown flags are refused');
  t.throws(() => parseBenchArgs(['extra']), 'positionals are refused');
  t.match(USAGE, /--entries N/);
});

t.test('tableBytesFor keeps 256 MiB per million entries', async (t) => {
  t.equal(tableBytesFor(1_000_000), 256 * MiB);
  t.equal(tableBytesFor(100_000), 26 * MiB);
  t.equal(tableBytesFor(20_000), 6 * MiB);
  t.equal(tableBytesFor(1), MiB);
});

t.test('randomIds copies IDs of the range into a private buffer', async (t) => {
  const keys = new SharedArrayBuffer(100 * ID_BYTES);
  const bytes = Buffer.from(keys);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  const { ids, indexes } = randomIds(keys, { start: 40, count: 10 }, 500);
  t.equal(ids.length, 500);
  for (let i = 0; i < ids.length; i++) {
    const k = indexes[i];
    if (!(k >= 40 && k < 50)) t.fail(`index ${k} outside the range`);
    if (!ids[i].equals(bytes.subarray(k * ID_BYTES, (k + 1) * ID_BYTES))) t.fail(`id ${i} is not key ${k}`);
    if (ids[i].buffer === keys) t.fail('an ID still views the shared buffer');
  }
  t.ok(new Set(indexes).size > 1, 'draws vary');
  const sessions = sessionPool(4);
  t.equal(sessions.length, 4);
  t.notSame(sessions[0], sessions[1]);
});

t.test('end to end: a quick run prints the table and writes its figures', async (t) => {
  const dir = t.testdir({});
  const script = fileURLToPath(new URL('../bench/table.ts', import.meta.url));
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        process.execPath,
        [script, '--quick', '--entries', '20000', '--out', dir],
        { timeout: 120_000, maxBuffer: 16 * MiB },
        (error, stdout, stderr) => resolve({ code: error ? ((error.code as number | null) ?? 1) : 0, stdout, stderr }),
      );
    },
  );
  t.equal(code, 0, `exits 0${stderr ? `; stderr: ${stderr}` : ''}`);
  t.match(stdout, /Machine: .+ cores/);
  t.match(stdout, /operation\s+ns\/op median\s+ns\/op mean\s+ops\/s/);
  for (const title of ['Shared table, 20,000 entries', 'Shared table, 2 worker threads', 'Map in one thread', 'postMessage', 'node:cluster worker process -> primary over IPC']) {
    t.ok(stdout.includes(title), `prints "${title}"`);
  }
  t.equal(stdout.match(/^(PASS|MISS) {2}/gm)?.length, 4, 'four target lines');
  t.match(stdout, /^get \(hit\), new Buffer\s+[\d,]+/m, 'get() beside getInto() for a hit');
  t.match(stdout, /^Huge pages: kernel policy (always|madvise|never|unknown), /m, 'says whether the table had huge pages');

  const files = readdirSync(dir);
  t.ok(files.includes('table-latest.json'));
  t.ok(files.some((f) => /^table-\d{4}-\d\d-\d\dT[\d-]+Z\.json$/.test(f)), 'a timestamped copy');
  const report = JSON.parse(readFileSync(join(dir, 'table-latest.json'), 'utf8'));
  t.equal(report.config.entries, 20_000);
  t.equal(report.config.quick, true);
  t.equal(report.table.load.entries, 20_000, 'every loaded session is in the table');
  t.ok(report.table.timedSets.evictionsPerSet > 0.9, 'timed sets evict: the table is full');
  const figures: Array<[string, Summary]> = [];
  for (const [variant, ops] of Object.entries(report.results as Record<string, Record<string, unknown>>)) {
    if (variant === 'ratio2to1') continue;
    for (const [op, s] of Object.entries(ops)) figures.push([`${variant}.${op}`, s as Summary]);
  }
  t.equal(figures.length, 13, 'table 1 thread x 4 (a hit also with get()), 2 threads x 3, Map x 3, postMessage x 1, IPC x 2');
  t.match(report.table.hugePages, { policy: /^(always|madvise|never|unknown)$/, expected: Boolean });
  for (const [name, s] of figures) {
    for (const field of ['medianNs', 'meanNs', 'opsPerSec', 'ops'] as const) {
      t.ok(Number.isFinite(s[field]) && s[field] > 0, `${name}.${field} is a positive number (${s[field]})`);
    }
  }
  for (const r of Object.values(report.results.ratio2to1 as Record<string, number>)) t.ok(r > 0);
  t.equal(report.targets.length, 4);
  for (const x of report.targets) t.ok(Number.isFinite(x.measured) && x.measured > 0, x.name);
  t.ok(report.machine.cores > 0);
});
