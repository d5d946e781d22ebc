/**
 * Reads the protocol version out of a serialized TLS session.
 *
 * Node hands `newSession` listeners OpenSSL's DER encoding of the session
 * (`i2d_SSL_SESSION`), which opens with
 * `SEQUENCE { INTEGER 1 (format), INTEGER 0x0303 | 0x0304 (protocol), ... }`.
 * Only those first bytes are read; nothing else of the session is parsed.
 *
 * @module
 */

/** Protocol version number of TLS 1.2 in a session (`0x0303`). */
export const TLS_1_2 = 0x0303;
/** Protocol version number of TLS 1.3 in a session (`0x0304`). */
export const TLS_1_3 = 0x0304;

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const SESSION_FORMAT = 1;

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
