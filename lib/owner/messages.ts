/**
 * The messages between the owner of the table and the ticket key ring (a
 * `node:cluster` primary running the cache, or the cache daemon) and the
 * processes it serves, over its Unix socket (`socket-channel.ts`). A
 * message is a msgpackr-encoded array `[op, ...fields]`.
 *
 * The owner's messages are `O_*`, a worker's `W_*`. Two travel over the
 * cluster's own IPC channel instead: a worker's {@link W_WHERE_OWNER}
 * asking its primary where its socket is, answered by {@link O_OWNER}. There, a
 * message is `{ tlsSessionCache: payload }`
 * (anything else is the application's and left alone), the payload sent
 * as a base64 string: Node's default `'json'` serialization would spell a
 * Buffer out as a JSON array of numbers, and a worker cannot tell which
 * serialization its channel uses (Node deletes
 * `NODE_CHANNEL_SERIALIZATION_MODE` from its environment at start). A
 * `Uint8Array` payload (an `'advanced'` channel) is accepted too.
 *
 * Everything decoded is checked ({@link decodeToOwner},
 * {@link decodeToWorker}) before anything acts on it: types, lengths (a
 * session ID of 1 to 32 bytes, a session of at most `maxSessionSize`),
 * known operations, the settings as `loadConfig()` checks them. A message
 * that fails is `undefined`: the caller counts it (`ownerMalformed`) and
 * drops it.
 *
 * @module
 */
import { Packr } from 'msgpackr';
import { COUNTER_NAMES } from '../operations/counters.ts';
import type { TicketKeyRingState } from '../tickets/ring-state.ts';
import { readWorkerSettings, type WorkerSettings } from '../runtime/worker-settings.ts';
import { isFilterSize } from './id-filter.ts';

/** The property that marks this library's messages on the shared channel. */
export const IPC_TAG = 'tlsSessionCache';

/** Longest payload accepted, in bytes (a 64 KiB session and its framing fit, or a ring of 64 keys). */
export const MAX_PAYLOAD_BYTES = 72 * 1024;
const MAX_BASE64_LENGTH = Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4;
const MAX_ID_BYTES = 32;
/** Request ids run from 1 to this, then wrap. */
export const MAX_REQUEST_ID = 2 ** 31 - 1;

/** Operations, worker to owner. Over the socket, the first: the owner answers with its settings and keys ({@link O_HELLO}). */
export const W_HELLO = 1;
export const W_GET = 2;
export const W_SET = 3;
export const W_COUNTS = 4;
/** A session ended by a fatal alert: remove it (issue 17). */
export const W_DELETE = 5;
/**
 * The SHA-256 fingerprints of the certificates the worker's servers serve
 * (the default ones and those of names served from contexts of their own),
 * comma-separated, at most {@link MAX_CERTIFICATES}; `''` for none
 * (announced to other hosts; issues 21 and 33).
 */
export const W_CERTIFICATE = 6;
/**
 * Asks the owner how it is doing (`tls-resumption status`): answered with
 * a {@link O_STATUS} of the same `request`. Sent by a status client, which
 * never says hello, so it is never counted as an attached process. An
 * older owner counts it as malformed and does not answer.
 */
export const W_STATUS = 7;
/** The process's pid, sent after its hello: `tls-resumption status` lists the processes attached. */
export const W_PROCESS = 8;
/** Over a cluster's IPC channel only: where is the primary's socket? Answered with {@link O_OWNER}. */
export const W_WHERE_OWNER = 9;
/**
 * The port a server of the process listens on, once it listens (again to
 * each owner it connects to): an owner cannot see a listener a process
 * binds itself (`reusePort`), and lists the ports for `tls-resumption
 * status` and the same-port check (`same-port.ts`). An owner of 0.1
 * counts it as malformed.
 */
