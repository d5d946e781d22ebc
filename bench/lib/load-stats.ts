/**
 * Pure parts of the load benchmark: merging what the client threads
 * measured into one run's figures, comparing modes measured in the same
 * run as ratios, checking the targets, and printing the table.
 *
 * @module
 */
import * as hdr from 'hdr-histogram-js';
import type { ClientPart, Negotiated } from '../load-client.ts';
import { MODES, PROTOCOLS, KEY_TYPES, type KeyType, type ModeName, type Protocol } from './load-args.ts';
import { formatCount } from './stats.ts';

const MiB = 1024 * 1024;

/** Handshake latency in milliseconds, from an HdrHistogram of microseconds. */
interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** What identifies a run within a benchmark: the server and what the clients speak. */
export interface RunKey {
  mode: ModeName;
  protocol: Protocol;
  key: KeyType;
  workers: number;
}

/** What the runner measured around the clients. */
export interface Measurement {
  /** The measured window, seconds. */
  windowSeconds: number;
  connections: number;
  clientThreads: number;
  returning: number;
  /** Server process tree's CPU seconds over the window; `undefined` when unknown. */
  serverCpuSeconds: number | undefined;
  /** Server process tree's resident memory at the end of the window. */
  serverMemory: { rssBytes: number; peakRssBytes: number; processes: number } | undefined;
  /** This process's CPU seconds over the window (the client threads and the runner). */
  clientCpuSeconds: number;
  /** What the server counted, when it can tell (hooks, table statistics). */
  serverCounters: unknown;
}

/**
 * The measurements of several windows of one mode as one: times, CPU and
 * counts add up; memory is the last window's (`undefined` when any is).
 */
export function combineMeasurements(windows: readonly Measurement[]): Measurement {
  if (windows.length === 0) throw new RangeError('combineMeasurements needs at least one window');
  const last = windows[windows.length - 1];
  const cpu = windows.map((w) => w.serverCpuSeconds);
  return {
    ...last,
    windowSeconds: windows.reduce((total, w) => total + w.windowSeconds, 0),
    serverCpuSeconds: cpu.includes(undefined) ? undefined : (cpu as number[]).reduce((total, c) => total + c, 0),
    clientCpuSeconds: windows.reduce((total, w) => total + w.clientCpuSeconds, 0),
  };
}

/** Every figure of one mode in one scenario (all its windows together). */
export interface RunResult extends RunKey {
  /** Measured windows (rounds) added up in these figures. */
  windows: number;
  /** Their total length, seconds. */
  windowSeconds: number;
  connections: number;
  clientThreads: number;
  returning: number;
  handshakes: number;
  full: number;
  resumed: number;
  /** Handshakes that offered a session. */
  offered: number;
  /** HTTP requests answered (`--requests`); 0 for handshakes only. */
  requests: number;
  errors: number;
  errorSamples: string[];
  handshakesPerSecond: number;
  fullPerSecond: number;
  resumedPerSecond: number;
  requestsPerSecond: number;
  /** Resumed / offered: of the handshakes that offered a session, the share that resumed; `null` when none offered. */
  resumptionRatio: number | null;
  /** Handshake latencies (all, full, resumed) and, with `--requests`, request latency. */
  latency: { all: LatencySummary; full: LatencySummary; resumed: LatencySummary; requests: LatencySummary };
  /** Every handshake's latency (µs), HdrHistogram compressed base64, to re-read later. */
  histogram: string;
  serverCpuSeconds: number | null;
  /** Server CPU seconds per 1,000 handshakes (full and resumed together). */
  serverCpuSecondsPer1000: number | null;
  /** CPU seconds of every serving process per 1,000 HTTP requests; `null` without requests. */
  serverCpuSecondsPer1000Requests: number | null;
  serverRssMiB: number | null;
  serverPeakRssMiB: number | null;
  serverProcesses: number | null;
  clientCpuSeconds: number;
  negotiated: Negotiated | undefined;
  serverCounters: unknown;
}

function summarizeLatency(histogram: hdr.Histogram): LatencySummary {
  const ms = (micros: number): number => Math.round(micros) / 1000;
  if (histogram.totalCount === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  return {
    count: histogram.totalCount,
    meanMs: ms(histogram.mean),
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  };
}

/** Decodes and adds encoded histograms (one per client thread). */
export function mergeHistograms(encoded: readonly string[]): hdr.Histogram {
  const total = hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, autoResize: true });
  for (const text of encoded) total.add(hdr.decodeFromCompressedBase64(text));
  return total;
}

