/**
 * Piscina task module of the table benchmark. Each task runs one timed loop
 * in a worker thread and returns its per-batch figures:
 *
 * - `table`: get (hit), get (miss) or set on the shared table, opened from
 *   its SharedArrayBuffer. Tasks that run at the same time (the two-thread
 *   case) meet at a barrier after their warm-up, so their timed loops overlap.
 * - `postmessage`: gets from a Map living in the main thread, one
 *   postMessage request and one response per lookup, as a naive design would.
 *
 * Every key is prepared before the clock starts: IDs live in one big shared
 * buffer, and each task makes the subarray views it will pass before its
 * warm-up, so the timed loops allocate nothing but what the store itself does.
 *
 * @module
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { threadId, type MessagePort } from 'node:worker_threads';
import { SessionTable } from '../lib/table/session-table.ts';
import type { ThreadRun } from './lib/stats.ts';

export const ID_BYTES = 32;
export const SESSION_BYTES = 160;

/** Key indexes `[start, start + count)` of the shared keys buffer. */
export interface KeyRange {
  start: number;
  count: number;
}

/**
 * get (hit) and get (miss) look up with `getInto()` (the session copied into
 * the task's own buffer, as the TLS hooks do); `get-hit-new-buffer` with
 * `get()` (a new Buffer for each session).
 */
export type TableOp = 'get-hit' | 'get-hit-new-buffer' | 'get-miss' | 'set';

interface LoopOptions {
  /** All session IDs, ID_BYTES each. Key `i` of the table's load holds a session whose first 4 bytes are `i`. */
  keys: SharedArrayBuffer;
  /**
   * get (hit): IDs are drawn at random from this range (keys the table holds).
   * get (miss) and set: IDs are used in order, each once; the range must hold
   * (warmupBatches + batches) * batchSize keys.
   */
  range: KeyRange;
  batchSize: number;
  batches: number;
  warmupBatches: number;
}

export interface TableTask extends LoopOptions {
  kind: 'table';
  op: TableOp;
  table: SharedArrayBuffer;
  /** An Int32Array word the tasks that must start together count themselves in. */
  barrier: SharedArrayBuffer;
  parties: number;
}

export interface PostMessageTask extends LoopOptions {
  kind: 'postmessage';
  /** Requests `{ seq, id }` go out here; responses `{ seq, session }` come back. */
  port: MessagePort;
}

export interface PostMessageRequest {
  seq: number;
  id: Uint8Array;
}

export interface PostMessageResponse {
  seq: number;
  session: Uint8Array | undefined;
}

export interface LoopResult extends ThreadRun {
  threadId: number;
  /** Gets that missed in a hit loop, hit in a miss loop, or sets refused. */
  unexpected: number;
  /** Warm-up hits whose session was not the one stored under the ID. */
  wrongSessions: number;
}

export default async function run(task: TableTask | PostMessageTask): Promise<LoopResult> {
  if (task.kind === 'postmessage') return runPostMessage(task);
  const table = SessionTable.open(task.table);
  const total = (task.warmupBatches + task.batches) * task.batchSize;
  const hitLoop = task.op === 'get-hit' || task.op === 'get-hit-new-buffer';
  const { ids, indexes } = hitLoop ? randomIds(task.keys, task.range, total) : orderedIds(task, total);
  const samples = new Array<number>(task.batches);
  let wrongSessions = 0;
  let unexpected = 0;
  const warmupOps = task.warmupBatches * task.batchSize;
  if (task.op === 'set') {
    const sessions = sessionPool(256);
    timeSets(table, ids, sessions, 0, task.warmupBatches, task.batchSize, null);
    settleGarbage();
    barrier(task.barrier, task.parties);
    const r = timeSets(table, ids, sessions, warmupOps, task.batches, task.batchSize, samples);
    unexpected = r.count;
    return result(samples, task, r, unexpected, 0);
  }
  // Check the warm-up's answers (the timed loop only counts them).
  const target = Buffer.allocUnsafeSlow(table.maxSessionSize);
  const newBuffers = task.op === 'get-hit-new-buffer';
  for (let i = 0; i < warmupOps; i++) {
    const value = newBuffers ? table.get(ids[i]) : table.getInto(ids[i], target) < 0 ? undefined : target;
    if (hitLoop && (value === undefined || value.readUInt32LE(0) !== indexes[i])) wrongSessions++;
  }
  settleGarbage();
  barrier(task.barrier, task.parties);
  const r = newBuffers
    ? timeGets(table, ids, warmupOps, task.batches, task.batchSize, samples)
    : timeGetsInto(table, ids, target, warmupOps, task.batches, task.batchSize, samples);
  unexpected = hitLoop ? task.batches * task.batchSize - r.count : r.count;
  return result(samples, task, r, unexpected, wrongSessions);
}

