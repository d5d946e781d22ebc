/**
 * Command line of the table benchmark (pure: no I/O).
 *
 * @module
 */
import { parseArgs } from 'node:util';

export interface BenchConfig {
  /** Sessions loaded into the table (and the Map) before measuring. */
  entries: number;
  quick: boolean;
  /** Table size in bytes, derived from `entries` (256 MiB per million). */
  tableBytes: number;
  /** Operations per timed batch. */
  batchSize: number;
  /** Timed batches per thread, shared table and Map. */
  batches: number;
  /** Untimed batches run first, per thread. */
  warmupBatches: number;
  /**
   * Times each shared-table measurement is taken, the 1- and 2-thread ones
   * interleaved; a figure is the median of its repetitions, so that a slow
   * spell of a shared machine moves one repetition, not the figure.
   */
  repeats: number;
  /** Timed and warm-up batches of the postMessage store (it is slow). */
  postMessageBatches: number;
  postMessageWarmupBatches: number;
  help: boolean;
}

export const USAGE = `Usage: node bench/table.ts [--entries N] [--quick] [--batches N] [--repeats N]

  --entries N   sessions loaded before measuring (default 1000000; 100000 with --quick)
  --quick       fewer entries and batches, for a smoke run (~20 s)
  --batches N   timed batches of 1,000 operations per thread and operation
                (default 400; 60 with --quick)
  --repeats N   repetitions of each shared-table measurement, interleaved; each
                figure is their median (default 3; 1 with --quick)
  --help        print this text`;

const MiB = 1024 * 1024;
/** The table holds a million typical sessions in 256 MiB; keep that ratio. */
const BYTES_PER_MILLION = 256 * MiB;
const MAX_TABLE_BYTES = 2 * 1024 * MiB;

/** Whole MiB at the ratio of 256 MiB per million entries, at least 1 MiB. */
export function tableBytesFor(entries: number): number {
  return Math.max(1, Math.ceil((entries * BYTES_PER_MILLION) / 1e6 / MiB)) * MiB;
}

function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+(_\d{3})*$/.test(raw.trim())) throw new RangeError(`--${name} expects a positive integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw.trim().replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`--${name} expects a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Parses `process.argv.slice(2)`. Throws a RangeError or TypeError on bad input. */
export function parseBenchArgs(argv: readonly string[]): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      entries: { type: 'string' },
      batches: { type: 'string' },
      repeats: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const quick = values.quick === true;
  const entries = positiveInteger('entries', values.entries, quick ? 100_000 : 1_000_000);
  const tableBytes = tableBytesFor(entries);
  if (tableBytes > MAX_TABLE_BYTES) {
    throw new RangeError(`--entries ${entries} needs a table over 2 GiB, the largest there is`);
  }
  const batches = positiveInteger('batches', values.batches, quick ? 60 : 400);
  const repeats = positiveInteger('repeats', values.repeats, quick ? 1 : 3);
  return {
    entries,
    quick,
    tableBytes,
    batchSize: 1000,
    batches,
    warmupBatches: quick ? 10 : 200,
    repeats,
    postMessageBatches: quick ? 10 : 40,
    postMessageWarmupBatches: quick ? 2 : 5,
    help: values.help === true,
  };
}