/** One run's figures from its client threads' parts (of every window) and the runner's measurement (see {@link combineMeasurements}). */
export function runFigures(key: RunKey, parts: readonly ClientPart[], measurement: Measurement, windows = 1): RunResult {
  const sum = (pick: (part: ClientPart) => number): number => parts.reduce((total, part) => total + pick(part), 0);
  const handshakes = sum((p) => p.handshakes);
  const resumed = sum((p) => p.resumed);
  const offered = sum((p) => p.offered);
  const all = mergeHistograms(parts.map((p) => p.histograms.all));
  const full = mergeHistograms(parts.map((p) => p.histograms.full));
  const resumedHistogram = mergeHistograms(parts.map((p) => p.histograms.resumed));
  const requestHistogram = mergeHistograms(parts.flatMap((p) => (p.histograms.requests === undefined ? [] : [p.histograms.requests])));
  const requests = sum((p) => p.requests ?? 0);
  const seconds = measurement.windowSeconds;
  const perSecond = (count: number): number => (seconds > 0 ? count / seconds : 0);
  const cpu = measurement.serverCpuSeconds;
  const memory = measurement.serverMemory;
  return {
    ...key,
    windows,
    windowSeconds: seconds,
    connections: measurement.connections,
    clientThreads: measurement.clientThreads,
    returning: measurement.returning,
    handshakes,
    full: handshakes - resumed,
    resumed,
    offered,
    requests,
    errors: sum((p) => p.errors),
    errorSamples: [...new Set(parts.flatMap((p) => p.errorSamples))].slice(0, 5),
    handshakesPerSecond: perSecond(handshakes),
    fullPerSecond: perSecond(handshakes - resumed),
    resumedPerSecond: perSecond(resumed),
    requestsPerSecond: perSecond(requests),
    resumptionRatio: offered > 0 ? resumed / offered : null,
    latency: { all: summarizeLatency(all), full: summarizeLatency(full), resumed: summarizeLatency(resumedHistogram), requests: summarizeLatency(requestHistogram) },
    histogram: hdr.encodeIntoCompressedBase64(all),
    serverCpuSeconds: cpu ?? null,
    serverCpuSecondsPer1000: cpu !== undefined && handshakes > 0 ? (cpu / handshakes) * 1000 : null,
    serverCpuSecondsPer1000Requests: cpu !== undefined && requests > 0 ? (cpu / requests) * 1000 : null,
    serverRssMiB: memory ? memory.rssBytes / MiB : null,
    serverPeakRssMiB: memory ? memory.peakRssBytes / MiB : null,
    serverProcesses: memory ? memory.processes : null,
    clientCpuSeconds: measurement.clientCpuSeconds,
    negotiated: parts.find((p) => p.negotiated !== undefined)?.negotiated,
    serverCounters: measurement.serverCounters,
  };
}

/** The order of the modes in round `round`: rotated by one each round, so no mode always goes first. */
export function roundOrder<T>(modes: readonly T[], round: number): T[] {
  const shift = modes.length === 0 ? 0 : round % modes.length;
  return [...modes.slice(shift), ...modes.slice(0, shift)];
}

// ---- comparisons -----------------------------------------------------------

type ComparedMetric = 'resumedPerSecond' | 'handshakesPerSecond' | 'serverCpuSecondsPer1000' | 'serverCpuSecondsPer1000Requests';

/** A ratio of two modes' figures, measured in the same benchmark run. */
export interface Comparison {
  protocol: Protocol;
  key: KeyType;
  workers: number;
  numerator: ModeName;
  denominator: ModeName;
  metric: ComparedMetric;
  /** numerator / denominator; `null` when the denominator is 0 or unknown. */
  ratio: number | null;
}

/** The pairs the report compares: `shared` against every other mode present. */
const PAIRS: ReadonlyArray<[ModeName, ModeName]> = [
  ['shared', 'per-worker'],
  ['shared', 'none'],
  ['shared', 'nginx'],
  // nginx terminating TLS in front of Node (issue 24): what operators would otherwise deploy.
  ['shared', 'nginx-proxy'],
  // Two hosts through Redis against one host's shared memory: what the second level costs.
  ['redis', 'shared'],
  // node:cluster worker processes through the primary over IPC against worker threads on shared memory.
  ['cluster', 'shared'],
  // A Redis Cluster of 3 masters against one redis-server; node:cluster apps against the runtime's threads, both on Redis.
  ['redis-cluster', 'redis'],
  ['cluster-redis', 'redis'],
];
const METRICS: readonly ComparedMetric[] = ['resumedPerSecond', 'handshakesPerSecond', 'serverCpuSecondsPer1000', 'serverCpuSecondsPer1000Requests'];

export function ratio(numerator: number | null, denominator: number | null): number | null {
  if (numerator === null || denominator === null || !(denominator > 0)) return null;
  return numerator / denominator;
}

