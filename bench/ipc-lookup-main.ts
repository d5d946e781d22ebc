/**
 * The processes of the IPC lookup benchmark (`bench/lib/ipc-lookup.ts`): a
 * `node:cluster` primary running `startClusterCache()` with a table filled
 * with `entries` sessions, and one worker process timing lookups through
 * its IPC store (local copy off). Started with the options as JSON in
 * `argv[2]`; the figures go to the parent as `{ type: 'ipc-lookup', runs }`.
 *
 * @module
 */
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import { ProcessWorker } from '../lib/processes/worker-process.ts';
import { startClusterCache } from '../lib/processes/cluster-cache.ts';
import type { IpcLookupOptions, IpcLookupRuns } from './lib/ipc-lookup.ts';
import type { ThreadRun } from './lib/stats.ts';
import { SESSION_BYTES, sessionPool } from './table-worker.ts';

type Options = Required<IpcLookupOptions>;
const IN_FLIGHT = 32;

/** The ID of session `i`: the same in both processes, spread like random IDs. */
function idOf(i: number): Buffer {
  return createHash('sha256').update(`session ${i}`).digest();
}

if (cluster.isPrimary) {
  const options = JSON.parse(process.argv[2] ?? '{}') as Options;
  const cache = await startClusterCache({
    env: {
      TLS_CACHE_SIZE: String(options.tableBytes),
      TLS_CACHE_LOCAL_SIZE: '0',
      TLS_CACHE_OWNER_TIMEOUT: '10s',
      TLS_CACHE_LOG_LEVEL: 'warn',
      TLS_CACHE_STATS_INTERVAL: '0',
      TLS_CACHE_SUMMARY_INTERVAL: '0',
      TLS_CACHE_SWEEP_INTERVAL: '0',
    },
  });
  const started = performance.now();
  const sessions = sessionPool(1024);
  let stored = 0;
  for (let i = 0; i < options.entries; i++) if (cache.table.set(idOf(i), sessions[i % sessions.length])) stored++;
  const fillMs = performance.now() - started;
  if (stored !== options.entries) process.stderr.write(`ipc-lookup: stored ${stored} of ${options.entries} sessions\n`);
  const worker = cluster.fork({ BENCH_IPC_LOOKUP: JSON.stringify(options) });
  worker.on('message', (message: { type?: string; runs?: IpcLookupRuns; echo?: string }) => {
    // The floor: the same channel carrying a message of a lookup's size there and back, nothing else.
    if (message.echo !== undefined) worker.send({ echo: message.echo });
    if (message.type !== 'ipc-lookup') return;
    process.send?.({ type: 'ipc-lookup', runs: { ...message.runs, fillMs } });
    worker.kill();
    cache.close().finally(() => process.exit(0));
  });
} else {
  const options = JSON.parse(process.env.BENCH_IPC_LOOKUP ?? '{}') as Options;
  const { store } = await ProcessWorker.connect({ helloTimeout: 60_000, logger: undefined });
  const total = (options.warmupBatches + options.batches) * options.batchSize;
  const random = (n: number): number => Math.floor(Math.random() * n);
  const hits = Array.from({ length: total }, () => idOf(random(options.entries)));
  const misses = Array.from({ length: total }, () => idOf(options.entries + random(options.entries)));
  let unexpected = 0;

  /** Times batches of lookups, `inFlight` at a time. */
  async function time(ids: Buffer[], expectHit: boolean, inFlight: number): Promise<ThreadRun> {
    const samples: number[] = [];
    let elapsedNs = 0;
    for (let batch = 0; batch < options.warmupBatches + options.batches; batch++) {
      const from = batch * options.batchSize;
      const start = process.hrtime.bigint();
      for (let i = 0; i < options.batchSize; i += inFlight) {
        const answers = await Promise.all(ids.slice(from + i, from + Math.min(i + inFlight, options.batchSize)).map((id) => store.lookUp(id)));
        // lookUp(), as the TLS hooks look up: a miss says why (a string).
        for (const session of answers) if ((typeof session !== 'string' && session.length === SESSION_BYTES) !== expectHit) unexpected++;
      }
      const ns = Number(process.hrtime.bigint() - start);
      if (batch >= options.warmupBatches) {
        samples.push(ns / options.batchSize);
        elapsedNs += ns;
      }
    }
    return { samples, ops: options.batches * options.batchSize, elapsedNs };
  }

  /** Times round trips of a bare message as large as a lookup's answer (the channel's own cost). */
  async function timeEcho(): Promise<ThreadRun> {
    const payload = Buffer.alloc(SESSION_BYTES + 16, 7).toString('base64');
    let answered: () => void = () => {};
    process.on('message', (message: { echo?: string }) => {
      if (message.echo !== undefined) answered();
    });
    const samples: number[] = [];
    let elapsedNs = 0;
    for (let batch = 0; batch < options.warmupBatches + options.batches; batch++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < options.batchSize; i++) {
        await new Promise<void>((resolve) => {
          answered = resolve;
          process.send!({ echo: payload });
        });
      }
      const ns = Number(process.hrtime.bigint() - start);
      if (batch >= options.warmupBatches) {
        samples.push(ns / options.batchSize);
        elapsedNs += ns;
      }
    }
    return { samples, ops: options.batches * options.batchSize, elapsedNs };
  }

  const echo = await timeEcho();
  const hit = await time(hits, true, 1);
  const miss = await time(misses, false, 1);
  const hitInFlight = await time(hits, true, IN_FLIGHT);
  process.send!({ type: 'ipc-lookup', runs: { echo, hit, miss, hitInFlight, unexpected, inFlight: IN_FLIGHT, fillMs: 0 } satisfies IpcLookupRuns });
}
