/**
 * Sealing: what this library stores in Redis is encrypted and authenticated
 * (AES-256-GCM), so Redis, and whoever reads or writes it, never sees a
 * session or a ticket key in plaintext, and any value altered there is
 * refused.
 *
 * The 32-byte key is derived with HKDF-SHA256 from the deployment's secret
 * (`TLS_CACHE_REDIS_SECRET`), with the namespace and the purpose (`session`,
 * `ticket-key`, `session-ended` or `fleet-host`) in HKDF's `info`: a value sealed for one purpose or one
 * namespace does not open under another, even with the same secret. Each
 * value has a random 12-byte IV; the associated data is the format version,
 * the purpose and the value's `id` (the session ID, or the ticket key's
 * number), so a value moved to another Redis key does not open either.
 *
 * Format: `0x01 | iv (12) | ciphertext | tag (16)`. {@link Sealer.open}
 * returns `undefined` for anything that does not authenticate (altered,
 * truncated, another version, another secret, namespace, purpose or id),
 * and never throws: what comes from Redis reaches a handshake only after it
 * opened.
 *
 * **Two secrets, while hosts move to a new one.** With a previous secret
 * (`TLS_CACHE_REDIS_SECRET_PREVIOUS`), a value opens under either, and a
 * value is sealed under both: `0x02 | 2 | (length (2) | a 0x01 seal)` for
 * the current secret, then for the previous one. A host still on the
 * previous secret alone opens the second part, so during a move every host
 * opens what every other writes (see `docs/redis.md`). Each part is a
 * complete seal of its own with its own IV; stripping one leaves what a
 * host with one secret would have written.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomFillSync, type KeyObject } from 'node:crypto';
import { InvalidOptionError } from '../errors.ts';
import { MIN_SECRET_LENGTH } from '../config/kinds.ts';

/** What a sealed value is for: each gets its own key. */
type SealPurpose = 'session' | 'ticket-key' | 'session-ended' | 'fleet-host';
const PURPOSES: readonly SealPurpose[] = ['session', 'ticket-key', 'session-ended', 'fleet-host'];

/** The format version, the first byte of every value sealed under one secret. */
export const SEALED_VERSION = 1;
/** The first byte of a value sealed under two secrets (the current one's seal, then the previous one's). */
export const DOUBLE_SEALED_VERSION = 2;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed value adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + IV_BYTES + TAG_BYTES;
/**
 * HKDF salt: fixed, names the scheme (the secret carries the entropy). It
 * keeps the project's first name: changing it would make every value sealed
 * by an earlier version unreadable.
 */
const SALT = Buffer.from('tls-session-cache/redis/v1');

/** Options of {@link createSealer}. */
export interface SealerOptions {
  /** The deployment's secret, at least {@link MIN_SECRET_LENGTH} characters. Never logged. */
  secret: string;
  /**
   * The secret used before `secret`, while hosts move to it: values open
   * under either, and are sealed under both. Never logged.
   * @defaultValue none
   */
  previousSecret?: string;
  /** The deployment's namespace (`TLS_CACHE_REDIS_NAMESPACE`). */
  namespace: string;
  /** What the values are. */
  purpose: SealPurpose;
}

/** Seals and opens values of one purpose, under one secret and namespace. */
export interface Sealer {
  readonly purpose: SealPurpose;
  /**
   * Encrypts `plaintext` bound to `id`: a new buffer of `plaintext.length +
   * SEAL_OVERHEAD` bytes, or, with a previous secret, of two such seals and
   * 4 bytes of framing.
   */
  seal(id: Uint8Array, plaintext: Uint8Array): Buffer;
  /** The plaintext, or `undefined` when `sealed` does not authenticate under the secret(s) and `id`. Never throws. */
  open(id: Uint8Array, sealed: Uint8Array): Buffer | undefined;
  /**
   * Like {@link open}, and says whether the value opened under the current
   * secret (`current: true`) or under the previous one alone (`false`: it
   * was sealed by a host that has not moved to the current secret yet).
   * Never throws.
   */
  openChecked(id: Uint8Array, sealed: Uint8Array): { plaintext: Buffer; current: boolean } | undefined;
}

/**
 * A sealer for one purpose.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a secret
 * shorter than 32 characters, an empty namespace or an unknown purpose (the
 * message never repeats the secret).
 */
