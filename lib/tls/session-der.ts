/**
 * Reading OpenSSL's DER encoding of a session (`i2d_SSL_SESSION`, what Node
 * hands `newSession`, takes back from `resumeSession` and returns from a
 * server socket's `getSession()`), in one place:
 *
 * ```
 * SEQUENCE { INTEGER format (1), INTEGER protocol (0x0303 | 0x0304),
 *            OCTET STRING cipher, OCTET STRING sessionId,
 *            OCTET STRING masterKey, ...,
 *            [1] EXPLICIT INTEGER time, [2] EXPLICIT INTEGER timeout, ... }
 * ```
 *
 * Only headers, the protocol version, the session ID, and the time and
 * timeout are read; the master key is never copied.
 *
 * A session stored by session ID is kept as a **record**: one version byte
 * ({@link RECORD_VERSION}, never `0x30`, the first byte of a DER
 * SEQUENCE), the session's 16-byte binding to its name and authentication
 * (`session-names.ts`), then the DER. The functions here take either. `node-capabilities.ts`
 * reads a real session with these functions at start, so a change of the
 * layout is reported rather than silently misread.
 *
 * @module
 */

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
const INTEGER = 0x02;
const TAG_TIME = 0xa1;
const TAG_TIMEOUT = 0xa2;
const SESSION_FORMAT = 1;
/** Elements before `time`: five, plus an optional `[0]`; a few more are tolerated. */
const MAX_ELEMENTS = 10;
/** Longest session ID (SSL_MAX_SSL_SESSION_ID_LENGTH). */
const MAX_SESSION_ID_BYTES = 32;

/** A DER element's header: where its content starts and how long it is. */
interface Element {
  tag: number;
  start: number;
  length: number;
}

/** The element starting at `at`, or `undefined` when it does not fit before `end`. */
/** The first byte of a session record (see the module's documentation). */
const RECORD_VERSION = 0x01;
/** Bytes before the DER in a record. */
const RECORD_HEADER_BYTES = 17;

/** A record of `der` bound by `binding` (16 bytes). */
export function sessionRecord(binding: Uint8Array, der: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + der.byteLength);
  record[0] = RECORD_VERSION;
  record.set(binding.subarray(0, RECORD_HEADER_BYTES - 1), 1);
  record.set(der, RECORD_HEADER_BYTES);
  return record;
}

/** The binding of a record (a view), or `undefined` for a bare DER session or anything else. */
export function recordBinding(stored: Uint8Array): Uint8Array | undefined {
  return stored.byteLength > RECORD_HEADER_BYTES && stored[0] === RECORD_VERSION ? stored.subarray(1, RECORD_HEADER_BYTES) : undefined;
}

/** The DER session of a record (a view), or `stored` itself when it is not one. */
export function recordSession(stored: Uint8Array): Uint8Array {
  return stored.byteLength > RECORD_HEADER_BYTES && stored[0] === RECORD_VERSION ? stored.subarray(RECORD_HEADER_BYTES) : stored;
}

function element(der: Uint8Array, at: number, end: number): Element | undefined {
  if (at + 2 > end) return undefined;
  const tag = der[at];
  const first = der[at + 1];
  let start = at + 2;
  let length = first;
  if (first & 0x80) {
    const bytes = first & 0x7f;
    if (bytes === 0 || bytes > 3 || start + bytes > end) return undefined;
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i];
    start += bytes;
  }
  return start + length > end ? undefined : { tag, start, length };
}

/**
 * The session ID of a DER session (a copy, 1 to 32 bytes), or `undefined`
 * when the blob is not one OpenSSL encoded or its ID is empty.
 */
export function sessionIdOf(der: Uint8Array): Buffer | undefined {
  if (!(der instanceof Uint8Array)) return undefined;
  const outer = element(der, 0, der.length);
  if (outer === undefined || outer.tag !== SEQUENCE) return undefined;
  const end = outer.start + outer.length;
  let at = outer.start;
  for (let i = 0; i < 4; i++) {
    const next = element(der, at, end);
    if (next === undefined) return undefined;
    if (i === 3) {
      if (next.tag !== OCTET_STRING || next.length < 1 || next.length > MAX_SESSION_ID_BYTES) return undefined;
      return Buffer.from(der.subarray(next.start, next.start + next.length));
    }
    at = next.start + next.length;
  }
  return undefined;
}

