/**
 * What a session lookup costs a `node:cluster` worker process over the real
 * path: the worker's store (`LevelledStore` of `worker-process.ts`, the one
 * its servers' `resumeSession` hook calls), with the local copy off, asks
 * the primary, which looks the ID up in its table of `entries` sessions and
 * answers over its Unix socket (msgpackr frames, `owner/`).
 *
 * Two ways: one lookup at a time (the latency a handshake waits: a round
 * trip), and 32 in flight at once (what the primary sustains when many
 * handshakes look up together); and, for comparison, a bare message of a
 * lookup's size there and back over the cluster's IPC channel (what every
 * lookup crossed before the socket). Figures in the table benchmark's form
 * ({@link Summary}: ns per lookup, median over batches), to sit next to the
 * shared-memory lookup. The processes run `bench/ipc-lookup-main.ts`.
 *
 * @module
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { summarize, type Summary, type ThreadRun } from './stats.ts';

const MAIN = fileURLToPath(new URL('../ipc-lookup-main.ts', import.meta.url));

export interface IpcLookupOptions {
  /** Sessions in the primary's table. */
  entries: number;
  /** Bytes of the table (`TLS_CACHE_SIZE`). */
  tableBytes: number;
  /** Lookups per timed batch. @defaultValue 200 */
  batchSize?: number;
  /** Timed batches per figure. @defaultValue 30 */
  batches?: number;
  /** Untimed batches first. @defaultValue 5 */
  warmupBatches?: number;
}

/** What the worker process measured (sent to the primary, then to this process). */
export interface IpcLookupRuns {
  /** A bare message of a lookup's size there and back: the channel's own cost. */
  echo: ThreadRun;
  hit: ThreadRun;
  miss: ThreadRun;
  hitInFlight: ThreadRun;
  /** Answers that were not what the loop expected (a miss in a hit loop, a hit in a miss loop). */
  unexpected: number;
  /** Lookups in flight at once in the `hitInFlight` loop. */
  inFlight: number;
  /** Milliseconds the primary took to fill its table. */
  fillMs: number;
}

export interface IpcLookupFigures {
  /** A bare message of a lookup's size there and back over the same channel (the floor). */
  echo: Summary;
  hit: Summary;
  miss: Summary;
  hitInFlight: Summary;
  inFlight: number;
  unexpected: number;
  fillMs: number;
}

/** Runs the measurement in a primary and one worker process of their own. */
export function measureIpcLookups(options: IpcLookupOptions): Promise<IpcLookupFigures> {
  const settings = { batchSize: 200, batches: 30, warmupBatches: 5, ...options };
  return new Promise((resolve, reject) => {
    const child = fork(MAIN, [JSON.stringify(settings)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    let done = false;
    child.on('message', (message: { type?: string; runs?: IpcLookupRuns }) => {
      if (message.type !== 'ipc-lookup' || message.runs === undefined) return;
      done = true;
      const { runs } = message;
      resolve({
        echo: summarize([runs.echo]),
        hit: summarize([runs.hit]),
        miss: summarize([runs.miss]),
        hitInFlight: summarize([runs.hitInFlight]),
        inFlight: runs.inFlight,
        unexpected: runs.unexpected,
        fillMs: runs.fillMs,
      });
    });
    child.on('exit', (code, signal) => {
      if (!done) reject(new Error(`the IPC lookup benchmark exited (${signal ?? code}) without figures`));
    });
  });
}

/** `node bench/lib/ipc-lookup.ts [entries]`: the figures alone, printed. */
if (import.meta.main) {
  const { formatTable, formatCount } = await import('./stats.ts');
  const { tableBytesFor } = await import('./args.ts');
  const entries = Number(process.argv[2] ?? 1_000_000);
  const figures = await measureIpcLookups({ entries, tableBytes: tableBytesFor(entries) });
  console.log(
    formatTable(`node:cluster worker process -> primary over its socket, ${formatCount(entries)} entries, local copy off`, [
      { operation: 'bare IPC round trip (for comparison)', summary: figures.echo },
      { operation: 'get (hit), one at a time', summary: figures.hit },
      { operation: 'get (miss), one at a time', summary: figures.miss },
      { operation: `get (hit), ${figures.inFlight} in flight`, summary: figures.hitInFlight },
    ]),
  );
  console.log(`unexpected answers: ${figures.unexpected}; table filled in ${(figures.fillMs / 1000).toFixed(1)} s`);
}