/** Groups runs by protocol, key and worker count, in canonical order. */
export function scenarios(runs: readonly RunResult[]): Array<{ protocol: Protocol; key: KeyType; workers: number; runs: Map<ModeName, RunResult> }> {
  const groups = new Map<string, { protocol: Protocol; key: KeyType; workers: number; runs: Map<ModeName, RunResult> }>();
  const ordered = [...runs].sort(
    (a, b) =>
      PROTOCOLS.indexOf(a.protocol) - PROTOCOLS.indexOf(b.protocol) ||
      KEY_TYPES.indexOf(a.key) - KEY_TYPES.indexOf(b.key) ||
      a.workers - b.workers ||
      MODES.indexOf(a.mode) - MODES.indexOf(b.mode),
  );
  for (const run of ordered) {
    const id = `${run.protocol}/${run.key}/${run.workers}`;
    let group = groups.get(id);
    if (group === undefined) {
      group = { protocol: run.protocol, key: run.key, workers: run.workers, runs: new Map() };
      groups.set(id, group);
    }
    group.runs.set(run.mode, run);
  }
  return [...groups.values()];
}

export function compareModes(runs: readonly RunResult[]): Comparison[] {
  const comparisons: Comparison[] = [];
  for (const group of scenarios(runs)) {
    for (const [numerator, denominator] of PAIRS) {
      const a = group.runs.get(numerator);
      const b = group.runs.get(denominator);
      if (a === undefined || b === undefined) continue;
      for (const metric of METRICS) {
        // Per request only where requests were made (--requests).
        if (metric === 'serverCpuSecondsPer1000Requests' && (a[metric] === null || b[metric] === null)) continue;
        comparisons.push({ protocol: group.protocol, key: group.key, workers: group.workers, numerator, denominator, metric, ratio: ratio(a[metric], b[metric]) });
      }
    }
  }
  return comparisons;
}

const METRIC_LABELS: Record<ComparedMetric, string> = {
  resumedPerSecond: 'resumed/s',
  handshakesPerSecond: 'handshakes/s',
  serverCpuSecondsPer1000: 'server CPU per 1,000 handshakes',
  serverCpuSecondsPer1000Requests: 'server CPU per 1,000 requests',
};

const formatRatio = (value: number | null): string => (value === null ? 'n/a' : `${value.toFixed(2)}x`);

/** One line per compared pair: `tls12-id rsa, 2 workers: shared / per-worker: resumed/s 1.90x, ...`. */
export function formatComparisons(comparisons: readonly Comparison[]): string[] {
  const lines = new Map<string, string[]>();
  for (const c of comparisons) {
    const head = `${c.protocol} ${c.key}, ${c.workers} worker${c.workers === 1 ? '' : 's'}: ${c.numerator} / ${c.denominator}:`;
    const parts = lines.get(head) ?? [];
    const note = c.ratio === null && c.metric === 'resumedPerSecond' ? ` (${c.denominator} resumed none)` : '';
    parts.push(`${METRIC_LABELS[c.metric]} ${formatRatio(c.ratio)}${note}`);
    lines.set(head, parts);
  }
  return [...lines].map(([head, parts]) => `${head} ${parts.join(', ')}`);
}

// ---- targets -----------------------------------------------------------------

/** One of the targets: a figure to report, not a test (the run exits 0 either way). */
export interface LoadTarget {
  name: string;
  measured: number | null;
  /** What was wanted, in words: `>= 0.99`, `about 0.50`, `= 0`. */
  wanted: string;
  pass: boolean;
  line: string;
}

function loadTarget(name: string, measured: number | null, wanted: string, check: (value: number) => boolean, asPercent: boolean): LoadTarget {
  const pass = measured !== null && check(measured);
  const shown = measured === null ? 'not measured' : asPercent ? `${(measured * 100).toFixed(1)}%` : formatRatio(measured);
  return { name, measured, wanted, pass, line: `${pass ? 'PASS' : 'MISS'}  ${name} ${wanted}: ${shown}` };
}

/** How far from 1/workers a per-worker resumption ratio may be and still count as "about". */
const ABOUT = 0.15;

/**
 * The targets, for every protocol and key measured:
 * - at the largest worker count (2 or more), resumption ratio: `shared`
 *   at least 99%, `per-worker` about 1/workers (50% with 2), `none` 0% for
 *   session IDs;
 * - with 1 worker, `shared` resumed handshakes per second at least 95% of
 *   `per-worker` (a Map in its thread, the best a cache can do here).
 */
