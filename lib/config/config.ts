/**
 * Settings of the cache and of the cluster runtime, read from programmatic
 * options and `TLS_CACHE_*` environment variables.
 *
 * Every setting is declared once in {@link SETTINGS}: its option name, its
 * variable, its kind (which decides how text is parsed), its default as a
 * person writes it, and its range. {@link loadConfig} resolves each one in
 * this order: the programmatic option, then the environment variable, then
 * the default. {@link settingsTable} renders the same list for the README.
 *
 * Text values, from the environment or given as option strings, take units:
 *
 * - sizes: a plain number is bytes; `B`, `KiB`/`MiB`/`GiB` (1024),
 *   `KB`/`MB`/`GB` (1000) and `K`/`M`/`G` (1024, as nginx's `10m`), in any
 *   case. A decimal is accepted when it makes whole bytes (`1.5KiB`).
 * - durations: `ms`, `s`, `m`, `h`, `d` (lower case); a bare number is
 *   seconds. `timeout` must come out in whole seconds.
 * - integers: plain decimal digits.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { InvalidEnvironmentError, InvalidOptionError } from '../errors.ts';

/** The resolved configuration; see {@link SETTINGS} for the variables. */
export interface CacheConfig {
  /**
   * Bytes of shared memory for the session table, metadata included.
   * `TLS_CACHE_SIZE`; from 64 KiB to 2 GiB.
   * @defaultValue 33554432 (32 MiB)
   */
  size: number;
  /**
   * Largest session stored, in bytes. `TLS_CACHE_MAX_SESSION_SIZE`; from 1 to 65536.
   * @defaultValue 8192 (8 KiB)
   */
  maxSessionSize: number;
  /**
   * Lifetime of a stored session, in whole seconds (Node's TLS
   * `sessionTimeout`). `TLS_CACHE_TIMEOUT`; from 1 to 604800 (7 days).
   * @defaultValue 300 (5 minutes)
   */
  timeout: number;
  /**
   * Period of the sweep of expired sessions, in milliseconds; 0 turns it off.
   * `TLS_CACHE_SWEEP_INTERVAL`.
   * @defaultValue 10000
   */
  sweepInterval: number;
  /**
   * Number of worker threads. `TLS_CACHE_WORKERS`; from 1 to 256.
   * @defaultValue `os.availableParallelism()`, at most 256
   */
  workers: number;
  /**
   * How long open connections may finish after SIGTERM or SIGINT, in
   * milliseconds. `TLS_CACHE_SHUTDOWN_TIMEOUT`.
   * @defaultValue 10000
   */
  shutdownTimeout: number;
  /**
   * First delay before restarting a crashed worker, in milliseconds; it
   * doubles with each quick crash. `TLS_CACHE_RESTART_DELAY`.
   * @defaultValue 100
   */
  restartDelay: number;
  /**
   * Longest delay before restarting a crashed worker, in milliseconds; never
   * less than `restartDelay`. `TLS_CACHE_MAX_RESTART_DELAY`.
   * @defaultValue 10000
   */
  maxRestartDelay: number;
  /**
   * Pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or
   * `silent`. `TLS_CACHE_LOG_LEVEL`.
   * @defaultValue `'info'`
   */
  logLevel: string;
  /**
   * Period of the debug-level cache statistics log line, in milliseconds;
   * 0 turns it off. `TLS_CACHE_STATS_INTERVAL`.
   * @defaultValue 60000
   */
  statsInterval: number;
  /**
   * Whether session tickets are issued, with keys shared by every worker
   * (`'on'`), or not at all (`'off'`: servers must then be created with
   * `SSL_OP_NO_TICKET`, and TLS 1.2 clients resume by session ID).
   * `TLS_CACHE_TICKETS`.
   * @defaultValue `'on'`
   */
  tickets: 'on' | 'off';
  /**
   * How long a ticket key encrypts before the next one takes over, in
   * milliseconds; it then decrypts for the session timeout more.
   * `TLS_CACHE_TICKET_ROTATE`; from 1 s to 24 days, and frequent enough at
   * most 62 times per session timeout.
   * @defaultValue the session timeout (`timeout * 1000`)
   */
  ticketRotate: number;
  /**
   * nginx `ssl_session_ticket_key` files (48 bytes each), comma-separated:
   * the first key encrypts, the others decrypt; no scheduled rotation.
   * Empty for random keys. `TLS_CACHE_TICKET_KEY_FILE`.
   * @defaultValue `''` (random keys)
   */
  ticketKeyFile: string;
  /**
   * Port of the primary's HTTP endpoint serving `/metrics` (Prometheus) and
   * `/health`; 0 turns it off. `TLS_CACHE_METRICS_PORT`; from 0 to 65535.
   * @defaultValue 0 (off)
   */
  metricsPort: number;
  /**
   * Address the metrics endpoint listens on. `TLS_CACHE_METRICS_HOST`.
   * @defaultValue `'127.0.0.1'`
   */
  metricsHost: string;
  /**
   * Period of the info-level summary log line (resumption ratio, handshakes,
   * entries, evictions), in milliseconds; 0 turns it off.
   * `TLS_CACHE_SUMMARY_INTERVAL`.
   * @defaultValue 60000
   */
  summaryInterval: number;
  /**
   * The TLS session ID context of every server (Node's `sessionIdContext`
   * option, at most 32 bytes). OpenSSL resumes a session only under the
   * context it was made in, and Node's own default is a hash of
   * `process.argv`, which differs between processes and hosts started with
   * other command lines: every process and host of one deployment must use
   * the same. `TLS_CACHE_SESSION_ID_CONTEXT`.
   * @defaultValue `'tls-session-cache'`
   */
  sessionIdContext: string;
  /**
   * node:cluster worker processes: how long a lookup over IPC may wait for
   * the primary before the handshake goes on as a miss, in milliseconds.
   * `TLS_CACHE_IPC_TIMEOUT`.
   * @defaultValue 5
   */
  ipcTimeout: number;
  /**
   * node:cluster worker processes: bytes of each process's own bounded copy
   * of the sessions it has seen; 0 turns it off. `TLS_CACHE_LOCAL_SIZE`.
   * @defaultValue 1048576 (1 MiB)
   */
  localSize: number;
  /**
   * Redis server shared by the hosts of a deployment, as a `redis://` or
   * `rediss://` URL (it may carry a password: it is never logged). Empty:
   * no Redis, sessions stay on this host. `TLS_CACHE_REDIS_URL`.
   * @defaultValue `''` (off)
   */
  redisUrl: string;
  /**
   * How long a handshake may wait for Redis before going on as a miss, in
   * milliseconds. `TLS_CACHE_REDIS_TIMEOUT`.
   * @defaultValue 5
   */
  redisTimeout: number;
  /**
   * The secret every host of a deployment shares, from which the key that
   * encrypts and authenticates sessions and ticket keys in Redis is derived;
   * at least 32 characters (e.g. `openssl rand -base64 32`). Required with
   * `redisUrl`; never logged. `TLS_CACHE_REDIS_SECRET`.
   * @defaultValue `''` (none)
   */
  redisSecret: string;
  /**
   * Prefix of every Redis key of this deployment, so unrelated deployments
   * can share one Redis. `TLS_CACHE_REDIS_NAMESPACE`.
   * @defaultValue `'tls-session-cache'`
   */
  redisNamespace: string;
}

