/**
 * What `tls-resumption status` shows of an owner of the cache (the cache
 * daemon, a `node:cluster` primary running `startClusterCache()`, the
 * thread runtime's primary): an {@link OwnerStatus}, read from the same
 * shared counters, table statistics and ticket key ring as the Prometheus
 * metrics (`operations/metrics.ts`), so that every figure matches
 * `/metrics` read at the same moment.
 *
 * The figures "over the last minute" are the difference between now and
 * a sample of the counters taken at most a minute ago: the primary samples
 * them every {@link SAMPLE_INTERVAL_MS} ms ({@link StatusHistory}), so the
 * span is between 55 and 60 seconds once the owner has run that long, and
 * since its start before (`lastMinute.seconds` says which).
 *
 * Nothing secret is in it: counts, sizes, ages, pids, and a Redis URL with
 * its password replaced (`config/redact.ts`).
 *
 * @module
 */
import { SESSION_AGE_BUCKETS_S, sessionAgeCounts, type CounterValues } from '../operations/counters.ts';
import type { TableStats } from '../table/session-table.ts';
import { MISSES } from '../tls/resumption-misses.ts';

/** Protocol labels of `handshakes_total`. */
export const PROTOCOLS = ['TLSv1.2', 'TLSv1.3', 'other'] as const;
/** Reason labels of `evictions_total`. */
const EVICTION_REASONS = ['expired', 'capacity', 'overflow', 'repair', 'cleared'] as const;

/** Counts of one span: since start, or over the last minute. */
export interface StatusCounts {
  /** `handshakes_total{result, protocol}`. */
  handshakes: Record<'full' | 'resumed', Record<(typeof PROTOCOLS)[number], number>>;
  /** `resumption_misses_total{method, reason}`, every pair of the metric. */
  misses: Record<'session_id' | 'ticket', Record<string, number>>;
  /** `evictions_total{reason}`. */
  evictions: Record<(typeof EVICTION_REASONS)[number], number>;
  /**
   * `resumed_session_age_seconds{method}`: how many resumed sessions fell in
   * each bucket of `SESSION_AGE_BUCKETS_S` (not cumulative), the last entry
   * those older than the last bound; {@link sessionAgeQuantile} reads them.
   */
  sessionAges: Record<'session_id' | 'ticket', number[]>;
}

/** One process or thread attached to the owner. */
export interface AttachedWorker {
  /** Its process id (a thread's is the runtime's process). */
  pid: number;
  /** Threads only: the worker's number (1 to `workers`) and its thread id. */
  workerId?: number;
  threadId?: number;
  /** Threads only: whether it listens now. */
  listening?: boolean;
}

/** What an owner says of itself; see the module's documentation. */
export interface OwnerStatus {
  /** This shape's version. */
  version: 1;
  /** Which owner: the cache daemon, a `node:cluster` primary, or the thread runtime's primary. */
  kind: 'daemon' | 'primary' | 'threads';
  pid: number;
  /** The socket it answered on. */
  socket: string;
  node: string;
  /** Clock milliseconds: when its cache started, and when this was read. */
  startedAt: number;
  now: number;
  /** `workers` and `workers_listening`: threads, `node:cluster` worker processes, or processes attached to the daemon. */
  workers: { configured: number; listening: number };
  /** The ports its servers listen on (the daemon's and a primary's: those their processes told them); absent from an older version's answer. */
  ports?: number[];
  /** The processes (or threads) attached, at most {@link MAX_ATTACHED} of them. */
  attached: AttachedWorker[];
  /** `entries`, `capacity_entries`, `bytes_in_use`, `capacity_bytes`. */
  table: { entries: number; capacityEntries: number; bytesInUse: number; capacityBytes: number };
  sinceStart: StatusCounts;
  /** The same over the last minute (`seconds` long: less while the owner is younger than a minute). */
  lastMinute: StatusCounts & { seconds: number };
  /** The ticket key ring; `null` when tickets are off. */
  tickets: {
    /** `ticket_keys`: keys that still decrypt. */
    keys: number;
    /** `ticket_key_age_seconds`: how long the current key has encrypted. */
    currentKeyAgeSeconds: number;
    /** Seconds until the next scheduled rotation; `null` for keys from files (never rotated on a schedule). */
    nextRotationSeconds: number | null;
    /** Where the keys come from. */
    source: 'random' | 'files' | 'redis';
  } | null;
  /** Redis, when `TLS_CACHE_REDIS_URL` is set; else `null`. */
  redis: {
    mode: string;
    /** The URL, its password replaced by `***`. */
    url: string;
    namespace: string;
    /** Whether the owner's connection is ready now. */
    connected: boolean;
    /** Other hosts of the deployment seen announcing through Redis (in the last 15 s), and those serving another certificate (`fleet_hosts_other_certificate`). */
    otherHosts: number;
    hostsWithOtherCertificate: number;
  } | null;
}

