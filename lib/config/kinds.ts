/**
 * The kinds of value a setting takes ({@link SettingKind}): how text from
 * the environment (or an option given as a string) is read, how a value is
 * written back for a person, and how each kind's expected form is worded
 * in error messages.
 *
 * Text values take units:
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
import { isIP } from 'node:net';

/**
 * How a setting's text is read:
 * - `size`: bytes, with an optional unit;
 * - `duration`: milliseconds, with an optional unit (a bare number is seconds);
 * - `seconds`: like `duration`, but the result is whole seconds;
 * - `integer`: a plain decimal integer;
 * - `level`: a pino log level;
 * - `logFormat`: `auto`, `json` or `pretty`;
 * - `switch`: `on` or `off`;
 * - `paths`: file paths separated by commas (empty: none);
 * - `host`: an IP address or `localhost`;
 * - `name`: 1 to 32 printable ASCII characters, no spaces;
 * - `url`: a `redis://` or `rediss://` URL, or a comma-separated list of
 *   them with one scheme, one set of credentials and one database (empty: none);
 * - `redisMode`: `standalone`, `cluster` or `sentinel`;
 * - `secret`: at least 32 characters (empty: none);
 * - `password`: any text (empty: none);
 * - `socketPath`: an absolute path of at most 107 bytes (a Unix socket's limit on Linux).
 */
export type SettingKind =
  | 'size' | 'duration' | 'seconds' | 'integer' | 'level' | 'logFormat' | 'switch' | 'paths' | 'host' | 'name' | 'url' | 'redisMode' | 'secret' | 'password' | 'socketPath';

/** Units of sizes (in bytes) and of durations (in milliseconds). */
export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** Bytes of an nginx `ssl_session_ticket_key` file that Node can use. */
const TICKET_KEY_FILE_BYTES = 48;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LOG_FORMATS = ['auto', 'json', 'pretty'];
/** How Redis is reached: one server, a Redis Cluster, or a master found through Sentinel. */
export const REDIS_MODES = ['standalone', 'cluster', 'sentinel'] as const;
/** Shortest Redis secret: 32 characters, as `openssl rand -hex 16` or `-base64 24` make. */
export const MIN_SECRET_LENGTH = 32;

/** What a reader made of text: the value, or why there is none (never quoting the text). */
type Parsed<T> = { value: T; problem?: undefined } | { value?: undefined; problem: string };

/** The rules of one {@link SettingKind}. */
export interface Kind {
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

function readLogFormat(text: string): Parsed<string> {
  const value = text.trim().toLowerCase();
  return LOG_FORMATS.includes(value) ? { value } : { problem: 'is not a log format' };
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

/** A Unix socket's path: absolute (a relative one would depend on each process's directory), within Linux's `sun_path` (108 bytes with the NUL). */
function readSocketPath(text: string): Parsed<string> {
  const value = text.trim();
  if (!value.startsWith('/')) return { problem: 'is not an absolute path' };
  if (value.includes('\0')) return { problem: 'holds a NUL character' };
  if (Buffer.byteLength(value) > 107) return { problem: `is ${Buffer.byteLength(value)} bytes long; a Unix socket path holds at most 107` };
  return { value };
}

/** Names and contexts: printable ASCII, no spaces, 1 to 32 characters (OpenSSL's limit on a session ID context). */
function readName(text: string): Parsed<string> {
  const value = text.trim();
  return /^[\x21-\x7e]{1,32}$/.test(value) ? { value } : { problem: 'is not 1 to 32 printable ASCII characters without spaces' };
}

/**
 * A Redis URL, or a comma-separated list of them (seed nodes of a Redis
 * Cluster, or sentinels); the problem never repeats a URL (it may hold a
 * password). The entries of a list share one scheme, one user name and
 * password, and one database: they reach one deployment.
 */
function readRedisUrl(text: string): Parsed<string> {
  const entries = text.split(',').map((entry) => entry.trim());
  const list = entries.length > 1;
  let first: URL | undefined;
  for (const [i, entry] of entries.entries()) {
    const which = list ? `has an entry (the ${ordinal(i + 1)}) that ` : '';
    if (entry === '') return { problem: list ? `has an empty entry (the ${ordinal(i + 1)})` : 'is empty' };
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      return { problem: `${which}is not a URL` };
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      return { problem: `${which}has the scheme ${JSON.stringify(url.protocol)}, not redis: or rediss:` };
    }
    if (url.hostname === '') return { problem: `${which}names no host` };
    if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d+$/.test(url.pathname)) {
      return { problem: `${which}has a path that is not a database number` };
    }
    if (first === undefined) {
      first = url;
      continue;
    }
    if (url.protocol !== first.protocol) return { problem: 'mixes redis:// and rediss:// (one deployment, one scheme)' };
    if (url.username !== first.username || url.password !== first.password) {
      return { problem: 'carries different user names or passwords in its entries (one deployment, one set of credentials)' };
    }
    if (databaseOf(url) !== databaseOf(first)) return { problem: 'names different databases in its entries' };
  }
  return { value: entries.join(',') };
}

