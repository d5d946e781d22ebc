/**
 * The table benchmark (`npm run bench:table`): what a lookup and a store
 * cost on a shared table holding a million TLS 1.2-sized sessions, from one
 * worker thread and from two at once, beside a plain per-thread `Map` (the
 * floor) and a `Map` in the main thread reached by postMessage round trips
 * (what a naive shared cache does).
 *
 * Gets on the shared table use `getInto()`, as the TLS hooks do; a hit is
 * also timed with `get()`, which allocates a Buffer for each session.
 * Figures are medians over batches of 1,000 operations (plus the mean and
 * operations per second); each shared-table figure is the median of
 * `--repeats` interleaved repetitions (default 3). The timed loops of the
 * shared table and of the postMessage client run as piscina tasks on a pool
 * of two worker threads.
 * The run prints a table, checks the project's targets (PASS or MISS; it
 * always exits 0: these are figures, not tests) and writes every figure to
 * `bench/results/table-<time>.json` and `bench/results/table-latest.json`.
 *
 * Usage: node bench/table.ts [--entries N] [--quick] [--batches N] [--repeats N] [--out DIR]
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { GLIBC_HUGE_PAGES, anonHugePageBytes, hugePageSupport } from '../lib/table/huge-pages.ts';
import { SessionTable, type TableStats } from '../lib/table/session-table.ts';
import { USAGE, parseBenchArgs, type BenchConfig } from './lib/args.ts';
import { measureIpcLookups } from './lib/ipc-lookup.ts';
import { runCommand } from './lib/cli.ts';
import {
  checkTargets,
  combineRepetitions,
  formatCount,
  formatTable,
  summarize,
  type Summary,
} from './lib/stats.ts';
import {
  ID_BYTES,
  SESSION_BYTES,
  randomIds,
  sessionPool,
  settleGarbage,
  type KeyRange,
  type LoopResult,
  type PostMessageRequest,
  type PostMessageResponse,
  type PostMessageTask,
  type TableOp,
  type TableTask,
} from './table-worker.ts';

const MiB = 1024 * 1024;

/** Arguments, plus `--out DIR`: for tests (a scratch directory), not part of the figures. */
function parseArguments(): BenchConfig & { out: string } {
  const argv = process.argv.slice(2);
  const outAt = argv.indexOf('--out');
  let out = resolve(fileURLToPath(new URL('./results/', import.meta.url)));
  if (outAt >= 0) {
    if (argv[outAt + 1] === undefined) throw new RangeError('--out expects a directory');
    out = resolve(argv[outAt + 1]);
    argv.splice(outAt, 2);
  }
  return { ...parseBenchArgs(argv), out };
}

interface PhaseFigures {
  summary: Summary;
  /** Per-thread results (worker thread id, unexpected answers, ...). */
  threads: Array<Omit<LoopResult, 'samples'> & { samples?: number[] }>;
  /** Change of the table's shared counters over the phase. */
  tableCounters?: Record<string, number>;
}

