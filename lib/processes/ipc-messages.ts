/**
 * The messages between a `node:cluster` primary running the cache and its
 * worker processes, over the cluster's own IPC channel, which the
 * application's messages share.
 *
 * On the channel a message is `{ tlsSessionCache: payload }`; anything else
 * is the application's and left alone. The payload is a msgpackr-encoded
 * array `[op, ...fields]`, sent as a base64 string: Node's default `'json'`
 * serialization would spell a Buffer out as a JSON array of numbers, and a
 * worker cannot tell which serialization its channel uses (Node deletes
 * `NODE_CHANNEL_SERIALIZATION_MODE` from its environment at start).
 * Measured on Node 24 (180-byte payload, one message in flight): a round
 * trip took 73 to 79 µs as a base64 string over `'json'`, 79 to 97 µs as a
 * Buffer over `'advanced'`, so the string costs nothing. A `Uint8Array`
 * payload (an `'advanced'` channel) is accepted too.
 *
 * Everything decoded is checked ({@link decodeToPrimary},
 * {@link decodeToWorker}) before anything acts on it: types, lengths (a
 * session ID of 1 to 32 bytes, a session of at most `maxSessionSize`),
 * known operations. A message that fails is `undefined`: the caller counts
 * it (`ipcMalformed`) and drops it.
 *
 * @module
 */
import { Packr } from 'msgpackr';
import { COUNTER_NAMES } from '../operations/counters.ts';
import type { TicketKeyRingState } from '../tickets/ring-state.ts';

/** The property that marks this library's messages on the shared channel. */
export const IPC_TAG = 'tlsSessionCache';

/** Longest payload accepted, in bytes (a 64 KiB session and its framing fit, or a ring of 64 keys). */
export const MAX_PAYLOAD_BYTES = 72 * 1024;
const MAX_BASE64_LENGTH = Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4;
const MAX_ID_BYTES = 32;
/** Request ids run from 1 to this, then wrap. */
export const MAX_REQUEST_ID = 2 ** 31 - 1;

/** Operations, worker to primary. */
export const W_HELLO = 1;
export const W_GET = 2;
export const W_SET = 3;
export const W_COUNTS = 4;
/** A session ended by a fatal alert: remove it (issue 17). */
export const W_DELETE = 5;
/** The SHA-256 fingerprint of the certificate the worker's server serves, `''` for none (announced to other hosts; issue 21). */
export const W_CERTIFICATE = 6;
/** Operations, primary to worker. */
export const P_HELLO = 11;
export const P_GOT = 12;
export const P_KEYS = 13;
export const P_FLUSH = 14;
export const P_COUNTS = 15;
/** A session ended by a fatal alert: drop it from the local copy (issue 17). */
export const P_DELETE = 16;

/** What every worker must agree on with its primary, sent in the hello. */
export interface ClusterSettings {
  /** Session lifetime in seconds: every server's `sessionTimeout`. */
  timeout: number;
  /** Every server's `sessionIdContext`. */
  sessionIdContext: string;
  tickets: 'on' | 'off';
  /** `auto`: Node's internal ticket key callback when present; `fallback`: the public single-key API. */
  ticketMode: 'auto' | 'fallback';
  /** How long a lookup waits for the primary, in ms. */
  ipcTimeout: number;
  /** Bytes of each worker's local copy; 0: off. */
  localSize: number;
  /** Largest session stored. */
  maxSessionSize: number;
  logLevel: string;
}

/**
 * With Redis (`TLS_CACHE_REDIS_URL`): what a worker needs to reach it over
 * its own connection, sent in the hello, on the pipe between the primary
 * and its own workers (as ticket keys are). Holds secrets: never logged.
 */
export interface WorkerRedisSettings {
  mode: 'standalone' | 'cluster' | 'sentinel';
  /** One URL, or a comma-separated list (it may carry a password). */
  url: string;
  sentinelName: string;
  sentinelPassword: string;
  secret: string;
  /** `''`: none. */
  previousSecret: string;
  namespace: string;
  /** How long a lookup waits for Redis, in ms. */
  timeout: number;
}

/** A worker's message to the primary. */
export type ToPrimary =
  | { op: typeof W_HELLO }
  | { op: typeof W_GET; request: number; id: Buffer }
  | { op: typeof W_SET; id: Buffer; session: Buffer; expiresAt: number }
  /** Counts since the previous message, in the order of `COUNTER_NAMES`; `request` answers a {@link P_COUNTS} (0: on its own). */
  | { op: typeof W_COUNTS; request: number; deltas: number[] }
  | { op: typeof W_DELETE; id: Buffer }
  | { op: typeof W_CERTIFICATE; fingerprint: string };

