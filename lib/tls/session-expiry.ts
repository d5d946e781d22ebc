/**
 * Reads when a serialized TLS session expires, from OpenSSL's own DER
 * encoding of it (`i2d_SSL_SESSION`, what Node hands `newSession` and takes
 * back from `resumeSession`):
 *
 * ```
 * SEQUENCE { INTEGER format, INTEGER protocol, OCTET STRING cipher,
 *            OCTET STRING sessionId, OCTET STRING masterKey,
 *            [1] EXPLICIT INTEGER time, [2] EXPLICIT INTEGER timeout, ... }
 * ```
 *
 * `time` is when the full handshake happened and `timeout` the lifetime,
 * both in whole seconds: OpenSSL refuses to resume the session from
 * `time + timeout` on, whoever stored it and however often it resumed. A
 * cache that copies a session (a worker process's local copy) keeps it no
 * longer than that.
 *
 * @module
 */
import { element, type Element } from './session-der.ts';

const SEQUENCE = 0x30;
const TAG_TIME = 0xa1;
const TAG_TIMEOUT = 0xa2;
const INTEGER = 0x02;
/** Elements before `time`: five, plus an optional `[0]`; a few more are tolerated. */
const MAX_ELEMENTS = 10;

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
 * OpenSSL encoded (nothing else is parsed).
 */
export function sessionExpiresAt(der: Uint8Array): number | undefined {
  if (!(der instanceof Uint8Array)) return undefined;
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
      return time === undefined || timeout === undefined ? undefined : (time + timeout) * 1000;
    }
    at = next.start + next.length;
  }
  return undefined;
}