/**
 * How a setting's text is read:
 * - `size`: bytes, with an optional unit;
 * - `duration`: milliseconds, with an optional unit (a bare number is seconds);
 * - `seconds`: like `duration`, but the result is whole seconds;
 * - `integer`: a plain decimal integer;
 * - `level`: a pino log level;
 * - `switch`: `on` or `off`;
 * - `paths`: file paths separated by commas (empty: none);
 * - `host`: an IP address or `localhost`;
 * - `name`: 1 to 32 printable ASCII characters, no spaces;
 * - `url`: a `redis://` or `rediss://` URL (empty: none);
 * - `secret`: at least 32 characters (empty: none).
 */
export type SettingKind = 'size' | 'duration' | 'seconds' | 'integer' | 'level' | 'switch' | 'paths' | 'host' | 'name' | 'url' | 'secret';

/** One entry of {@link SETTINGS}. */
export interface Setting {
  /** Name of the programmatic option (a key of {@link CacheConfig}). */
  readonly option: keyof CacheConfig;
  /** Name of the environment variable. */
  readonly env: string;
  /** How its text is parsed. */
  readonly kind: SettingKind;
  /** The default as a person writes it, e.g. `32MiB`. */
  readonly default: string;
  /** What it does, in a sentence or two. */
  readonly description: string;
  /** Smallest value, in the option's unit (bytes, ms or seconds); absent for `logLevel`. */
  readonly min?: number;
  /** Largest value, in the option's unit; absent for `logLevel`. */
  readonly max?: number;
  /** Valid values as a person would write them, shown in error messages. */
  readonly examples: readonly string[];
  /**
   * Whether the value may hold a secret (a password in a URL, a key): error
   * messages never quote it, and {@link redactConfig} hides it from logs.
   */
  readonly secret?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Node.js timers hold at most 2^31 - 1 ms (24.8 days); this is that, in whole days. */
const MAX_TIMER = 24 * DAY;
const MAX_WORKERS = 256;
/** Keys alive at once are the rotations per timeout plus two; the ring holds 64. */
const MAX_ROTATIONS_PER_TIMEOUT = 62;
/** Bytes of an nginx `ssl_session_ticket_key` file that Node can use. */
const TICKET_KEY_FILE_BYTES = 48;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The declarations, keyed by option so that tsc proves every option has one. */
const DECLARATIONS = {
  size: {
    env: 'TLS_CACHE_SIZE',
    kind: 'size',
    default: '32MiB',
    description:
      'Shared memory for the session table, metadata included; allocated once at startup and never grown. ' +
      '32MiB holds about 160,000 typical TLS 1.2 sessions.',
    min: 64 * KiB,
    max: 2 * GiB,
    examples: ['64MiB', '512KiB', '1GiB'],
  },
  maxSessionSize: {
    env: 'TLS_CACHE_MAX_SESSION_SIZE',
    kind: 'size',
    default: '8KiB',
    description: 'Largest serialized TLS session the cache stores; larger sessions are not stored.',
    min: 1,
    max: 64 * KiB,
    examples: ['8KiB', '16KiB', '4096'],
  },
  timeout: {
    env: 'TLS_CACHE_TIMEOUT',
    kind: 'seconds',
    default: '5m',
    description:
      'How long a session can be resumed, counted from when it was stored ' +
      "(Node's TLS `sessionTimeout`, so whole seconds).",
    min: 1,
    max: 7 * 24 * 3600,
    examples: ['300', '5m', '1h'],
  },
  sweepInterval: {
    env: 'TLS_CACHE_SWEEP_INTERVAL',
    kind: 'duration',
    default: '10s',
    description: 'How often expired sessions are removed from the table; 0 turns the sweep off.',
    min: 0,
    max: MAX_TIMER,
    examples: ['10s', '500ms', '1m'],
  },
  workers: {
    env: 'TLS_CACHE_WORKERS',
    kind: 'integer',
    default: 'os.availableParallelism()',
    description: 'Number of worker threads serving connections.',
    min: 1,
    max: MAX_WORKERS,
    examples: ['4', '16'],
  },
  shutdownTimeout: {
    env: 'TLS_CACHE_SHUTDOWN_TIMEOUT',
    kind: 'duration',
    default: '10s',
    description: 'On SIGTERM or SIGINT, how long open connections may finish before they are closed.',
    min: 0,
    max: MAX_TIMER,
    examples: ['10s', '30s', '1m'],
  },
  restartDelay: {
    env: 'TLS_CACHE_RESTART_DELAY',
    kind: 'duration',
    default: '100ms',
    description:
      'Delay before restarting a crashed worker; it doubles with each crash that follows quickly, ' +
      'up to the maximum restart delay.',
    min: 1,
    max: MAX_TIMER,
    examples: ['100ms', '1s', '2s'],
  },
  maxRestartDelay: {
    env: 'TLS_CACHE_MAX_RESTART_DELAY',
    kind: 'duration',
    default: '10s',
    description: 'Longest delay before restarting a worker that keeps crashing; at least the restart delay.',
    min: 1,
    max: MAX_TIMER,
    examples: ['10s', '30s', '1m'],
  },
  logLevel: {
    env: 'TLS_CACHE_LOG_LEVEL',
    kind: 'level',
    default: 'info',
    description: 'Least severe pino level logged: fatal, error, warn, info, debug, trace or silent.',
    examples: [],
  },
  statsInterval: {
    env: 'TLS_CACHE_STATS_INTERVAL',
    kind: 'duration',
    default: '1m',
    description: 'How often cache statistics are logged at debug level; 0 turns them off.',
    min: 0,
    max: MAX_TIMER,
    examples: ['1m', '30s', '5m'],
  },
  tickets: {
    env: 'TLS_CACHE_TICKETS',
    kind: 'switch',
    default: 'on',
    description:
      'Session tickets with keys shared by every worker (on), or none (off: servers need SSL_OP_NO_TICKET, ' +
      'and TLS 1.2 clients resume by session ID).',
    examples: [],
  },
  ticketRotate: {
    env: 'TLS_CACHE_TICKET_ROTATE',
    kind: 'duration',
    default: 'TLS_CACHE_TIMEOUT',
    description:
      'How long a ticket key encrypts new tickets; it then only decrypts for the session timeout more, then is erased. ' +
      'At most 62 rotations per session timeout.',
    min: SECOND,
    max: MAX_TIMER,
    examples: ['5m', '1h', '30s'],
  },
  ticketKeyFile: {
    env: 'TLS_CACHE_TICKET_KEY_FILE',
    kind: 'paths',
    default: 'none',
    description:
      "nginx ssl_session_ticket_key files (48 bytes each), comma-separated: the first key encrypts, the others decrypt; " +
      'no scheduled rotation. Without them, keys are random.',
    examples: [],
  },
  metricsPort: {
    env: 'TLS_CACHE_METRICS_PORT',
    kind: 'integer',
    default: '0',
    description: 'Port of the HTTP endpoint serving /metrics (Prometheus) and /health, in the primary; 0 turns it off.',
    min: 0,
    max: 65535,
    examples: ['9464', '0'],
  },
  metricsHost: {
    env: 'TLS_CACHE_METRICS_HOST',
    kind: 'host',
    default: '127.0.0.1',
    description: 'Address the metrics endpoint listens on (0.0.0.0 or :: for every address).',
    examples: ['127.0.0.1', '0.0.0.0', '::'],
  },
  summaryInterval: {
    env: 'TLS_CACHE_SUMMARY_INTERVAL',
    kind: 'duration',
    default: '1m',
    description: 'How often a summary line (resumption ratio, handshakes, entries, evictions) is logged at info level; 0 turns it off.',
    min: 0,
    max: MAX_TIMER,
    examples: ['1m', '30s', '5m'],
  },
  sessionIdContext: {
    env: 'TLS_CACHE_SESSION_ID_CONTEXT',
    kind: 'name',
    default: 'tls-session-cache',
    description:
      "TLS session ID context of every server: sessions resume only under the context they were made in, and Node's default " +
      '(a hash of the command line) differs between processes and hosts. Use one value per deployment.',
    examples: ['tls-session-cache', 'shop-frontend'],
  },
  ipcTimeout: {
    env: 'TLS_CACHE_IPC_TIMEOUT',
    kind: 'duration',
    default: '5ms',
    description:
      'node:cluster worker processes: how long a lookup waits for the primary over IPC before the handshake goes on as a miss.',
    min: 1,
    max: 10 * SECOND,
    examples: ['5ms', '20ms', '1s'],
  },
  localSize: {
    env: 'TLS_CACHE_LOCAL_SIZE',
    kind: 'size',
    default: '1MiB',
    description: "node:cluster worker processes: memory for each process's own copy of the sessions it has seen; 0 turns it off.",
    min: 0,
    max: 256 * MiB,
    examples: ['1MiB', '256KiB', '0'],
  },
  redisUrl: {
    env: 'TLS_CACHE_REDIS_URL',
    kind: 'url',
    default: 'none',
    description:
      'Redis shared by the hosts of a deployment (redis:// or rediss://, may carry a password, never logged); ' +
      'without it, sessions and ticket keys stay on this host.',
    examples: ['redis://127.0.0.1:6379', 'rediss://:password@redis.internal:6380/2'],
    secret: true,
  },
  redisTimeout: {
    env: 'TLS_CACHE_REDIS_TIMEOUT',
    kind: 'duration',
    default: '5ms',
    description: 'How long a handshake waits for Redis before going on as a miss.',
    min: 1,
    max: 10 * SECOND,
    examples: ['5ms', '20ms', '1s'],
  },
  redisSecret: {
    env: 'TLS_CACHE_REDIS_SECRET',
    kind: 'secret',
    default: 'none',
    description:
      'Secret shared by every host of a deployment, at least 32 characters (openssl rand -base64 32); sessions and ticket keys ' +
      'are encrypted and authenticated in Redis under a key derived from it. Required with TLS_CACHE_REDIS_URL; never logged.',
    examples: [],
    secret: true,
  },
  redisNamespace: {
    env: 'TLS_CACHE_REDIS_NAMESPACE',
    kind: 'name',
    default: 'tls-session-cache',
    description: 'Prefix of every Redis key of this deployment, so unrelated deployments can share one Redis.',
    examples: ['tls-session-cache', 'shop-frontend'],
  },
} satisfies Record<keyof CacheConfig, Omit<Setting, 'option'>>;

/**
 * Every setting, in the order of {@link CacheConfig}. Frozen.
 */
export const SETTINGS: readonly Setting[] = Object.freeze(
  Object.entries(DECLARATIONS).map(([option, declaration]): Setting =>
    Object.freeze({ option: option as keyof CacheConfig, ...declaration, examples: Object.freeze(declaration.examples) }),
  ),
);

/** Defaults that are not constants, computed when a configuration is loaded. */
const COMPUTED_DEFAULTS: Partial<Record<keyof CacheConfig, () => number | string>> = {
  workers: () => Math.min(MAX_WORKERS, availableParallelism()),
  // Set from the timeout once it is known (loadConfig).
  ticketRotate: () => 0,
  ticketKeyFile: () => '',
  redisUrl: () => '',
  redisSecret: () => '',
};

/** Shortest Redis secret: 32 characters, as `openssl rand -hex 16` or `-base64 24` make. */
const MIN_SECRET_LENGTH = 32;

type Parsed<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

/** The rules of one {@link SettingKind}. */
interface Kind {
  /** What malformed text is not: `"x" is not a size`. */
  readonly noun: string;
  /** The expected form of text, followed by the setting's examples and the note. */
  readonly form: string;
  readonly note: string;
  /** A number option: its unit as a noun, and as a whole number; absent when numbers are refused. */
  readonly number?: { readonly noun: string; readonly whole: string; readonly unit: string };
  /** Reads text into the option's unit. */
  readonly parse: (text: string) => Parsed<number | string>;
  /** Writes a value in the option's unit as a person would. */
  readonly format: (value: number) => string;
}

const SIZE_UNITS = new Map<string, number>([
  ['', 1], ['b', 1],
  ['k', KiB], ['kib', KiB], ['kb', 1000],
  ['m', MiB], ['mib', MiB], ['mb', 1000 ** 2],
  ['g', GiB], ['gib', GiB], ['gb', 1000 ** 3],
]);
const DURATION_UNITS = new Map<string, number>([
  ['', SECOND], ['ms', 1], ['s', SECOND], ['m', MINUTE], ['h', HOUR], ['d', DAY],
]);
const NUMBER_WITH_UNIT = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i;
const DURATION_NOTE = ' (units ms, s, m, h or d; a bare number means seconds)';

/**
 * Multiplies a decimal string by an integer exactly. Returns undefined when
 * the product is not a whole number.
 */
function scale(digits: string, multiplier: number): number | undefined {
  const [whole, fraction = ''] = digits.split('.');
  const product = BigInt(whole + fraction) * BigInt(multiplier);
  const divisor = 10n ** BigInt(fraction.length);
  return product % divisor === 0n ? Number(product / divisor) : undefined;
}

function readSize(text: string): Parsed<number> {
  const match = NUMBER_WITH_UNIT.exec(text.trim());
  const multiplier = match ? SIZE_UNITS.get(match[2].toLowerCase()) : undefined;
  if (!match || multiplier === undefined) return { problem: 'is not a size' };
  const bytes = scale(match[1], multiplier);
  return bytes === undefined ? { problem: 'is not a whole number of bytes' } : { value: bytes };
}

function readDuration(text: string): Parsed<number> {
  const match = NUMBER_WITH_UNIT.exec(text.trim());
  const multiplier = match ? DURATION_UNITS.get(match[2]) : undefined;
  if (!match || multiplier === undefined) return { problem: 'is not a duration' };
  const ms = scale(match[1], multiplier);
  return ms === undefined ? { problem: 'is not a whole number of milliseconds' } : { value: ms };
}

function readSeconds(text: string): Parsed<number> {
  const ms = readDuration(text);
  if (ms.problem !== undefined) return ms;
  if (ms.value % SECOND !== 0) {
    return { problem: "is not a whole number of seconds, which Node's TLS session timeout requires" };
  }
  return { value: ms.value / SECOND };
}

function readInteger(text: string): Parsed<number> {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? { value: Number(trimmed) } : { problem: 'is not an integer' };
}

function readSwitch(text: string): Parsed<string> {
  const value = text.trim().toLowerCase();
  return value === 'on' || value === 'off' ? { value } : { problem: 'is not on or off' };
}

/** An IPv4 or IPv6 address, or `localhost`: a bind address, no port. */
function readHost(text: string): Parsed<string> {
  const value = text.trim();
  return isIP(value) !== 0 || value.toLowerCase() === 'localhost' ? { value } : { problem: 'is not an IP address or localhost' };
}

/** Ticket key files: each must be a readable 48-byte file now (its bytes are read by the runtime, never here). */
function readPaths(text: string): Parsed<string> {
  const paths = text.split(',').map((path) => path.trim());
  if (paths.some((path) => path === '')) return { problem: 'holds an empty path' };
  for (const path of paths) {
    let size: number;
    try {
      const stats = statSync(path);
      if (!stats.isFile()) return { problem: `names ${quote(path)}, which is not a file` };
      size = stats.size;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { problem: `names ${quote(path)}, which cannot be read${typeof code === 'string' ? ` (${code})` : ''}` };
    }
    if (size !== TICKET_KEY_FILE_BYTES) {
      const hint = size === 80 ? "; nginx's 80-byte AES-256 keys are not supported" : '';
      return { problem: `names ${quote(path)}, which is ${size} bytes, not ${TICKET_KEY_FILE_BYTES}${hint}` };
    }
  }
  return { value: paths.join(',') };
}

/** Names and contexts: printable ASCII, no spaces, 1 to 32 characters (OpenSSL's limit on a session ID context). */
function readName(text: string): Parsed<string> {
  const value = text.trim();
  return /^[\x21-\x7e]{1,32}$/.test(value) ? { value } : { problem: 'is not 1 to 32 printable ASCII characters without spaces' };
}

/** A Redis URL; the problem never repeats the URL (it may hold a password). */
function readRedisUrl(text: string): Parsed<string> {
  const value = text.trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: 'is not a URL' };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    return { problem: `has the scheme ${JSON.stringify(url.protocol)}, not redis: or rediss:` };
  }
  if (url.hostname === '') return { problem: 'names no host' };
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) {
    return { problem: 'has a path that is not a database number' };
  }
  return { value };
}

