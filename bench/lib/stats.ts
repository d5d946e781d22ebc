/**
 * Pure helpers of the table benchmark: summarising timed batches, combining
 * threads, formatting the printed table and checking the targets.
 *
 * A timed loop runs its operations in batches (for example 1,000 gets) and
 * records one sample per batch: the batch's nanoseconds divided by its
 * operations. The median of those samples is the headline figure (robust to
 * a GC pause or a descheduled thread landing in a few batches); the mean is
 * the run's whole timed span divided by its operations, pauses included.
 *
 * @module
 */

/** What one thread's timed loop reports. */
export interface ThreadRun {
  /** Nanoseconds per operation of each batch. */
  samples: number[];
  /** Operations timed (batches x batch size). */
  ops: number;
  /** Nanoseconds from the start of the first batch to the end of the last. */
  elapsedNs: number;
}

/** Figures of one operation of one variant. */
export interface Summary {
  threads: number;
  ops: number;
  batches: number;
  /** Median over batches of nanoseconds per operation (all threads' batches pooled). */
  medianNs: number;
  /** Timed nanoseconds per operation, averaged over threads. */
  meanNs: number;
  /** Fastest and slowest batch, nanoseconds per operation. */
  minNs: number;
  maxNs: number;
  /** 90th percentile of the batches, nanoseconds per operation. */
  p90Ns: number;
  /** Operations per second of all threads together (total operations / longest thread's span). */
  opsPerSec: number;
}

/** The `q`-quantile (0 to 1) of `values` with linear interpolation; NaN when empty. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be from 0 to 1, got ${q}`);
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export const median = (values: ArrayLike<number>): number => quantile(values, 0.5);

export function mean(values: ArrayLike<number>): number {
  if (values.length === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/**
 * Combines the runs of threads that ran the same loop at the same time (one
 * run for the single-thread case).
 */
export function summarize(runs: readonly ThreadRun[]): Summary {
  if (runs.length === 0) throw new RangeError('summarize needs at least one run');
  const samples: number[] = [];
  let ops = 0;
  let longest = 0;
  for (const run of runs) {
    if (!(run.ops > 0 && run.elapsedNs > 0)) throw new RangeError('a run must have positive ops and elapsedNs');
    for (const s of run.samples) samples.push(s);
    ops += run.ops;
    longest = Math.max(longest, run.elapsedNs);
  }
  return {
    threads: runs.length,
    ops,
    batches: samples.length,
    medianNs: median(samples),
    meanNs: mean(runs.map((r) => r.elapsedNs / r.ops)),
    minNs: Math.min(...samples),
    maxNs: Math.max(...samples),
    p90Ns: quantile(samples, 0.9),
    opsPerSec: (ops / longest) * 1e9,
  };
}

/**
 * One figure from repetitions of the same measurement: the median of their
 * medians, of their means and of their operations per second (min and max
 * over all of them; ops and batches summed).
 */
export function combineRepetitions(repetitions: readonly Summary[]): Summary {
  if (repetitions.length === 0) throw new RangeError('combineRepetitions needs at least one summary');
  const of = (field: keyof Summary): number[] => repetitions.map((r) => r[field]);
  return {
    threads: repetitions[0].threads,
    ops: of('ops').reduce((a, b) => a + b, 0),
    batches: of('batches').reduce((a, b) => a + b, 0),
    medianNs: median(of('medianNs')),
    meanNs: median(of('meanNs')),
    minNs: Math.min(...of('minNs')),
    maxNs: Math.max(...of('maxNs')),
    p90Ns: median(of('p90Ns')),
    opsPerSec: median(of('opsPerSec')),
  };
}

// ---- printing -------------------------------------------------------------

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/** Nanoseconds with one decimal under 100, whole above, thousands separated. */
export const formatNs = (ns: number): string => (ns < 100 ? oneDecimal : integer).format(ns);
export const formatCount = (n: number): string => integer.format(n);

export interface Row {
  operation: string;
  summary: Summary;
}

/** A fixed-width text table: operation, ns/op median, ns/op mean, ops/s. */
export function formatTable(title: string, rows: readonly Row[]): string {
  const header = ['operation', 'ns/op median', 'ns/op mean', 'ops/s'];
  const cells = rows.map((r) => [
    r.operation,
    formatNs(r.summary.medianNs),
    formatNs(r.summary.meanNs),
    formatCount(r.summary.opsPerSec),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string =>
    c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [title, line(header), rule, ...cells.map(line)].join('\n');
}

// ---- targets --------------------------------------------------------------

export interface Target {
  name: string;
  /** The measured figure, in the unit of `limit`. */
  measured: number;
  limit: number;
  /** Whether `measured` must stay at or below (`max`) or reach at least (`min`) the limit. */
  kind: 'max' | 'min';
  unit: string;
  pass: boolean;
  /** The printed line, e.g. `PASS  get (hit) median <= 1 µs: 0.62 µs`. */
  line: string;
}

export function target(name: string, measured: number, kind: 'max' | 'min', limit: number, unit: string): Target {
  const pass = kind === 'max' ? measured <= limit : measured >= limit;
  const digits = Math.abs(measured) >= 100 ? 0 : 2;
  const shown = `${measured.toFixed(digits)}${unit}`;
  const wanted = `${kind === 'max' ? '<=' : '>='} ${limit}${unit}`;
  return { name, measured, limit, kind, unit, pass, line: `${pass ? 'PASS' : 'MISS'}  ${name} ${wanted}: ${shown}` };
}

/** The figures the project's acceptance targets are checked against. */
export interface TargetInputs {
  /** Shared table, one thread. */
  hit1: Summary;
  set1: Summary;
  /** Shared table, two threads. */
  hit2: Summary;
  /** Map behind postMessage round trips. */
  postMessageHit: Summary;
}

export function checkTargets(f: TargetInputs): Target[] {
  return [
    target('shared table get (hit) median, 1 thread,', f.hit1.medianNs / 1000, 'max', 1, ' µs'),
    target('shared table set median, 1 thread,', f.set1.medianNs / 1000, 'max', 2, ' µs'),
    target(
      'shared table get (hit) vs postMessage store, median ns/op ratio,',
      f.postMessageHit.medianNs / f.hit1.medianNs,
      'min',
      20,
      'x',
    ),
    target('shared table get (hit) 2 threads vs 1 thread, ops/s ratio,', f.hit2.opsPerSec / f.hit1.opsPerSec, 'min', 1.6, 'x'),
  ];
}