/** Protocol version number of TLS 1.2 in a session (`0x0303`). */
export const TLS_1_2 = 0x0303;
/** Protocol version number of TLS 1.3 in a session (`0x0304`). */
export const TLS_1_3 = 0x0304;

/**
 * The protocol version a DER session blob was negotiated with (e.g. `0x0303`
 * for TLS 1.2), or `undefined` when the blob does not start the way OpenSSL's
 * encoding does.
 */
export function sessionProtocolVersion(der: Uint8Array): number | undefined {
  if (der.length < 2 || der[0] !== SEQUENCE) return undefined;
  // Skip the SEQUENCE length: short form (one byte) or long form (0x8n + n bytes).
  const first = der[1];
  let at = 2;
  if (first & 0x80) {
    const lengthBytes = first & 0x7f;
    if (lengthBytes === 0 || lengthBytes > 4) return undefined;
    at += lengthBytes;
  }
  // INTEGER 1: the encoding's format version.
  if (der.length < at + 7) return undefined;
  if (der[at] !== INTEGER || der[at + 1] !== 1 || der[at + 2] !== SESSION_FORMAT) return undefined;
  at += 3;
  // INTEGER of two bytes: the protocol version.
  if (der[at] !== INTEGER || der[at + 1] !== 2) return undefined;
  return (der[at + 2] << 8) | der[at + 3];
}

/**
 * Whether a DER session blob is a TLS 1.3 session. Such sessions are only
 * ever resumed through tickets, never through Node's `resumeSession` hook,
 * which is asked with the ClientHello's legacy session id (random bytes under
 * TLS 1.3).
 */
export function isTls13Session(der: Uint8Array): boolean {
  return sessionProtocolVersion(der) === TLS_1_3;
}

/** A non-negative DER INTEGER of at most 6 bytes (plus a leading zero), inside an explicit tag. */
function explicitInteger(der: Uint8Array, outer: Element): number | undefined {
  const inner = element(der, outer.start, outer.start + outer.length);
  if (inner === undefined || inner.tag !== INTEGER || inner.length < 1 || inner.length > 7) return undefined;
  if (der[inner.start] & 0x80) return undefined;
  let value = 0;
  for (let i = 0; i < inner.length; i++) value = value * 256 + der[inner.start + i];
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * When OpenSSL stops resuming this session: `(time + timeout) * 1000`, in
 * milliseconds since the epoch; `undefined` when the blob is not a session
 * OpenSSL encoded (nothing else is parsed). Takes a DER session or a record.
 */
export function sessionExpiresAt(stored: Uint8Array): number | undefined {
  const times = sessionTimes(stored);
  return times === undefined ? undefined : (times.time + times.timeout) * 1000;
}

/**
 * When the session was made (its full handshake): OpenSSL's `time`, in
 * milliseconds since the epoch (whole seconds); `undefined` as for
 * {@link sessionExpiresAt}. Takes a DER session or a record.
 */
export function sessionBornAt(stored: Uint8Array): number | undefined {
  const times = sessionTimes(stored);
  return times === undefined ? undefined : times.time * 1000;
}

/** OpenSSL's `time` and `timeout` of a session, in seconds (RFC-less: OpenSSL's `SSL_SESSION_ASN1`, fields [1] and [2]). */
function sessionTimes(stored: Uint8Array): { time: number; timeout: number } | undefined {
  if (!(stored instanceof Uint8Array)) return undefined;
  const der = recordSession(stored);
  const outer = element(der, 0, der.length);
  if (outer === undefined || outer.tag !== SEQUENCE) return undefined;
  const end = outer.start + outer.length;
  let at = outer.start;
  let time: number | undefined;
  for (let i = 0; i < MAX_ELEMENTS && at < end; i++) {
    const next = element(der, at, end);
    if (next === undefined) return undefined;
    if (next.tag === TAG_TIME) {
      time = explicitInteger(der, next);
      if (time === undefined) return undefined;
    } else if (next.tag === TAG_TIMEOUT) {
      const timeout = explicitInteger(der, next);
      return time === undefined || timeout === undefined ? undefined : { time, timeout };
    }
    at = next.start + next.length;
  }
  return undefined;
}