export const W_LISTENING = 10;
/** The most fingerprints one {@link W_CERTIFICATE} carries. */
export const MAX_CERTIFICATES = 64;
const FINGERPRINT = '(?:[0-9A-F]{2}:){31}[0-9A-F]{2}';
const FINGERPRINTS = new RegExp(`^(?:${FINGERPRINT}(?:,${FINGERPRINT})*)?$`);

/** Operations, owner to worker (`O_`: the owner, a `node:cluster` primary or the cache daemon). */
export const O_HELLO = 11;
export const O_GOT = 12;
export const O_KEYS = 13;
export const O_FLUSH = 14;
export const O_COUNTS = 15;
/** A session ended by a fatal alert: drop it from the local copy (issue 17). */
export const O_DELETE = 16;
/** Over a cluster's IPC channel only: the path of the primary's socket, in answer to a {@link W_WHERE_OWNER}. */
export const O_OWNER = 17;
/** Part of the owner's filter of stored session IDs (`id-filter.ts`), sent after its hello in chunks, in order. */
export const O_FILTER = 18;
/** Session IDs the owner's table stored (those of one event-loop turn): every process adds them to its filter (`id-filter.ts`). */
export const O_STORED = 19;
/**
 * The session IDs of this process's {@link W_SET}s the owner handled (those
 * of one event-loop turn): stored and announced to every other process
 * ({@link O_STORED}, written first), or refused. The process finishes those
 * handshakes only then (`owner-level.ts`).
 */
export const O_SET_DONE = 20;

/**
 * The owner's answer to a {@link W_STATUS}: an `OwnerStatus` object
 * (`runtime/owner-status.ts`), which the status client checks.
 */
export const O_STATUS = 21;

/** Most session IDs in one {@link O_STORED} or {@link O_SET_DONE} message (34 KiB at 32 bytes each, framing included). */
export const MAX_STORED_IDS = 1000;

/** Largest chunk of a filter in one {@link O_FILTER} message, in bytes. */
export const FILTER_CHUNK_BYTES = 64 * 1024;

/** A worker's message to the owner. */
export type ToOwner =
  | { op: typeof W_HELLO }
  | { op: typeof W_WHERE_OWNER }
  | { op: typeof W_LISTENING; port: number }
  | { op: typeof W_GET; request: number; id: Buffer }
  | { op: typeof W_SET; id: Buffer; session: Buffer; expiresAt: number }
  /** Counts since the previous message, in the order of `COUNTER_NAMES`; `request` answers a {@link O_COUNTS} (0: on its own). */
  | { op: typeof W_COUNTS; request: number; deltas: number[] }
  | { op: typeof W_DELETE; id: Buffer }
  | { op: typeof W_CERTIFICATE; fingerprint: string }
  | { op: typeof W_STATUS; request: number }
  | { op: typeof W_PROCESS; pid: number };

/** The owner's message to a worker. */
export type ToWorker =
  | { op: typeof O_HELLO; settings: WorkerSettings; keys: TicketKeyRingState | undefined }
  | { op: typeof O_OWNER; socket: string }
  /** No session: `expired` says whether the table held it past its lifetime (sent as `false` instead of `null`). */
  | { op: typeof O_GOT; request: number; session: Buffer | undefined; expired?: boolean }
  | { op: typeof O_KEYS; keys: TicketKeyRingState }
  | { op: typeof O_FLUSH }
  | { op: typeof O_COUNTS; request: number }
  | { op: typeof O_DELETE; id: Buffer }
  /** `bits` go at `offset` of a filter generation of `total` bytes; the last chunk ends at `total`. */
  | { op: typeof O_FILTER; offset: number; total: number; bits: Buffer }
  | { op: typeof O_STORED; ids: Buffer[] }
  | { op: typeof O_SET_DONE; ids: Buffer[] };

const packr = new Packr({ useRecords: false, moreTypes: false });

/** The bytes of `fields` (a copy of its own: msgpackr reuses its buffer). */
export function pack(fields: readonly unknown[]): Buffer {
  return Buffer.from(packr.pack(fields));
}