async function bench(config: BenchConfig, out: string): Promise<void> {
  const started = performance.now();
  const startedAt = new Date();
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
  console.log(`Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB; Node ${machine.node} (V8 ${machine.v8}); ${machine.platform}`);
  console.log(`Load average at start: ${machine.loadAverage.join(' ')}`);
  const { entries, batchSize } = config;
  const perThread = (config.warmupBatches + config.batches) * batchSize;
  const pmOps = (config.postMessageWarmupBatches + config.postMessageBatches) * batchSize;
  console.log(
    `Config: ${formatCount(entries)} entries of ${ID_BYTES}-byte IDs and ${SESSION_BYTES}-byte sessions; ` +
      `${config.batches} timed batches of ${formatCount(batchSize)} ops per thread after ${config.warmupBatches} warm-up batches` +
      `${config.quick ? ' (quick)' : ''}`,
  );

  // ---- the table, loaded ----------------------------------------------------
  const table = SessionTable.create({
    size: config.tableBytes,
    maxSessionSize: 8192,
    timeout: 3600,
    sweepInterval: 0,
  });
  const capacity = table.stats().capacityEntries;
  if (capacity < entries) {
    throw new Error(`A ${config.tableBytes / MiB} MiB table admits ${capacity} entries, fewer than ${entries}`);
  }
  // Enough extra new IDs to fill every shard before timing sets, so that each
  // timed set evicts.
  const fillCount = capacity - entries + Math.ceil(capacity * 0.05);

  // Key regions of one shared buffer; every ID is random, so all are distinct.
  let next = 0;
  const region = (count: number): KeyRange => {
    const r = { start: next, count };
    next += count;
    return r;
  };
  const loaded = region(entries);
  const miss = [region(perThread), region(perThread)];
  const fill = region(fillCount);
  // Each repetition of a set phase stores IDs of its own (a miss phase may reuse its IDs: they stay misses).
  const set1 = Array.from({ length: config.repeats }, () => region(perThread));
  const set2 = Array.from({ length: config.repeats }, () => [region(perThread), region(perThread)]);
  const mapSet = region(perThread);
  const keys = new SharedArrayBuffer(next * ID_BYTES);
  const keyBytes = Buffer.from(keys);
  for (let at = 0; at < keyBytes.length; at += 64 * MiB) randomFillSync(keyBytes, at, Math.min(64 * MiB, keyBytes.length - at));
  const idOf = (k: number): Buffer => keyBytes.subarray(k * ID_BYTES, (k + 1) * ID_BYTES);

  // Session i of the load starts with i (little-endian), so a hit can be checked.
  const template = sessionPool(1024);
  const sessionOf = (k: number, into: Buffer): Buffer => {
    template[k & 1023].copy(into);
    into.writeUInt32LE(k, 0);
    return into;
  };

  let t0 = performance.now();
  const scratch = Buffer.alloc(SESSION_BYTES);
  for (let k = loaded.start; k < loaded.start + loaded.count; k++) table.set(idOf(k), sessionOf(k, scratch));
  const loadMs = performance.now() - t0;
  const afterLoad = table.stats();
  console.log(
    `Table: ${config.tableBytes / MiB} MiB, admits ${formatCount(capacity)} entries; loaded ${formatCount(afterLoad.entries)} ` +
      `in ${(loadMs / 1000).toFixed(2)} s (${Math.round((loadMs * 1e6) / entries)} ns/set, main thread, not full yet)`,
  );
  if (afterLoad.entries !== entries) console.log(`  note: ${entries - afterLoad.entries} of the loaded entries were evicted or refused`);
  // Huge pages: what the kernel and glibc were told, and what this process got (the table is most of its memory).
  const support = hugePageSupport();
  const hugePages = { ...support, anonHugePageBytes: anonHugePageBytes() };
  console.log(
    `Huge pages: kernel policy ${support.policy}, glibc.malloc.hugetlb=${support.glibcHugetlb ?? 'n/a'}; ` +
      `${hugePages.anonHugePageBytes === undefined ? 'unknown' : `${Math.round(hugePages.anonHugePageBytes / MiB)} MiB`} of this process's memory in huge pages` +
      (support.expected ? '' : ` (the table is on 4 KiB pages: run with GLIBC_TUNABLES=${GLIBC_HUGE_PAGES}, as npm run bench:table does)`),
  );

  // ---- shared table: 1 and 2 threads (piscina) -------------------------------
  const pool = new Piscina({
    filename: new URL('./table-worker.ts', import.meta.url).href,
    minThreads: 2,
    maxThreads: 2,
    concurrentTasksPerWorker: 1,
    idleTimeout: 60_000,
  });
  const figures: Record<string, PhaseFigures> = {};

  const runTable = async (name: string, op: TableOp, ranges: KeyRange[]): Promise<Summary> => {
    settleGarbage();
    const barrier = new SharedArrayBuffer(4);
    const before = table.stats();
    const runs: LoopResult[] = await Promise.all(
      ranges.map((range) =>
        pool.run({
          kind: 'table',
          op,
          table: table.buffer,
          keys,
          range,
          batchSize,
          batches: config.batches,
          warmupBatches: config.warmupBatches,
          barrier,
          parties: ranges.length,
        } satisfies TableTask) as Promise<LoopResult>,
      ),
    );
    if (new Set(runs.map((r) => r.threadId)).size !== runs.length) {
      throw new Error(`${name}: the ${runs.length} loops did not run on distinct threads`);
    }
    const summary = summarize(runs);
    figures[name] = { summary, threads: runs, tableCounters: counterDelta(before, table.stats()) };
    return summary;
  };

  if (os.availableParallelism() < 2) console.log('  note: fewer than 2 CPUs: the 2-thread figures cannot scale');
  const hitRange = [loaded, loaded];
  console.log(`Measuring the shared table (${config.repeats} repetition${config.repeats === 1 ? '' : 's'}, 1 and 2 threads interleaved) ...`);
  const repetitions: Record<string, Summary[]> = {};
  const measure = async (name: string, op: TableOp, ranges: KeyRange[], r: number): Promise<void> => {
    (repetitions[name] ??= []).push(await runTable(`${name}#${r + 1}`, op, ranges));
  };
  for (let r = 0; r < config.repeats; r++) {
    await measure('table1.getHit', 'get-hit', hitRange.slice(0, 1), r);
    await measure('table1.getHitNewBuffer', 'get-hit-new-buffer', hitRange.slice(0, 1), r);
    await measure('table1.getMiss', 'get-miss', miss.slice(0, 1), r);
    await measure('table2.getHit', 'get-hit', hitRange, r);
    await measure('table2.getMiss', 'get-miss', miss, r);
  }
  // Fill every shard, then time sets of new IDs: each one evicts.
  t0 = performance.now();
  for (let k = fill.start; k < fill.start + fill.count; k++) table.set(idOf(k), sessionOf(k, scratch));
  const fillMs = performance.now() - t0;
  const afterFill = table.stats();
  for (let r = 0; r < config.repeats; r++) {
    await measure('table1.set', 'set', [set1[r]], r);
    await measure('table2.set', 'set', set2[r], r);
  }
  const afterSets = table.stats();
  const figure = (name: string): Summary => combineRepetitions(repetitions[name]);
  const table1 = { hit: figure('table1.getHit'), hitNewBuffer: figure('table1.getHitNewBuffer'), miss: figure('table1.getMiss') };
  const table2 = { hit: figure('table2.getHit'), miss: figure('table2.getMiss') };
  const set1Summary = figure('table1.set');
  const set2Summary = figure('table2.set');
  // The newest IDs must be readable afterwards.
  let newestFound = 0;
  const newest = set2[config.repeats - 1][1];
  const newestChecked = Math.min(1000, newest.count);
  for (let k = newest.start + newest.count - newestChecked; k < newest.start + newest.count; k++) {
    if (table.get(idOf(k)) !== undefined) newestFound++;
  }

  // ---- Map in one thread: the floor ------------------------------------------
  console.log('Measuring the Map floor and the postMessage store ...');
  const map = new Map<string, Buffer>();
  // Insertion order of the Map's keys, so its sets can evict the oldest like the table.
  const order = new Array<string>(entries);
  for (let k = loaded.start; k < loaded.start + loaded.count; k++) {
    // A real cache holds the session Node handed it: a buffer of its own.
    const session = sessionOf(k, Buffer.allocUnsafeSlow(SESSION_BYTES));
    const hex = idOf(k).toString('hex');
    order[k - loaded.start] = hex;
    map.set(hex, session);
  }
  // Each batch runs in one closure call: the per-op loop stays monomorphic.
  const mapGets = (ids: Buffer[], hit: boolean) => (from: number, count: number): number => {
    let found = 0;
    for (let i = from; i < from + count; i++) if (map.get(ids[i].toString('hex')) !== undefined) found++;
    return hit ? count - found : found;
  };
  const mapFloor = {
    hit: mapPhase('map.getHit', figures, () => {
      const { ids } = randomIds(keys, loaded, perThread);
      return timeBatches(config, mapGets(ids, true));
    }),
    miss: mapPhase('map.getMiss', figures, () => {
      const ids = Array.from({ length: perThread }, (_, i) => idOf(miss[0].start + i));
      return timeBatches(config, mapGets(ids, false));
    }),
    set: undefined as Summary | undefined,
  };

  // ---- Map in the main thread behind postMessage round trips ------------------
  const channel = new MessageChannel();
  channel.port1.on('message', (request: PostMessageRequest) => {
    const id = request.id;
    const session = map.get(Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex'));
    channel.port1.postMessage({ seq: request.seq, session } satisfies PostMessageResponse);
  });
  const pmRun: LoopResult = await pool.run(
    {
      kind: 'postmessage',
      port: channel.port2,
      keys,
      range: loaded,
      batchSize,
      batches: config.postMessageBatches,
      warmupBatches: config.postMessageWarmupBatches,
    } satisfies PostMessageTask,
    { transferList: [channel.port2] },
  );
  channel.port1.close();
  const postMessage = { hit: summarize([pmRun]) };
  figures['postMessage.getHit'] = { summary: postMessage.hit, threads: [pmRun] };

  // Last, as it evicts the oldest loaded sessions from the Map.
  mapFloor.set = mapPhase('map.set', figures, () => {
    const ids = Array.from({ length: perThread }, (_, i) => idOf(mapSet.start + i));
    const sessions = template;
    let head = 0;
    return timeBatches(config, (from, count) => {
      for (let i = from; i < from + count; i++) {
        const hex = ids[i].toString('hex');
        map.delete(order[head]);
        order[head] = hex;
        head = head + 1 === order.length ? 0 : head + 1;
        map.set(hex, sessions[i & 1023]);
      }
      return 0;
    });
  });
  await pool.destroy();

  // node:cluster worker processes: the same lookups over IPC, in a primary and a worker process of their own.
  console.log('Measuring a lookup from a node:cluster worker process over IPC ...');
  const ipc = await measureIpcLookups({ entries, tableBytes: config.tableBytes, batches: config.quick ? 10 : 30 });

  // ---- report ---------------------------------------------------------------
  const ratio = (a: Summary, b: Summary): number => a.opsPerSec / b.opsPerSec;
  const setLabel = 'set (new ID, evicts)';
  const tables = [
    formatTable(`Shared table, ${formatCount(entries)} entries in ${config.tableBytes / MiB} MiB, 1 worker thread`, [
      { operation: 'get (hit)', summary: table1.hit },
      { operation: 'get (hit), new Buffer', summary: table1.hitNewBuffer },
      { operation: 'get (miss)', summary: table1.miss },
      { operation: setLabel, summary: set1Summary },
    ]),
    formatTable('Shared table, 2 worker threads at once (ns/op per thread, ops/s of both)', [
      { operation: 'get (hit)', summary: table2.hit },
      { operation: 'get (miss)', summary: table2.miss },
      { operation: setLabel, summary: set2Summary },
    ]),
    `2 threads / 1 thread, ops/s: get (hit) ${ratio(table2.hit, table1.hit).toFixed(2)}x, ` +
      `get (miss) ${ratio(table2.miss, table1.miss).toFixed(2)}x, set ${ratio(set2Summary, set1Summary).toFixed(2)}x`,
    formatTable(`Map in one thread, keyed id.toString('hex'), ${formatCount(entries)} sessions (the floor)`, [
      { operation: 'get (hit)', summary: mapFloor.hit },
      { operation: 'get (miss)', summary: mapFloor.miss },
      { operation: 'set (new ID, evicts oldest)', summary: mapFloor.set },
    ]),
    formatTable('Map in the main thread, reached from a worker by postMessage round trips', [
      { operation: 'get (hit)', summary: postMessage.hit },
    ]),
    formatTable(`node:cluster worker process -> primary over IPC, ${formatCount(entries)} entries, local copy off`, [
      { operation: 'get (hit)', summary: ipc.hit },
      { operation: 'get (miss)', summary: ipc.miss },
    ]),
  ];
  const legend =
    'get: getInto(), the session copied into the thread\'s own buffer, as the TLS hooks look up; ' +
    'get (hit), new Buffer: get(), which allocates a Buffer for each session. ' +
    `ns/op median: median over batches of ${formatCount(batchSize)} operations (both threads' batches pooled when 2); ` +
    'ns/op mean: timed span / operations; ops/s: all threads\' operations / the longest thread\'s span. ' +
    `Shared table: each figure is the median of ${config.repeats} interleaved repetition${config.repeats === 1 ? '' : 's'}.`;
  console.log(`\n${legend}\n\n${tables.join('\n\n')}\n`);

  const setEvictions = evictionsOf(afterSets) - evictionsOf(afterFill);
  const setInserts = afterSets.inserts - afterFill.inserts;
  const notes: string[] = [];
  const unexpected = Object.entries(figures).flatMap(([name, f]) =>
    f.threads.flatMap((r) => [
      r.unexpected > 0
        ? `${name} (thread ${r.threadId}): ${r.unexpected} unexpected answers in the timed loop (misses in a hit loop, hits in a miss loop or refused sets)`
        : [],
      r.wrongSessions > 0 ? `${name} (thread ${r.threadId}): ${r.wrongSessions} warm-up hits returned the wrong session` : [],
    ]).flat(),
  );
  notes.push(...unexpected);
  if (newestFound !== newestChecked) notes.push(`only ${newestFound} of the ${newestChecked} newest sets were readable afterwards`);
  console.log(
    `Timed sets: ${formatCount(setInserts)} inserts, ${formatCount(setEvictions)} evictions (${(setEvictions / setInserts).toFixed(2)} per set); ` +
      `read retries during the run: ${formatCount(afterSets.readRetries)}; busy refusals: ${formatCount(afterSets.refusals.busy)}`,
  );
  for (const note of notes) console.log(`  note: ${note}`);

  const targets = checkTargets({ hit1: table1.hit, set1: set1Summary, hit2: table2.hit, postMessageHit: postMessage.hit });
  console.log('\nTargets (figures, not tests: the run always exits 0):');
  for (const t of targets) console.log(t.line);

  const elapsedS = (performance.now() - started) / 1000;
  const loadAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  console.log(`\nTotal run time: ${elapsedS.toFixed(1)} s; load average at end: ${loadAtEnd.join(' ')}`);

  const report = {
    benchmark: 'table',
    startedAt: startedAt.toISOString(),
    elapsedSeconds: elapsedS,
    machine: { ...machine, loadAverageAtEnd: loadAtEnd },
    config: { ...config, idBytes: ID_BYTES, sessionBytes: SESSION_BYTES, postMessageOpsPerRun: pmOps },
    table: {
      bufferBytes: afterLoad.bufferBytes,
      hugePages,
      capacityEntries: capacity,
      capacityBytes: afterLoad.capacityBytes,
      load: { entries: afterLoad.entries, ms: loadMs, nsPerSet: (loadMs * 1e6) / entries },
      fill: { sets: fillCount, ms: fillMs, entriesAfter: afterFill.entries },
      timedSets: { inserts: setInserts, evictions: setEvictions, evictionsPerSet: setEvictions / setInserts },
      newestSetsReadable: { checked: newestChecked, found: newestFound },
      statsAtEnd: afterSets,
    },
    results: {
      table1Thread: { getHit: table1.hit, getHitNewBuffer: table1.hitNewBuffer, getMiss: table1.miss, set: set1Summary },
      table2Threads: { getHit: table2.hit, getMiss: table2.miss, set: set2Summary },
      ratio2to1: {
        getHit: ratio(table2.hit, table1.hit),
        getMiss: ratio(table2.miss, table1.miss),
        set: ratio(set2Summary, set1Summary),
      },
      map: { getHit: mapFloor.hit, getMiss: mapFloor.miss, set: mapFloor.set },
      postMessage: { getHit: postMessage.hit },
      ipc: { getHit: ipc.hit, getMiss: ipc.miss },
    },
    targets: targets.map(({ line, ...t }) => t),
    notes,
    phases: figures,
  };
  mkdirSync(out, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const stamped = resolve(out, `table-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(stamped, json);
  writeFileSync(resolve(out, 'table-latest.json'), json);
  console.log(`Figures written to ${stamped} and table-latest.json`);
  table.close();
}

/**
 * Times a loop in this thread, batch by batch, after the warm-up batches.
 * `batch(from, count)` runs operations `from` to `from + count - 1` and
 * returns how many answers were unexpected.
 */
function timeBatches(config: BenchConfig, batch: (from: number, count: number) => number): LoopResult {
  const { batchSize } = config;
  let i = 0;
  for (let b = 0; b < config.warmupBatches; b++, i += batchSize) batch(i, batchSize);
  let unexpected = 0;
  const samples = new Array<number>(config.batches);
  const start = performance.now();
  for (let b = 0; b < config.batches; b++, i += batchSize) {
    const t0 = performance.now();
    unexpected += batch(i, batchSize);
    samples[b] = ((performance.now() - t0) * 1e6) / batchSize;
  }
  const elapsedNs = (performance.now() - start) * 1e6;
  return { threadId: 0, samples, ops: config.batches * batchSize, elapsedNs, unexpected, wrongSessions: 0 };
}

function mapPhase(name: string, figures: Record<string, PhaseFigures>, run: () => LoopResult): Summary {
  const result = run();
  const summary = summarize([result]);
  figures[name] = { summary, threads: [result] };
  return summary;
}

const evictionsOf = (s: TableStats): number =>
  s.evictions.expired + s.evictions.capacity + s.evictions.overflow + s.evictions.repair + s.evictions.cleared;

function counterDelta(a: TableStats, b: TableStats): Record<string, number> {
  return {
    hits: b.hits - a.hits,
    misses: b.misses - a.misses,
    inserts: b.inserts - a.inserts,
    evictions: evictionsOf(b) - evictionsOf(a),
    evictedCapacity: b.evictions.capacity - a.evictions.capacity,
    evictedOverflow: b.evictions.overflow - a.evictions.overflow,
    readRetries: b.readRetries - a.readRetries,
    refusedBusy: b.refusals.busy - a.refusals.busy,
  };
}

await runCommand(USAGE, parseArguments, (config) => bench(config, config.out));