function result(
  samples: number[],
  task: LoopOptions,
  r: { elapsedNs: number },
  unexpected: number,
  wrongSessions: number,
): LoopResult {
  return { threadId, samples, ops: task.batches * task.batchSize, elapsedNs: r.elapsedNs, unexpected, wrongSessions };
}

/**
 * `count` IDs drawn at random (with replacement) from the range, copied in
 * draw order into one private buffer: like an ID just read off the wire, the
 * key a lookup hashes is in cache; what is not is the table's memory.
 */
export function randomIds(
  keyBuffer: SharedArrayBuffer,
  range: KeyRange,
  count: number,
): { ids: Buffer[]; indexes: Int32Array } {
  const keys = Buffer.from(keyBuffer);
  const copies = Buffer.allocUnsafeSlow(count * ID_BYTES);
  const ids = new Array<Buffer>(count);
  const indexes = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = range.start + Math.floor(Math.random() * range.count);
    indexes[i] = k;
    keys.copy(copies, i * ID_BYTES, k * ID_BYTES, (k + 1) * ID_BYTES);
    ids[i] = copies.subarray(i * ID_BYTES, (i + 1) * ID_BYTES);
  }
  return { ids, indexes };
}

/** Views of the first `count` IDs of the range, in order. */
function orderedIds(task: LoopOptions, count: number): { ids: Buffer[]; indexes: Int32Array } {
  if (count > task.range.count) throw new RangeError(`the loop needs ${count} keys, its range holds ${task.range.count}`);
  const keys = Buffer.from(task.keys);
  const ids = new Array<Buffer>(count);
  const indexes = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const k = task.range.start + i;
    indexes[i] = k;
    ids[i] = keys.subarray(k * ID_BYTES, (k + 1) * ID_BYTES);
  }
  return { ids, indexes };
}

/** `n` distinct session blobs to store (views of one buffer; the table copies them). */
export function sessionPool(n: number): Buffer[] {
  const pool = Buffer.alloc(n * SESSION_BYTES);
  for (let i = 0; i < pool.length; i++) pool[i] = (i * 2654435761) >>> 24;
  return Array.from({ length: n }, (_, i) => pool.subarray(i * SESSION_BYTES, (i + 1) * SESSION_BYTES));
}

/**
 * Times `batches` batches of gets from `ids[from]` on. Writes ns/op of each
 * batch into `samples` (when given). Returns the number of hits.
 */
function timeGets(
  table: SessionTable,
  ids: Buffer[],
  from: number,
  batches: number,
  batchSize: number,
  samples: number[] | null,
): { count: number; elapsedNs: number } {
  let hits = 0;
  let i = from;
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let k = 0; k < batchSize; k++) {
      if (table.get(ids[i++]) !== undefined) hits++;
    }
    if (samples !== null) samples[b] = ((performance.now() - t0) * 1e6) / batchSize;
  }
  return { count: hits, elapsedNs: (performance.now() - start) * 1e6 };
}

/**
 * Like {@link timeGets}, looking up with `getInto(id, target)`: a loop of its
 * own, so that neither timed loop carries a per-operation branch.
 */