/** The primary's message to a worker. */
export type ToWorker =
  | { op: typeof P_HELLO; settings: ClusterSettings; keys: TicketKeyRingState | undefined; redis?: WorkerRedisSettings | undefined }
  /** No session: `expired` says whether the table held it past its lifetime (sent as `false` instead of `null`). */
  | { op: typeof P_GOT; request: number; session: Buffer | undefined; expired?: boolean }
  | { op: typeof P_KEYS; keys: TicketKeyRingState }
  | { op: typeof P_FLUSH }
  | { op: typeof P_COUNTS; request: number }
  | { op: typeof P_DELETE; id: Buffer };

const packr = new Packr({ useRecords: false, moreTypes: false });

/** What goes on the channel for `fields`. */
export function frame(fields: readonly unknown[]): { [IPC_TAG]: string } {
  return { [IPC_TAG]: packr.pack(fields).toString('base64') };
}

export function encodeToPrimary(message: ToPrimary): { [IPC_TAG]: string } {
  switch (message.op) {
    case W_HELLO:
      return frame([W_HELLO]);
    case W_GET:
      return frame([W_GET, message.request, message.id]);
    case W_SET:
      return frame([W_SET, message.id, message.session, message.expiresAt]);
    case W_COUNTS:
      return frame([W_COUNTS, message.request, message.deltas]);
    case W_DELETE:
      return frame([W_DELETE, message.id]);
    case W_CERTIFICATE:
      return frame([W_CERTIFICATE, message.fingerprint]);
  }
}

export function encodeToWorker(message: ToWorker): { [IPC_TAG]: string } {
  switch (message.op) {
    case P_HELLO:
      return frame([P_HELLO, message.settings, message.keys ?? null, message.redis ?? null]);
    case P_GOT:
      return frame([P_GOT, message.request, message.session ?? (message.expired === true ? false : null)]);
    case P_KEYS:
      return frame([P_KEYS, message.keys]);
    case P_FLUSH:
      return frame([P_FLUSH]);
    case P_COUNTS:
      return frame([P_COUNTS, message.request]);
    case P_DELETE:
      return frame([P_DELETE, message.id]);
  }
}

/** Whether a channel message is one of this library's (tagged), whatever its content. */
export function isTagged(message: unknown): message is { [IPC_TAG]: unknown } {
  return message !== null && typeof message === 'object' && Object.hasOwn(message, IPC_TAG);
}

/** The decoded array of a tagged message, or `undefined` when it is not a well-formed payload. */
function unpackPayload(message: { [IPC_TAG]: unknown }): unknown[] | undefined {
  const payload = message[IPC_TAG];
  let bytes: Buffer;
  if (typeof payload === 'string') {
    if (payload.length === 0 || payload.length > MAX_BASE64_LENGTH || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return undefined;
    bytes = Buffer.from(payload, 'base64');
  } else if (payload instanceof Uint8Array) {
    if (payload.byteLength === 0 || payload.byteLength > MAX_PAYLOAD_BYTES) return undefined;
    bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  } else {
    return undefined;
  }
  try {
    const fields: unknown = packr.unpack(bytes);
    return Array.isArray(fields) && fields.length > 0 ? fields : undefined;
  } catch {
    return undefined;
  }
}

const isRequestId = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_REQUEST_ID;
const isId = (value: unknown): value is Buffer =>
  value instanceof Uint8Array && value.byteLength >= 1 && value.byteLength <= MAX_ID_BYTES;
const isSession = (value: unknown, max: number): value is Buffer =>
  value instanceof Uint8Array && value.byteLength >= 1 && value.byteLength <= max;
const asBuffer = (value: Uint8Array): Buffer => (Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));

/**
 * A worker's message as the primary may act on it, or `undefined` when it
 * is malformed (to be counted and dropped).
 */
export function decodeToPrimary(message: { [IPC_TAG]: unknown }, maxSessionSize: number): ToPrimary | undefined {
  const fields = unpackPayload(message);
  if (fields === undefined) return undefined;
  const op = fields[0];
  if (op === W_HELLO && fields.length === 1) return { op };
  if (op === W_GET && fields.length === 3 && isRequestId(fields[1]) && isId(fields[2])) {
    return { op, request: fields[1], id: asBuffer(fields[2]) };
  }
  if (op === W_SET && fields.length === 4 && isId(fields[1]) && isSession(fields[2], maxSessionSize)) {
    const expiresAt = fields[3];
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt) || expiresAt <= 0) return undefined;
    return { op, id: asBuffer(fields[1]), session: asBuffer(fields[2]), expiresAt };
  }
  if (op === W_COUNTS && fields.length === 3 && (fields[1] === 0 || isRequestId(fields[1]))) {
    const deltas = fields[2];
    if (!Array.isArray(deltas) || deltas.length !== COUNTER_NAMES.length) return undefined;
    if (!deltas.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff)) return undefined;
    return { op, request: fields[1], deltas };
  }
  if (op === W_DELETE && fields.length === 2 && isId(fields[1])) return { op, id: asBuffer(fields[1]) };
  if (op === W_CERTIFICATE && fields.length === 2 && typeof fields[1] === 'string' && /^(?:(?:[0-9A-F]{2}:){31}[0-9A-F]{2})?$/.test(fields[1])) {
    return { op, fingerprint: fields[1] };
  }
  return undefined;
}