/** The database number of a Redis URL's path (0 without one). */
export function databaseOf(url: URL): number {
  return url.pathname === '' || url.pathname === '/' ? 0 : Number(url.pathname.slice(1));
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}

function readRedisMode(text: string): Parsed<string> {
  const value = text.trim().toLowerCase();
  return (REDIS_MODES as readonly string[]).includes(value) ? { value } : { problem: 'is not a Redis mode' };
}

function readPassword(text: string): Parsed<string> {
  return { value: text };
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

/** The rules of every kind. */
export const KINDS: Readonly<Record<SettingKind, Kind>> = {
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
  logFormat: {
    noun: 'a log format',
    form: `one of ${orList(LOG_FORMATS)}`,
    note: '',
    parse: readLogFormat,
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
    form: 'a redis:// or rediss:// URL (a comma-separated list of them with TLS_CACHE_REDIS_MODE cluster or sentinel)',
    note: '',
    parse: readRedisUrl,
    format: String,
  },
  redisMode: {
    noun: 'a Redis mode',
    form: `one of ${orList(REDIS_MODES)}`,
    note: '',
    parse: readRedisMode,
    format: String,
  },
  password: {
    noun: 'a password',
    form: 'a password',
    note: '',
    parse: readPassword,
    format: String,
  },
  secret: {
    noun: 'a secret',
    form: `at least ${MIN_SECRET_LENGTH} characters (e.g. the output of openssl rand -base64 32)`,
    note: '',
    parse: readSecret,
    format: String,
  },
  socketPath: {
    noun: 'a socket path',
    form: 'an absolute path of at most 107 bytes',
    note: '',
    parse: readSocketPath,
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
 * What {@link expectedForm} and {@link rangeOf} read of a setting: the
 * fields of `settings.ts`'s `Setting` they need (so that this file does not
 * import `settings.ts`, which imports it).
 */
interface SettingShape {
  readonly kind: SettingKind;
  readonly examples: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

/** `a number with an optional unit such as 64MiB, 512KiB or 1GiB`. */
export function expectedForm(setting: SettingShape): string {
  const kind = KINDS[setting.kind];
  const examples = setting.examples.length > 0 ? ` such as ${orList(setting.examples)}` : '';
  return `${kind.form}${examples}${kind.note}`;
}

/** `a size from 64KiB to 2GiB`. */
export function rangeOf(setting: SettingShape): string {
  const kind = KINDS[setting.kind];
  return `${kind.noun} from ${kind.format(setting.min ?? 0)} to ${kind.format(setting.max ?? 0)}`;
}

/** `a, b or c`. */
export function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** Quotes a value for a message; settings are not secret, but keep it short. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
}
