/**
 * Reading OpenSSL's DER encoding of a session (`i2d_SSL_SESSION`, what Node
 * hands `newSession`, takes back from `resumeSession` and returns from a
 * server socket's `getSession()`): its elements, and the session ID.
 *
 * ```
 * SEQUENCE { INTEGER format, INTEGER protocol, OCTET STRING cipher,
 *            OCTET STRING sessionId, OCTET STRING masterKey, ... }
 * ```
 *
 * Only headers and the session ID are read; the master key is never
 * copied.
 *
 * @module
 */

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
/** Longest session ID (SSL_MAX_SSL_SESSION_ID_LENGTH). */
const MAX_SESSION_ID_BYTES = 32;

/** A DER element's header: where its content starts and how long it is. */
export interface Element {
  tag: number;
  start: number;
  length: number;
}

/** The element starting at `at`, or `undefined` when it does not fit before `end`. */
export function element(der: Uint8Array, at: number, end: number): Element | undefined {
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
