/**
 * Command line and environment of the load benchmark (pure: no I/O).
 * A flag wins over its environment variable, which wins over the default
 * (the `--quick` default when quick).
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../lib/config/kinds.ts';

/**
 * Protocols, and how the client uses its sessions: `tls12-id` (TLS 1.2 by
 * session ID), `tls12-ticket` (TLS 1.2 tickets), `tls13` (TLS 1.3, the
 * client re-offers its last ticket), `tls13-once` (TLS 1.3, each ticket
 * used once, as browsers and curl do: RFC 8446 appendix C.4).
 */
export const PROTOCOLS = ['tls12-id', 'tls12-ticket', 'tls13', 'tls13-once'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Whether a protocol runs TLS 1.3. */
export function isTls13(protocol: Protocol): boolean {
  return protocol === 'tls13' || protocol === 'tls13-once';
}
export const KEY_TYPES = ['rsa', 'ecdsa'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** Every mode, in the order runs and tables show them. */
export const MODES = ['none', 'per-worker', 'shared', 'nginx', 'nginx-proxy', 'redis', 'cluster', 'redis-cluster', 'cluster-redis'] as const;
export type ModeName = (typeof MODES)[number];
/**
 * How a `node:cluster` primary hands connections to its workers
 * (`NODE_CLUSTER_SCHED_POLICY`): `rr`, Node's default on Linux (the primary
 * accepts every connection and passes it to a worker over IPC), or `none`
 * (the workers accept from one shared socket themselves).
 */
const CLUSTER_SCHEDULINGS = ['rr', 'none'] as const;
export type ClusterScheduling = (typeof CLUSTER_SCHEDULINGS)[number];

export interface LoadConfig {
  /** Server worker counts; the whole matrix runs once per count. */
  workers: number[];
  /** Concurrent client connections (loops), spread over the client threads. */
  connections: number;
  /** piscina threads running the client loops. */
  clientThreads: number;
  /** Length of each measured window in ms; `undefined` when only `handshakes` bounds it. */
  durationMs: number | undefined;
  /** Handshakes after which a window ends; `undefined` when only the duration bounds it. */
  handshakes: number | undefined;
  /** Unmeasured time before each window (connections warm up, sessions are made). */
  warmupMs: number;
  /**
   * Windows per mode and scenario: the scenario's servers all stay up and
   * the modes take turns, in a rotating order, so that a machine that gets
   * busier or quieter during the run weighs on every mode alike.
   */
  rounds: number;
  /** Share (0 to 1) of handshakes that offer the connection's last session. */
  returning: number;
  /**
   * HTTP/1.1 requests each connection sends after its handshake, one after
   * another on the same connection (a small GET answered `ok`); 0 for
   * handshakes only. With requests, the Node modes serve HTTPS
   * (`https.createServer`) and the report adds CPU per 1,000 requests and
   * request latency.
   */
  requests: number;
  protocols: Protocol[];
  keys: KeyType[];
  /**
   * Key exchange groups the clients offer (`tls.connect`'s `ecdhCurve`, e.g.
   * `X25519:P-256`); `undefined` for Node's default list, which with
   * OpenSSL 3.5 puts the post-quantum hybrid X25519MLKEM768 first.
   */
  groups: string | undefined;
  modes: ModeName[];
  /** Scheduling of the `node:cluster` modes (`cluster`, `cluster-redis`). */
  clusterScheduling: ClusterScheduling;
  quick: boolean;
  /** Results directory. */
  out: string | undefined;
  /** Also write the SVG chart here (the committed chart docs/benchmarks.md shows). */
  chart: string | undefined;
  help: boolean;
}

/** Flags, their environment variables, and what they mean; the usage text is built from it. */
export const OPTIONS = [
  { flag: 'workers', env: 'BENCH_WORKERS', arg: 'N[,N...]', text: 'server worker threads (processes for nginx); one pass per count', full: '1,2', quick: '1,2' },
  { flag: 'connections', env: 'BENCH_CONNECTIONS', arg: 'N', text: 'concurrent client connections', full: '16', quick: '16' },
  { flag: 'client-threads', env: 'BENCH_CLIENT_THREADS', arg: 'N', text: 'client worker threads (piscina)', full: 'min(2, cores)', quick: 'min(2, cores)' },
  { flag: 'duration', env: 'BENCH_DURATION', arg: 'TIME', text: 'measured time per window (500ms, 10s, 1m; bare number = seconds)', full: '3s', quick: '1500ms' },
  { flag: 'handshakes', env: 'BENCH_HANDSHAKES', arg: 'N', text: 'end a window after N measured handshakes (with --duration: whichever first)', full: 'none', quick: 'none' },
  { flag: 'warmup', env: 'BENCH_WARMUP', arg: 'TIME', text: 'unmeasured warm-up before each window', full: '500ms', quick: '500ms' },
  { flag: 'rounds', env: 'BENCH_ROUNDS', arg: 'N', text: 'windows per mode; modes take turns in rotating order on servers kept running', full: '2', quick: '2' },
  { flag: 'returning', env: 'BENCH_RETURNING', arg: 'SHARE', text: 'share of handshakes offering the last session, 0 to 1 (or 0% to 100%)', full: '1', quick: '1' },
  { flag: 'requests', env: 'BENCH_REQUESTS', arg: 'N', text: 'HTTP/1.1 requests per connection after its handshake (0: handshakes only)', full: '0', quick: '0' },
  { flag: 'protocol', env: 'BENCH_PROTOCOL', arg: 'P[,P...]', text: `protocols: ${PROTOCOLS.join(', ')}`, full: PROTOCOLS.join(','), quick: 'tls12-id' },
  { flag: 'key', env: 'BENCH_KEY', arg: 'K[,K...]', text: `certificate keys: rsa (RSA-2048), ecdsa (P-256)`, full: 'rsa', quick: 'rsa' },
  { flag: 'groups', env: 'BENCH_GROUPS', arg: 'G[:G...]', text: "key exchange groups the clients offer, e.g. X25519:P-256 (servers pick from them)", full: "Node's", quick: "Node's" },
  { flag: 'modes', env: 'BENCH_MODES', arg: 'M[,M...]', text: `modes: ${MODES.join(', ')} (nginx, nginx-proxy and the redis modes are skipped when nginx, redis-server or redis-cli is not on the PATH)`, full: MODES.join(','), quick: MODES.join(',') },
  { flag: 'cluster-scheduling', env: 'BENCH_CLUSTER_SCHEDULING', arg: 'S', text: "how the node:cluster modes' primaries hand connections over: rr (Node's default: the primary accepts each and passes it on) or none (the workers accept themselves)", full: 'rr', quick: 'rr' },
  { flag: 'out', env: 'BENCH_OUT', arg: 'DIR', text: 'results directory', full: 'bench/results', quick: 'bench/results' },
  { flag: 'chart', env: 'BENCH_CHART', arg: 'FILE', text: 'also write the SVG chart to FILE (e.g. bench/load-chart.svg)', full: 'none', quick: 'none' },
] as const;

type OptionFlag = (typeof OPTIONS)[number]['flag'];

export const USAGE = [
  'Usage: node bench/load.ts [--quick] [options]   (npm run bench -- [options])',
  '',
  '  --quick                  a smaller matrix for a smoke run (under 2 minutes on 2 cores); env BENCH_QUICK=1',
  ...OPTIONS.map((o) => {
    const left = `  --${o.flag} ${o.arg}`.padEnd(27);
    const defaults = o.full === o.quick ? `default ${o.full}` : `default ${o.full}; ${o.quick} with --quick`;
    return `${left}${o.text} (${defaults}); env ${o.env}`;
  }),
  '  --help                   print this text',
].join('\n');

/** Splits a comma list, trimmed, without empty items. */
function list(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function oneOf<T extends string>(name: string, text: string, allowed: readonly T[]): T[] {
  const items = list(text);
  if (items.length === 0) throw new RangeError(`--${name} expects one or more of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new RangeError(`--${name}: unknown ${JSON.stringify(item)}; expected ${allowed.join(', ')}`);
    }
  }
  return [...new Set(items)] as T[];
}

function positiveInteger(name: string, text: string, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  const trimmed = text.trim().replaceAll('_', '');
  const n = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new RangeError(`--${name} expects an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

function duration(name: string, text: string, allowZero: boolean): number {
  const ms = parseDuration(text);
  if (ms === undefined || (!allowZero && ms === 0)) {
    throw new RangeError(`--${name} expects a duration such as 500ms, 10s or 1m (a bare number is seconds), got ${JSON.stringify(text)}`);
  }
  return ms;
}

/** `1`, `0.5`, `50%`. */
function share(name: string, text: string): number {
  const trimmed = text.trim();
  const percent = trimmed.endsWith('%');
  const body = percent ? trimmed.slice(0, -1).trim() : trimmed;
  const value = /^(\d+(\.\d+)?|\.\d+)$/.test(body) ? Number(body) / (percent ? 100 : 1) : NaN;
  if (!(value >= 0 && value <= 1)) throw new RangeError(`--${name} expects a share from 0 to 1 (or 0% to 100%), got ${JSON.stringify(text)}`);
  return value;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);

/**
 * Parses `process.argv.slice(2)` and the environment. Throws a RangeError
 * (or parseArgs' TypeError) naming the flag on bad input; a bad environment
 * variable is reported under its flag's name and the variable's.
 */
export function parseLoadArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}, cores = availableParallelism()): LoadConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ...Object.fromEntries(OPTIONS.map((o) => [o.flag, { type: 'string' as const }])),
      quick: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  const flags = values as Record<string, string | boolean | undefined>;
  const quick = flags.quick === true || (flags.quick === undefined && TRUE.has((env.BENCH_QUICK ?? '').trim().toLowerCase()));
  /** The flag's text, else its variable's, else undefined; with a label for messages. */
  const raw = (flag: OptionFlag): { text: string; label: string } | undefined => {
    const option = OPTIONS.find((o) => o.flag === flag)!;
    const given = flags[flag];
    if (typeof given === 'string') return { text: given, label: flag };
    const fromEnv = env[option.env];
    if (fromEnv !== undefined && fromEnv.trim() !== '') return { text: fromEnv, label: `${flag} (from ${option.env})` };
    return undefined;
  };
  const read = <T>(flag: OptionFlag, parse: (label: string, text: string) => T, fallback: T): T => {
    const found = raw(flag);
    return found === undefined ? fallback : parse(found.label, found.text);
  };

  const workers = read('workers', (label, text) => {
    const items = list(text).map((item) => positiveInteger(label, item, 256));
    if (items.length === 0) throw new RangeError(`--${label} expects one or more worker counts, got ${JSON.stringify(text)}`);
    return [...new Set(items)].sort((a, b) => a - b);
  }, [1, 2]);
  const connections = read('connections', (l, t) => positiveInteger(l, t, 10_000), 16);
  const clientThreads = read('client-threads', (l, t) => positiveInteger(l, t, 256), Math.max(1, Math.min(2, cores)));
  if (clientThreads > connections) {
    throw new RangeError(`--client-threads (${clientThreads}) must not exceed --connections (${connections}): each thread runs at least one connection`);
  }
  const handshakes = read('handshakes', (l, t) => positiveInteger(l, t), undefined as number | undefined);
  const durationGiven = raw('duration') !== undefined;
  const durationMs = read('duration', (l, t) => duration(l, t, false), handshakes !== undefined && !durationGiven ? undefined : quick ? 1500 : 3000);
  const warmupMs = read('warmup', (l, t) => duration(l, t, true), 500);
  const rounds = read('rounds', (l, t) => positiveInteger(l, t, 100), 2);
  const returning = read('returning', share, 1);
  const requests = read('requests', (l, t) => positiveInteger(l, t, 10_000, 0), 0);
  const protocols = read('protocol', (l, t) => oneOf(l, t, PROTOCOLS), quick ? ['tls12-id'] : [...PROTOCOLS]);
  const keys = read('key', (l, t) => oneOf(l, t, KEY_TYPES), ['rsa']);
  const modes = read('modes', (l, t) => oneOf(l, t, MODES), [...MODES]);
  return {
    workers,
    connections,
    clientThreads,
    durationMs,
    handshakes,
    warmupMs,
    rounds,
    returning,
    requests,
    // Always in the canonical order, whatever order they were given in.
    protocols: PROTOCOLS.filter((p) => protocols.includes(p)),
    keys: KEY_TYPES.filter((k) => keys.includes(k)),
    groups: read('groups', (label, text) => {
      if (!/^[A-Za-z0-9_-]+(:[A-Za-z0-9_-]+)*$/.test(text.trim())) throw new RangeError(`--${label} expects group names separated by colons, such as X25519:P-256, got ${JSON.stringify(text)}`);
      return text.trim();
    }, undefined as string | undefined),
    modes: MODES.filter((m) => modes.includes(m)),
    clusterScheduling: read('cluster-scheduling', (label, text) => {
      const [one, ...more] = oneOf(label, text, CLUSTER_SCHEDULINGS);
      if (more.length > 0) throw new RangeError(`--${label} expects one of ${CLUSTER_SCHEDULINGS.join(', ')}, got ${JSON.stringify(text)}`);
      return one!;
    }, 'rr' as ClusterScheduling),
    quick,
    out: read('out', (_l, t) => t, undefined as string | undefined),
    chart: read('chart', (_l, t) => t, undefined as string | undefined),
    help: flags.help === true,
  };
}

/** Connections of each client thread: as even as possible, the first threads taking the remainder. */
export function splitConnections(connections: number, threads: number): number[] {
  const base = Math.floor(connections / threads);
  return Array.from({ length: threads }, (_, i) => base + (i < connections % threads ? 1 : 0));
}