/** The most attached workers listed in one status (the rest are counted in `workers`). */
export const MAX_ATTACHED = 1000;
/** How often the counters are sampled for the last minute's figures, in ms. */
const SAMPLE_INTERVAL_MS = 5000;
/** The span of the "last minute" figures, in ms. */
const LAST_MINUTE_MS = 60_000;

/** The counts of one moment, from the shared counters and the table's statistics. */
export function countsOf(values: CounterValues, stats: Pick<TableStats, 'evictions'>): StatusCounts {
  const misses: StatusCounts['misses'] = { session_id: {}, ticket: {} };
  for (const { method, reason, counter } of MISSES) misses[method][reason] = values[counter];
  return {
    handshakes: {
      full: { 'TLSv1.2': values.fullTls12, 'TLSv1.3': values.fullTls13, other: values.fullOther },
      resumed: { 'TLSv1.2': values.resumedTls12, 'TLSv1.3': values.resumedTls13, other: values.resumedOther },
    },
    misses,
    evictions: { ...stats.evictions },
    sessionAges: { session_id: sessionAgeCounts(values, 'session_id'), ticket: sessionAgeCounts(values, 'ticket') },
  };
}

/**
 * The `q` quantile (0 to 1) of the session ages counted in `ages` (a
 * {@link StatusCounts.sessionAges} entry), in seconds, interpolated within
 * its bucket as Prometheus's `histogram_quantile()` does (past the last
 * bound: the last bound); `null` when none was counted.
 */
export function sessionAgeQuantile(ages: readonly number[], q: number): number | null {
  const total = ages.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < SESSION_AGE_BUCKETS_S.length; i++) {
    if (below + ages[i] >= rank && ages[i] > 0) {
      const lower = i === 0 ? 0 : SESSION_AGE_BUCKETS_S[i - 1];
      return lower + (SESSION_AGE_BUCKETS_S[i] - lower) * ((rank - below) / ages[i]);
    }
    below += ages[i];
  }
  return SESSION_AGE_BUCKETS_S[SESSION_AGE_BUCKETS_S.length - 1];
}

/** `now` minus `before`, figure by figure. */
function countsBetween(now: StatusCounts, before: StatusCounts): StatusCounts {
  const minus = <K extends string>(a: Record<K, number>, b: Record<K, number>): Record<K, number> =>
    Object.fromEntries(Object.entries(a).map(([key, value]) => [key, (value as number) - (b[key as K] ?? 0)])) as Record<K, number>;
  return {
    handshakes: { full: minus(now.handshakes.full, before.handshakes.full), resumed: minus(now.handshakes.resumed, before.handshakes.resumed) },
    misses: { session_id: minus(now.misses.session_id, before.misses.session_id), ticket: minus(now.misses.ticket, before.misses.ticket) },
    evictions: minus(now.evictions, before.evictions),
    sessionAges: {
      session_id: now.sessionAges.session_id.map((n, i) => n - (before.sessionAges.session_id[i] ?? 0)),
      ticket: now.sessionAges.ticket.map((n, i) => n - (before.sessionAges.ticket[i] ?? 0)),
    },
  };
}

/**
 * Samples of the counts, every {@link SAMPLE_INTERVAL_MS} ms for the last
 * minute, for {@link StatusHistory.lastMinute}. The first sample is the
 * start (every count zero).
 */
export class StatusHistory {
  readonly #read: () => StatusCounts;
  readonly #clock: () => number;
  readonly #samples: Array<{ at: number; counts: StatusCounts }>;
  readonly #timer: NodeJS.Timeout;