function timeGetsInto(
  table: SessionTable,
  ids: Buffer[],
  target: Buffer,
  from: number,
  batches: number,
  batchSize: number,
  samples: number[] | null,
): { count: number; elapsedNs: number } {
  let hits = 0;
  let i = from;
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let k = 0; k < batchSize; k++) {
      if (table.getInto(ids[i++], target) >= 0) hits++;
    }
    if (samples !== null) samples[b] = ((performance.now() - t0) * 1e6) / batchSize;
  }
  return { count: hits, elapsedNs: (performance.now() - start) * 1e6 };
}

/** Like {@link timeGets} for sets; returns the number of sets refused. */
function timeSets(
  table: SessionTable,
  ids: Buffer[],
  sessions: Buffer[],
  from: number,
  batches: number,
  batchSize: number,
  samples: number[] | null,
): { count: number; elapsedNs: number } {
  let refused = 0;
  let i = from;
  const mask = sessions.length - 1;
  const start = performance.now();
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let k = 0; k < batchSize; k++) {
      if (!table.set(ids[i], sessions[i & mask])) refused++;
      i++;
    }
    if (samples !== null) samples[b] = ((performance.now() - t0) * 1e6) / batchSize;
  }
  return { count: refused, elapsedNs: (performance.now() - start) * 1e6 };
}

/**
 * A full, synchronous garbage collection: a task's setup allocates one
 * Buffer per ID, hundreds of thousands of them (and the main thread's, a
 * million more), and without this the collector's background work on them
 * would compete with the timed loops for the machine's cores. The timed loops of gets allocate nothing
 * (getInto), so none follows. (`--expose-gc` is set the way Node's
 * `v8.setFlagsFromString` documents; a worker thread takes no V8 flags.)
 */
export function settleGarbage(): void {
  collectGarbage({ type: 'major', execution: 'sync' });
}
v8.setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as (options: { type: string; execution: string }) => void;

/** Waits until `parties` tasks have arrived (at most a minute). */
function barrier(buffer: SharedArrayBuffer, parties: number): void {
  const word = new Int32Array(buffer);
  Atomics.add(word, 0, 1);
  Atomics.notify(word, 0);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const arrived = Atomics.load(word, 0);
    if (arrived >= parties) return;
    if (Date.now() > deadline) throw new Error(`barrier: ${arrived} of ${parties} tasks arrived in a minute`);
    Atomics.wait(word, 0, arrived, 100);
  }
}

// ---- the postMessage store's client -----------------------------------------

async function runPostMessage(task: PostMessageTask): Promise<LoopResult> {
  const port = task.port;
  const total = (task.warmupBatches + task.batches) * task.batchSize;
  const { ids: views, indexes } = randomIds(task.keys, task.range, total);
  // A real session ID arrives in its own small buffer: send copies, not
  // views of the big shared one.
  const ids = views.map((v) => new Uint8Array(v));
  let pending: ((response: PostMessageResponse) => void) | undefined;
  port.on('message', (response: PostMessageResponse) => {
    const resolve = pending;
    pending = undefined;
    resolve?.(response);
  });
  let seq = 0;
  const request = (id: Uint8Array): Promise<PostMessageResponse> =>
    new Promise((resolve) => {
      pending = resolve;
      port.postMessage({ seq: ++seq, id } satisfies PostMessageRequest);
    });
  try {
    let wrongSessions = 0;
    let i = 0;
    for (; i < task.warmupBatches * task.batchSize; i++) {
      const { session } = await request(ids[i]);
      if (session === undefined || Buffer.from(session.buffer, session.byteOffset, 4).readUInt32LE(0) !== indexes[i]) {
        wrongSessions++;
      }
    }
    const samples = new Array<number>(task.batches);
    let hits = 0;
    const start = performance.now();
    for (let b = 0; b < task.batches; b++) {
      const t0 = performance.now();
      for (let k = 0; k < task.batchSize; k++) {
        const { session } = await request(ids[i++]);
        if (session !== undefined) hits++;
      }
      samples[b] = ((performance.now() - t0) * 1e6) / task.batchSize;
    }
    const elapsedNs = (performance.now() - start) * 1e6;
    return result(samples, task, { elapsedNs }, task.batches * task.batchSize - hits, wrongSessions);
  } finally {
    port.close();
  }
}