export function encodeToOwner(message: ToOwner): Buffer {
  switch (message.op) {
    case W_HELLO:
      return pack([W_HELLO]);
    case W_WHERE_OWNER:
      return pack([W_WHERE_OWNER]);
    case W_LISTENING:
      return pack([W_LISTENING, message.port]);
    case W_GET:
      return pack([W_GET, message.request, message.id]);
    case W_SET:
      return pack([W_SET, message.id, message.session, message.expiresAt]);
    case W_COUNTS:
      return pack([W_COUNTS, message.request, message.deltas]);
    case W_DELETE:
      return pack([W_DELETE, message.id]);
    case W_CERTIFICATE:
      return pack([W_CERTIFICATE, message.fingerprint]);
    case W_STATUS:
      return pack([W_STATUS, message.request]);
    case W_PROCESS:
      return pack([W_PROCESS, message.pid]);
  }
}

export function encodeToWorker(message: ToWorker): Buffer {
  switch (message.op) {
    case O_HELLO:
      return pack([O_HELLO, message.settings, message.keys ?? null]);
    case O_OWNER:
      return pack([O_OWNER, message.socket]);
    case O_GOT:
      return pack([O_GOT, message.request, message.session ?? (message.expired === true ? false : null)]);
    case O_KEYS:
      return pack([O_KEYS, message.keys]);
    case O_FLUSH:
      return pack([O_FLUSH]);
    case O_COUNTS:
      return pack([O_COUNTS, message.request]);
    case O_DELETE:
      return pack([O_DELETE, message.id]);
    case O_FILTER:
      return pack([O_FILTER, message.offset, message.total, message.bits]);
    case O_STORED:
    case O_SET_DONE:
      return pack([message.op, message.ids]);
  }
}