  constructor(read: () => StatusCounts, clock: () => number = Date.now) {
    this.#read = read;
    this.#clock = clock;
    this.#samples = [{ at: clock(), counts: read() }];
    this.#timer = setInterval(() => this.#sample(), SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** The counts since the oldest sample of the last minute, and how many seconds that spans. */
  lastMinute(now: StatusCounts): StatusCounts & { seconds: number } {
    const at = this.#clock();
    const base = this.#samples.find((sample) => sample.at >= at - LAST_MINUTE_MS) ?? this.#samples[this.#samples.length - 1];
    return { ...countsBetween(now, base.counts), seconds: Math.round((at - base.at) / 100) / 10 };
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.#timer);
  }

  #sample(): void {
    const at = this.#clock();
    this.#samples.push({ at, counts: this.#read() });
    while (this.#samples.length > 1 && this.#samples[0].at < at - LAST_MINUTE_MS) this.#samples.shift();
  }
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isCountsOf = (value: unknown, keys?: readonly string[]): boolean =>
  value !== null &&
  typeof value === 'object' &&
  !Array.isArray(value) &&
  Object.values(value).every(isCount) &&
  (keys === undefined || keys.every((key) => isCount((value as Record<string, unknown>)[key])));
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

const isAges = (value: unknown): boolean => Array.isArray(value) && value.length === SESSION_AGE_BUCKETS_S.length + 1 && value.every(isCount);

function isStatusCounts(value: unknown): value is StatusCounts {
  if (!isObject(value) || !isObject(value.handshakes) || !isObject(value.misses)) return false;
  return (
    isCountsOf(value.handshakes.full, PROTOCOLS) &&
    isCountsOf(value.handshakes.resumed, PROTOCOLS) &&
    isCountsOf(value.misses.session_id) &&
    isCountsOf(value.misses.ticket) &&
    isCountsOf(value.evictions, EVICTION_REASONS) &&
    isObject(value.sessionAges) &&
    isAges(value.sessionAges.session_id) &&
    isAges(value.sessionAges.ticket)
  );
}

/**
 * An owner's answer as the status client may print it, or `undefined`
 * when it is not a well-formed {@link OwnerStatus} of this version.
 */
export function readOwnerStatus(value: unknown): OwnerStatus | undefined {
  if (!isObject(value) || value.version !== 1) return undefined;
  const { kind, workers, attached, table, lastMinute, tickets, redis } = value;
  if (kind !== 'daemon' && kind !== 'primary' && kind !== 'threads') return undefined;
  if (!isCount(value.pid) || typeof value.socket !== 'string' || typeof value.node !== 'string' || !isCount(value.startedAt) || !isCount(value.now)) return undefined;
  if (!isCountsOf(workers, ['configured', 'listening']) || !isCountsOf(table, ['entries', 'capacityEntries', 'bytesInUse', 'capacityBytes'])) return undefined;
  if (value.ports !== undefined && !(Array.isArray(value.ports) && value.ports.every((port) => Number.isInteger(port) && port >= 0 && port <= 65535))) return undefined;
  if (!Array.isArray(attached) || attached.length > MAX_ATTACHED || !attached.every((a) => isObject(a) && isCount(a.pid))) return undefined;
  if (!isStatusCounts(value.sinceStart) || !isStatusCounts(lastMinute) || !isCount((lastMinute as { seconds?: unknown }).seconds)) return undefined;
  if (tickets !== null) {
    if (!isObject(tickets) || !isCount(tickets.keys) || !isCount(tickets.currentKeyAgeSeconds)) return undefined;
    if (tickets.nextRotationSeconds !== null && !isCount(tickets.nextRotationSeconds)) return undefined;
    if (tickets.source !== 'random' && tickets.source !== 'files' && tickets.source !== 'redis') return undefined;
  }
  if (redis !== null) {
    if (!isObject(redis) || typeof redis.mode !== 'string' || typeof redis.url !== 'string' || typeof redis.namespace !== 'string') return undefined;
    if (typeof redis.connected !== 'boolean' || !isCount(redis.otherHosts) || !isCount(redis.hostsWithOtherCertificate)) return undefined;
  }
  return value as unknown as OwnerStatus;
}