export function createSealer(options: SealerOptions): Sealer {
  const { secret, previousSecret, namespace, purpose } = options ?? ({} as SealerOptions);
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new InvalidOptionError('redisSecret', `expected a secret of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (previousSecret !== undefined && previousSecret !== '' && (typeof previousSecret !== 'string' || previousSecret.length < MIN_SECRET_LENGTH)) {
    throw new InvalidOptionError('redisSecretPrevious', `expected a secret of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (typeof namespace !== 'string' || namespace === '') {
    throw new InvalidOptionError('redisNamespace', 'expected a non-empty namespace');
  }
  if (!PURPOSES.includes(purpose)) {
    throw new InvalidOptionError('purpose', `expected one of ${PURPOSES.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  const info = Buffer.from(`${purpose}\0${namespace}`);
  const derive = (text: string): KeyObject => {
    const derived = Buffer.from(hkdfSync('sha256', Buffer.from(text, 'utf8'), SALT, info, 32));
    const key = createSecretKey(derived);
    derived.fill(0);
    return key;
  };
  const key = derive(secret);
  const previous = previousSecret === undefined || previousSecret === '' ? undefined : derive(previousSecret);
  const prefix = Buffer.from([SEALED_VERSION, ...Buffer.from(`${purpose}\0`)]);
  const aad = (id: Uint8Array): Buffer => Buffer.concat([prefix, id]);

  const sealOne = (under: KeyObject, id: Uint8Array, plaintext: Uint8Array): Buffer => {
    const out = Buffer.allocUnsafe(plaintext.byteLength + SEAL_OVERHEAD);
    out[0] = SEALED_VERSION;
    const iv = randomFillSync(out.subarray(1, 1 + IV_BYTES));
    const cipher = createCipheriv('aes-256-gcm', under, iv);
    cipher.setAAD(aad(id));
    const body = cipher.update(plaintext);
    body.copy(out, 1 + IV_BYTES);
    const tail = cipher.final();
    tail.copy(out, 1 + IV_BYTES + body.length);
    cipher.getAuthTag().copy(out, out.length - TAG_BYTES);
    return out;
  };
  /** One `0x01` seal opened under `under`, or `undefined`. */
  const openOne = (under: KeyObject, id: Uint8Array, bytes: Buffer): Buffer | undefined => {
    if (bytes.byteLength < SEAL_OVERHEAD || bytes[0] !== SEALED_VERSION) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', under, bytes.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(id));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const body = decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES));
      const tail = decipher.final();
      return tail.length === 0 ? body : Buffer.concat([body, tail]);
    } catch {
      return undefined;
    }
  };
  const openChecked = (id: Uint8Array, sealed: Uint8Array): { plaintext: Buffer; current: boolean } | undefined => {
    if (!(sealed instanceof Uint8Array) || !(id instanceof Uint8Array) || sealed.byteLength === 0) return undefined;
    const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const parts = bytes[0] === DOUBLE_SEALED_VERSION ? splitDouble(bytes) : [bytes];
    if (parts === undefined) return undefined;
    for (const part of parts) {
      const plaintext = openOne(key, id, part);
      if (plaintext !== undefined) return { plaintext, current: true };
    }
    if (previous === undefined) return undefined;
    for (const part of parts) {
      const plaintext = openOne(previous, id, part);
      if (plaintext !== undefined) return { plaintext, current: false };
    }
    return undefined;
  };

  return {
    purpose,
    seal(id, plaintext) {
      const first = sealOne(key, id, plaintext);
      if (previous === undefined) return first;
      const second = sealOne(previous, id, plaintext);
      const out = Buffer.allocUnsafe(2 + 2 + first.length + 2 + second.length);
      out[0] = DOUBLE_SEALED_VERSION;
      out[1] = 2;
      out.writeUInt16BE(first.length, 2);
      first.copy(out, 4);
      out.writeUInt16BE(second.length, 4 + first.length);
      second.copy(out, 6 + first.length);
      return out;
    },
    open(id, sealed) {
      return openChecked(id, sealed)?.plaintext;
    },
    openChecked,
  };
}

/** The two seals of a `0x02` value, or `undefined` when its framing does not add up. */
function splitDouble(bytes: Buffer): Buffer[] | undefined {
  if (bytes.length < 2 || bytes[1] !== 2) return undefined;
  const parts: Buffer[] = [];
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (at + 2 > bytes.length) return undefined;
    const length = bytes.readUInt16BE(at);
    at += 2;
    if (at + length > bytes.length) return undefined;
    parts.push(bytes.subarray(at, at + length));
    at += length;
  }
  return at === bytes.length ? parts : undefined;
}