/** A message as it goes on a cluster's IPC channel. */
export function toIpc(bytes: Uint8Array): { [IPC_TAG]: string } {
  return { [IPC_TAG]: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

/** Whether a channel message is one of this library's (tagged), whatever its content. */
export function isTagged(message: unknown): message is { [IPC_TAG]: unknown } {
  return message !== null && typeof message === 'object' && Object.hasOwn(message, IPC_TAG);
}

/** The payload of a tagged IPC message, or `undefined` when it is not a well-formed one. */
export function fromIpc(message: { [IPC_TAG]: unknown }): Buffer | undefined {
  const payload = message[IPC_TAG];
  if (typeof payload === 'string') {
    if (payload.length === 0 || payload.length > MAX_BASE64_LENGTH || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return undefined;
    return Buffer.from(payload, 'base64');
  }
  if (payload instanceof Uint8Array) {
    if (payload.byteLength === 0 || payload.byteLength > MAX_PAYLOAD_BYTES) return undefined;
    return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  }
  return undefined;
}

/** The decoded array of a payload, or `undefined` when it is not well-formed msgpack of a non-empty array. */
function unpackPayload(bytes: Uint8Array): unknown[] | undefined {
  if (bytes.byteLength === 0 || bytes.byteLength > MAX_PAYLOAD_BYTES) return undefined;
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
 * A worker's message as the owner may act on it, or `undefined` when it
 * is malformed (to be counted and dropped).
 */
export function decodeToOwner(bytes: Uint8Array, maxSessionSize: number): ToOwner | undefined {
  const fields = unpackPayload(bytes);
  if (fields === undefined) return undefined;
  const op = fields[0];
  if ((op === W_HELLO || op === W_WHERE_OWNER) && fields.length === 1) return { op };
  if (op === W_LISTENING && fields.length === 2 && typeof fields[1] === 'number' && Number.isInteger(fields[1]) && fields[1] >= 1 && fields[1] <= 65535) {
    return { op, port: fields[1] };
  }
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
  if (op === W_CERTIFICATE && fields.length === 2 && typeof fields[1] === 'string' && FINGERPRINTS.test(fields[1]) && fields[1].split(',').length <= MAX_CERTIFICATES) {
    return { op, fingerprint: fields[1] };
  }
  if (op === W_STATUS && fields.length === 2 && isRequestId(fields[1])) return { op, request: fields[1] };
  if (op === W_PROCESS && fields.length === 2 && typeof fields[1] === 'number' && Number.isInteger(fields[1]) && fields[1] >= 1 && fields[1] <= 0x7fffffff) {
    return { op, pid: fields[1] };
  }
  return undefined;
}

/**
 * The owner's message as a worker may act on it, or `undefined` when it
 * is malformed. A ring state is checked for shape here and whole by
 * `TicketKeyRing.load`.
 */
export function decodeToWorker(bytes: Uint8Array, maxSessionSize: number): ToWorker | undefined {
  const fields = unpackPayload(bytes);
  if (fields === undefined) return undefined;
  const op = fields[0];
  if (op === O_GOT && fields.length === 3 && isRequestId(fields[1])) {
    const session = fields[2];
    if (session === null) return { op, request: fields[1], session: undefined };
    if (session === false) return { op, request: fields[1], session: undefined, expired: true };
    return isSession(session, maxSessionSize) ? { op, request: fields[1], session: asBuffer(session) } : undefined;
  }
  if (op === O_HELLO && fields.length === 3) {
    const settings = readWorkerSettings(fields[1]);
    if (settings === undefined) return undefined;
    const keys = fields[2];
    if (keys === null) return settings.config.tickets === 'off' ? { op, settings, keys: undefined } : undefined;
    return isRingState(keys) && settings.config.tickets === 'on' ? { op, settings, keys } : undefined;
  }
  if (op === O_OWNER && fields.length === 2 && typeof fields[1] === 'string' && fields[1].startsWith('/') && Buffer.byteLength(fields[1]) <= 107) {
    return { op, socket: fields[1] };
  }
  if (op === O_KEYS && fields.length === 2 && isRingState(fields[1])) return { op, keys: fields[1] };
  if (op === O_FLUSH && fields.length === 1) return { op };
  if (op === O_COUNTS && fields.length === 2 && isRequestId(fields[1])) return { op, request: fields[1] };
  if (op === O_DELETE && fields.length === 2 && isId(fields[1])) return { op, id: asBuffer(fields[1]) };
  if ((op === O_STORED || op === O_SET_DONE) && fields.length === 2 && Array.isArray(fields[1])) {
    const ids: unknown[] = fields[1];
    if (ids.length === 0 || ids.length > MAX_STORED_IDS || !ids.every(isId)) return undefined;
    return { op, ids: ids.map(asBuffer) };
  }
  if (op === O_FILTER && fields.length === 4 && isFilterSize(fields[2]) && fields[3] instanceof Uint8Array) {
    const [, offset, total, bits] = fields as [number, unknown, number, Uint8Array];
    const fits = typeof offset === 'number' && Number.isInteger(offset) && offset >= 0 && offset % FILTER_CHUNK_BYTES === 0;
    if (!fits || bits.byteLength === 0 || bits.byteLength > FILTER_CHUNK_BYTES || offset + bits.byteLength > total) return undefined;
    return { op, offset, total, bits: asBuffer(bits) };
  }
  return undefined;
}

function isRingState(value: unknown): value is TicketKeyRingState {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && Array.isArray((value as { keys?: unknown }).keys);
}

/**
 * An owner's answer to a status request ({@link O_STATUS}): its request id
 * and the status, still to be checked (`readOwnerStatus`), or `undefined`
 * when it is no such message.
 */
export function decodeStatusAnswer(bytes: Uint8Array): { request: number; status: unknown } | undefined {
  const fields = unpackPayload(bytes);
  if (fields === undefined || fields[0] !== O_STATUS || fields.length !== 3 || !isRequestId(fields[1])) return undefined;
  return { request: fields[1], status: fields[2] };
}