/**
 * The primary's message as a worker may act on it, or `undefined` when it
 * is malformed. A ring state is checked for shape here and whole by
 * `TicketKeyRing.load`.
 */
export function decodeToWorker(message: { [IPC_TAG]: unknown }, maxSessionSize: number): ToWorker | undefined {
  const fields = unpackPayload(message);
  if (fields === undefined) return undefined;
  const op = fields[0];
  if (op === P_GOT && fields.length === 3 && isRequestId(fields[1])) {
    const session = fields[2];
    if (session === null) return { op, request: fields[1], session: undefined };
    if (session === false) return { op, request: fields[1], session: undefined, expired: true };
    return isSession(session, maxSessionSize) ? { op, request: fields[1], session: asBuffer(session) } : undefined;
  }
  if (op === P_HELLO && (fields.length === 3 || fields.length === 4)) {
    const settings = checkSettings(fields[1]);
    if (settings === undefined) return undefined;
    const redis = fields[3] === undefined || fields[3] === null ? undefined : checkRedisSettings(fields[3]);
    if (redis === null) return undefined;
    const keys = fields[2];
    if (keys === null) return settings.tickets === 'off' ? { op, settings, keys: undefined, redis } : undefined;
    return isRingState(keys) && settings.tickets === 'on' ? { op, settings, keys, redis } : undefined;
  }
  if (op === P_KEYS && fields.length === 2 && isRingState(fields[1])) return { op, keys: fields[1] };
  if (op === P_FLUSH && fields.length === 1) return { op };
  if (op === P_COUNTS && fields.length === 2 && isRequestId(fields[1])) return { op, request: fields[1] };
  if (op === P_DELETE && fields.length === 2 && isId(fields[1])) return { op, id: asBuffer(fields[1]) };
  return undefined;
}

function isRingState(value: unknown): value is TicketKeyRingState {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Array.isArray((value as { keys?: unknown }).keys);
}

/** The Redis settings of a hello, or `null` when they are malformed (the connection checks the URL itself). */
function checkRedisSettings(value: unknown): WorkerRedisSettings | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const r = value as Record<string, unknown>;
  const text = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max;
  if (
    (r.mode !== 'standalone' && r.mode !== 'cluster' && r.mode !== 'sentinel') ||
    !text(r.url, 1, 16_384) ||
    !text(r.sentinelName, 1, 32) ||
    !text(r.sentinelPassword, 0, 4096) ||
    !text(r.secret, 32, 4096) ||
    !(r.previousSecret === '' || text(r.previousSecret, 32, 4096)) ||
    !text(r.namespace, 1, 32) ||
    typeof r.timeout !== 'number' ||
    !Number.isInteger(r.timeout) ||
    r.timeout < 1 ||
    r.timeout > 10_000
  ) {
    return null;
  }
  return {
    mode: r.mode,
    url: r.url,
    sentinelName: r.sentinelName,
    sentinelPassword: r.sentinelPassword,
    secret: r.secret,
    previousSecret: r.previousSecret as string,
    namespace: r.namespace,
    timeout: r.timeout,
  };
}

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function checkSettings(value: unknown): ClusterSettings | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const s = value as Record<string, unknown>;
  const whole = (n: unknown, min: number, max: number): n is number => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max;
  if (
    !whole(s.timeout, 1, 604800) ||
    typeof s.sessionIdContext !== 'string' ||
    s.sessionIdContext.length < 1 ||
    s.sessionIdContext.length > 32 ||
    (s.tickets !== 'on' && s.tickets !== 'off') ||
    (s.ticketMode !== 'auto' && s.ticketMode !== 'fallback') ||
    !whole(s.ipcTimeout, 1, 10_000) ||
    !whole(s.localSize, 0, 2 ** 31) ||
    !whole(s.maxSessionSize, 1, 65536) ||
    typeof s.logLevel !== 'string' ||
    !LOG_LEVELS.has(s.logLevel)
  ) {
    return undefined;
  }
  return {
    timeout: s.timeout,
    sessionIdContext: s.sessionIdContext,
    tickets: s.tickets,
    ticketMode: s.ticketMode,
    ipcTimeout: s.ipcTimeout,
    localSize: s.localSize,
    maxSessionSize: s.maxSessionSize,
    logLevel: s.logLevel,
  };
}