function readSecret(text: string): Parsed<string> {
  return text.length >= MIN_SECRET_LENGTH
    ? { value: text }
    : { problem: `is ${text.length} characters, fewer than ${MIN_SECRET_LENGTH}` };
}

function readLevel(text: string): Parsed<string> {
  const level = text.trim().toLowerCase();
  return LOG_LEVELS.includes(level) ? { value: level } : { problem: 'is not a log level' };
}

/**
 * Writes a byte count in the largest binary unit that divides it: `32MiB`,
 * `1536B`.
 */
export function formatSize(bytes: number): string {
  for (const [unit, factor] of [['GiB', GiB], ['MiB', MiB], ['KiB', KiB]] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${unit}`;
  }
  return `${bytes}B`;
}

/**
 * Writes milliseconds in the largest unit that divides them: `5m`, `1500ms`;
 * 0 is `0`.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, factor] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND]] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

const KINDS: Readonly<Record<SettingKind, Kind>> = {
  size: {
    noun: 'a size',
    form: 'a number with an optional unit',
    note: '',
    number: { noun: 'a number of bytes', whole: 'a whole number of bytes', unit: 'bytes' },
    parse: readSize,
    format: formatSize,
  },
  duration: {
    noun: 'a duration',
    form: 'a number with an optional unit',
    note: DURATION_NOTE,
    number: { noun: 'a number of milliseconds', whole: 'a whole number of milliseconds', unit: 'milliseconds' },
    parse: readDuration,
    format: formatDuration,
  },
  seconds: {
    noun: 'a duration in whole seconds',
    form: 'a whole number of seconds with an optional unit',
    note: DURATION_NOTE,
    number: { noun: 'a number of seconds', whole: 'a whole number of seconds', unit: 'seconds' },
    parse: readSeconds,
    format: (seconds) => formatDuration(seconds * SECOND),
  },
  integer: {
    noun: 'an integer',
    form: 'a whole decimal number',
    note: '',
    number: { noun: 'an integer', whole: 'an integer', unit: '' },
    parse: readInteger,
    format: String,
  },
  level: {
    noun: 'a log level',
    form: `one of ${orList(LOG_LEVELS)}`,
    note: '',
    parse: readLevel,
    format: String,
  },
  switch: {
    noun: 'on or off',
    form: 'on or off',
    note: '',
    parse: readSwitch,
    format: String,
  },
  host: {
    noun: 'an address',
    form: 'an IPv4 or IPv6 address, or localhost',
    note: '',
    parse: readHost,
    format: String,
  },
  name: {
    noun: 'a name',
    form: '1 to 32 printable ASCII characters without spaces',
    note: '',
    parse: readName,
    format: String,
  },
  url: {
    noun: 'a Redis URL',
    form: 'a redis:// or rediss:// URL',
    note: '',
    parse: readRedisUrl,
    format: String,
  },
  secret: {
    noun: 'a secret',
    form: `at least ${MIN_SECRET_LENGTH} characters (e.g. the output of openssl rand -base64 32)`,
    note: '',
    parse: readSecret,
    format: String,
  },
  paths: {
    noun: 'file paths',
    form: 'paths of 48-byte ticket key files (openssl rand 48), separated by commas',
    note: '',
    parse: readPaths,
    format: String,
  },
};

/**
 * Parses a size: a non-negative number with an optional unit, `B`,
 * `KiB`/`MiB`/`GiB` (1024), `KB`/`MB`/`GB` (1000) or `K`/`M`/`G` (1024), in
 * any case; a plain number is bytes.
 * @returns the number of bytes, or `undefined` when the text is malformed or
 * not a whole number of bytes.
 * @example parseSize('64MiB') // 67108864
 */
export function parseSize(text: string): number | undefined {
  return typeof text === 'string' ? readSize(text).value : undefined;
}

/**
 * Parses a duration: a non-negative number with an optional unit, `ms`,
 * `s`, `m`, `h` or `d`; a bare number is seconds.
 * @returns the number of milliseconds, or `undefined` when the text is
 * malformed or not a whole number of milliseconds.
 * @example parseDuration('5m') // 300000
 */
export function parseDuration(text: string): number | undefined {
  return typeof text === 'string' ? readDuration(text).value : undefined;
}

/**
 * Resolves every setting: a programmatic option wins over its environment
 * variable, which wins over the default. An option set to `undefined`, and
 * a variable set to the empty string, count as unset.
 *
 * Options are numbers in the unit of {@link CacheConfig} (bytes,
 * milliseconds, and seconds for `timeout`), or strings in the form the
 * environment variables take (`'64MiB'`, `'5m'`).
 *
 * @param options - programmatic settings. @defaultValue `{}`
 * @param env - the environment to read. @defaultValue `process.env`
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for an unknown
 * option, or one of the wrong type or out of range.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a
 * variable that is malformed or out of range.
 */
export function loadConfig(options: Partial<CacheConfig> = {}, env: NodeJS.ProcessEnv = process.env): CacheConfig {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  }
  if (env === null || typeof env !== 'object') {
    throw new InvalidOptionError('env', `expected an object such as process.env, got ${describe(env)}`);
  }
  for (const name of Object.keys(options)) {
    if (!SETTINGS.some((s) => s.option === name)) throw new InvalidOptionError(name, unknownOption(name));
  }
  const config: Record<string, number | string> = {};
  const origins: Record<string, Origin> = {};
  for (const setting of SETTINGS) {
    const option: unknown = Object.hasOwn(options, setting.option) ? options[setting.option] : undefined;
    const text: unknown = env[setting.env];
    let origin: Origin;
    if (option !== undefined) {
      origin = { from: 'option', shown: shown(setting, typeof option === 'string' ? quote(option) : String(option)) };
      config[setting.option] = fromOption(setting, option);
    } else if (text !== undefined && text !== '') {
      origin = { from: 'env', shown: shown(setting, quote(String(text))) };
      config[setting.option] = fromText(setting, String(text), 'env');
    } else {
      origin = { from: 'default', shown: setting.default };
      config[setting.option] = defaultOf(setting);
    }
    origins[setting.option] = origin;
  }
  const result = config as unknown as CacheConfig;
  checkRestartDelays(result, origins);
  checkTicketRotation(result, origins);
  checkRedis(result);
  return result;
}

/** A value as an error message may show it: secrets never. */
function shown(setting: Setting, quoted: string): string {
  return setting.secret ? 'the value given' : quoted;
}

/** Redis needs the secret that encrypts what is stored there. */
function checkRedis(config: CacheConfig): void {
  if (config.redisUrl === '' || config.redisSecret !== '') return;
  const secret = byOption('redisSecret');
  fail(secret, 'env', `is not set, and ${byOption('redisUrl').env} (option redisUrl) is; expected ${expectedForm(secret)}`);
}

/**
 * A copy of `config` safe to log: secrets (`redisSecret`) are replaced by
 * `'[redacted]'` when set, and a password in `redisUrl` by `***`.
 */
export function redactConfig(config: Readonly<CacheConfig>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config };
  for (const setting of SETTINGS) {
    const value = copy[setting.option];
    if (!setting.secret || value === '' || value === undefined) continue;
    copy[setting.option] = setting.kind === 'url' ? redactUrl(String(value)) : '[redacted]';
  }
  return copy;
}

/** A URL with its password (and a user name, which some set to a token) replaced by `***`. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password !== '') url.password = '***';
    if (url.username !== '') url.username = '***';
    return url.href;
  } catch {
    return '[redacted]';
  }
}

/** Where a value came from, and how to quote it in an error message. */
interface Origin {
  readonly from: 'option' | 'env' | 'default';
  readonly shown: string;
}

function defaultOf(setting: Setting): number | string {
  const compute = COMPUTED_DEFAULTS[setting.option];
  return compute ? compute() : fromText(setting, setting.default, 'option');
}

function fromOption(setting: Setting, value: unknown): number | string {
  const kind = KINDS[setting.kind];
  if (typeof value === 'string') return fromText(setting, value, 'option');
  if (typeof value !== 'number' || !kind.number) {
    const accepted = kind.number
      ? `${kind.number.noun} or a string such as ${quote(setting.examples[0])}`
      : `a string, ${kind.form}`;
    fail(setting, 'option', `expected ${accepted}, got ${describe(value)}`);
  }
  if (!Number.isInteger(value)) fail(setting, 'option', `${value} is not ${kind.number.whole}`);
  if (!inRange(setting, value)) {
    const { min = 0, max = 0 } = setting;
    const human = setting.kind === 'integer' ? '' : ` (${kind.format(min)} to ${kind.format(max)})`;
    fail(setting, 'option', `${value} is out of range; expected ${kind.number.noun} from ${min} to ${max}${human}`);
  }
  return value === 0 ? 0 : value; // no -0
}

function fromText(setting: Setting, text: string, from: 'option' | 'env'): number | string {
  const kind = KINDS[setting.kind];
  const parsed = kind.parse(text);
  if (parsed.problem !== undefined) {
    fail(setting, from, `${shown(setting, quote(text))} ${parsed.problem}; expected ${expectedForm(setting)}`);
  }
  const value = parsed.value;
  if (typeof value === 'number' && !inRange(setting, value)) {
    fail(setting, from, `${quote(text)} is out of range; expected ${rangeOf(setting)}`);
  }
  return value;
}

function checkRestartDelays(config: CacheConfig, origins: Record<string, Origin>): void {
  if (config.restartDelay <= config.maxRestartDelay) return;
  const first = byOption('restartDelay');
  const max = byOption('maxRestartDelay');
  if (origins.maxRestartDelay.from === 'default') {
    fail(first, origins.restartDelay.from === 'env' ? 'env' : 'option',
      `${origins.restartDelay.shown} is above the maximum restart delay of ${formatDuration(config.maxRestartDelay)}; ` +
      `raise ${max.env} (option ${max.option}) as well`);
  }
  fail(max, origins.maxRestartDelay.from === 'env' ? 'env' : 'option',
    `${origins.maxRestartDelay.shown} is below the first restart delay of ${formatDuration(config.restartDelay)} ` +
    `(${first.env}, option ${first.option}); expected at least that`);
}

/** The rotation defaults to the timeout, and may not keep more than 64 keys alive. */
function checkTicketRotation(config: CacheConfig, origins: Record<string, Origin>): void {
  if (origins.ticketRotate.from === 'default') config.ticketRotate = config.timeout * SECOND;
  if (config.ticketRotate * MAX_ROTATIONS_PER_TIMEOUT >= config.timeout * SECOND) return;
  const rotate = byOption('ticketRotate');
  fail(rotate, origins.ticketRotate.from === 'env' ? 'env' : 'option',
    `${origins.ticketRotate.shown} rotates more than ${MAX_ROTATIONS_PER_TIMEOUT} times per session timeout ` +
    `(${formatDuration(config.timeout * SECOND)}); expected at least ${formatDuration(Math.ceil((config.timeout * SECOND) / MAX_ROTATIONS_PER_TIMEOUT))}`);
}

function byOption(option: keyof CacheConfig): Setting {
  return SETTINGS.find((s) => s.option === option)!;
}

function inRange(setting: Setting, value: number): boolean {
  return !(value < (setting.min ?? -Infinity) || value > (setting.max ?? Infinity));
}

function fail(setting: Setting, from: 'option' | 'env', problem: string): never {
  throw from === 'env'
    ? new InvalidEnvironmentError(setting.env, problem)
    : new InvalidOptionError(setting.option, problem);
}

/** `a number with an optional unit such as 64MiB, 512KiB or 1GiB`. */
function expectedForm(setting: Setting): string {
  const kind = KINDS[setting.kind];
  const examples = setting.examples.length > 0 ? ` such as ${orList(setting.examples)}` : '';
  return `${kind.form}${examples}${kind.note}`;
}

/** `a size from 64KiB to 2GiB`. */
function rangeOf(setting: Setting): string {
  const kind = KINDS[setting.kind];
  return `${kind.noun} from ${kind.format(setting.min ?? 0)} to ${kind.format(setting.max ?? 0)}`;
}

function unknownOption(name: string): string {
  const squash = (s: string): string => s.toLowerCase().replace(/^tls_cache_/, '').replace(/[^a-z]/g, '');
  const near = SETTINGS.find((s) => squash(s.option) === squash(name) || squash(s.env) === squash(name));
  const hint = near ? ` (did you mean "${near.option}"?)` : '';
  return `unknown option${hint}; the options are ${orList(SETTINGS.map((s) => s.option))}`;
}

function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** Quotes a value for a message; settings are not secret, but keep it short. */
function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}

/** Names a value's type for a message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * The Markdown table of every setting (`| Variable | Option | Default |
 * Meaning |`), one row per entry of {@link SETTINGS}, for the README. Lines
 * end in `\n`; the last has none.
 */
export function settingsTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
  const rows = SETTINGS.map((s) => {
    const kind = KINDS[s.kind];
    let meaning = s.description;
    if (kind.number && s.min !== undefined) {
      const range = rangeOf(s);
      const unit = kind.number.unit ? ` (option: ${kind.number.unit})` : '';
      meaning += ` ${range[0].toUpperCase()}${range.slice(1)}${unit}.`;
    }
    return `| \`${s.env}\` | \`${s.option}\` | \`${s.default}\` | ${cell(meaning)} |`;
  });
  return ['| Variable | Option | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