export function checkLoadTargets(runs: readonly RunResult[]): LoadTarget[] {
  const targets: LoadTarget[] = [];
  const groups = scenarios(runs);
  for (const group of groups) {
    const label = `${group.protocol} ${group.key}, ${group.workers} worker${group.workers === 1 ? '' : 's'},`;
    const largest = Math.max(...groups.filter((g) => g.protocol === group.protocol && g.key === group.key).map((g) => g.workers));
    const run = (mode: ModeName): RunResult | undefined => group.runs.get(mode);
    if (group.workers >= 2 && group.workers === largest) {
      const shared = run('shared');
      const perWorker = run('per-worker');
      const none = run('none');
      if (shared) targets.push(loadTarget(`${label} shared resumption ratio`, shared.resumptionRatio, '>= 99%', (v) => v >= 0.99, true));
      if (perWorker) {
        const expected = 1 / group.workers;
        targets.push(
          loadTarget(`${label} per-worker resumption ratio`, perWorker.resumptionRatio, `about ${(expected * 100).toFixed(0)}%`, (v) => Math.abs(v - expected) <= ABOUT, true),
        );
      }
      if (none && group.protocol === 'tls12-id') {
        targets.push(loadTarget(`${label} none resumption ratio`, none.resumptionRatio, '= 0%', (v) => v === 0, true));
      }
    }
    // Issue 7: clients alternating between two hosts resume through Redis at least 99% of the time.
    const redis = run('redis');
    if (redis) {
      targets.push(loadTarget(`${label} redis (two hosts, clients alternating) resumption ratio`, redis.resumptionRatio, '>= 99%', (v) => v >= 0.99, true));
    }
    // Issue 16: the same across hosts through a Redis Cluster, and across hosts of node:cluster processes.
    for (const [mode, what] of [['redis-cluster', 'two hosts on a Redis Cluster'], ['cluster-redis', 'two hosts of node:cluster processes on Redis']] as const) {
      const multi = run(mode);
      if (multi) targets.push(loadTarget(`${label} ${mode} (${what}, clients alternating) resumption ratio`, multi.resumptionRatio, '>= 99%', (v) => v >= 0.99, true));
    }
    // Issue 6: node:cluster worker processes resume each other's sessions at least 99% of the time.
    const processes = run('cluster');
    if (processes) {
      targets.push(loadTarget(`${label} cluster (worker processes) resumption ratio`, processes.resumptionRatio, '>= 99%', (v) => v >= 0.99, true));
    }
    if (group.workers === 1) {
      const shared = run('shared');
      const perWorker = run('per-worker');
      if (shared && perWorker) {
        targets.push(
          loadTarget(`${label} shared / per-worker (Map in its thread) resumed handshakes/s`, ratio(shared.resumedPerSecond, perWorker.resumedPerSecond), '>= 0.95x', (v) => v >= 0.95, false),
        );
      }
    }
  }
  return targets;
}

// ---- printing ------------------------------------------------------------------

const twoDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const threeDecimals = new Intl.NumberFormat('en-US', { minimumFractionDigits: 3, maximumFractionDigits: 3 });

/** A fixed-width table of every run, in canonical order. */
export function formatRunsTable(runs: readonly RunResult[]): string {
  // With --requests: request rate, request p99 and CPU per 1,000 requests too.
  const requests = runs.some((r) => (r.requests ?? 0) > 0);
  const header = ['mode', 'protocol', 'key', 'workers', 'handshakes/s', 'full/s', 'resumed/s', 'resumed', 'p50 ms', 'p99 ms', 'p99.9 ms', 'CPU s/1k', 'RSS MiB', 'errors',
    ...(requests ? ['req/s', 'req p99 ms', 'CPU s/1k req'] : [])];
  const rows = scenarios(runs).flatMap((group) =>
    [...group.runs.values()].map((r) => [
      r.mode,
      r.protocol,
      r.key,
      String(r.workers),
      formatCount(r.handshakesPerSecond),
      formatCount(r.fullPerSecond),
      formatCount(r.resumedPerSecond),
      r.resumptionRatio === null ? 'n/a' : `${oneDecimal.format(r.resumptionRatio * 100)}%`,
      twoDecimals.format(r.latency.all.p50Ms),
      twoDecimals.format(r.latency.all.p99Ms),
      twoDecimals.format(r.latency.all.p999Ms),
      r.serverCpuSecondsPer1000 === null ? 'n/a' : threeDecimals.format(r.serverCpuSecondsPer1000),
      r.serverRssMiB === null ? 'n/a' : oneDecimal.format(r.serverRssMiB),
      formatCount(r.errors),
      ...(requests
        ? [
          formatCount(r.requestsPerSecond),
          twoDecimals.format(r.latency.requests.p99Ms),
          r.serverCpuSecondsPer1000Requests === null ? 'n/a' : threeDecimals.format(r.serverCpuSecondsPer1000Requests),
        ]
        : []),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
