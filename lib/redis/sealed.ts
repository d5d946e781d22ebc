/**
 * Sealing: what this library stores in Redis is encrypted and authenticated
 * (AES-256-GCM), so Redis, and whoever reads or writes it, never sees a
 * session or a ticket key in plaintext, and any value altered there is
 * refused.
 *
 * The 32-byte key is derived with HKDF-SHA256 from the deployment's secret
 * (`TLS_CACHE_REDIS_SECRET`), with the namespace and the purpose (`session`
 * or `ticket-key`) in HKDF's `info`: a value sealed for one purpose or one
 * namespace does not open under another, even with the same secret. Each
 * value has a random 12-byte IV; the associated data is the format version,
 * the purpose and the value's `id` (the session ID, or the ticket key's
 * number), so a value moved to another Redis key does not open either.
 *
 * Format (one version so far): `0x01 | iv (12) | ciphertext | tag (16)`.
 * {@link Sealer.open} returns `undefined` for anything that does not
 * authenticate (altered, truncated, another version, another secret,
 * namespace, purpose or id), and never throws: what comes from Redis reaches
 * a handshake only after it opened.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomFillSync, type KeyObject } from 'node:crypto';
import { InvalidOptionError } from '../errors.ts';

/** What a sealed value is for: each gets its own key. */
export type SealPurpose = 'session' | 'ticket-key';

/** The format version, the first byte of every sealed value. */
export const SEALED_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed value adds to its plaintext. */
export const SEAL_OVERHEAD = 1 + IV_BYTES + TAG_BYTES;
/** HKDF salt: fixed, names the scheme (the secret carries the entropy). */
const SALT = Buffer.from('tls-session-cache/redis/v1');
/** Shortest secret accepted (the configuration asks the same). */
export const MIN_SECRET_LENGTH = 32;

/** Options of {@link createSealer}. */
export interface SealerOptions {
  /** The deployment's secret, at least {@link MIN_SECRET_LENGTH} characters. Never logged. */
  secret: string;
  /** The deployment's namespace (`TLS_CACHE_REDIS_NAMESPACE`). */
  namespace: string;
  /** What the values are. */
  purpose: SealPurpose;
}

/** Seals and opens values of one purpose, under one secret and namespace. */
export interface Sealer {
  readonly purpose: SealPurpose;
  /** Encrypts `plaintext` bound to `id`; a new buffer of `plaintext.length + SEAL_OVERHEAD` bytes. */
  seal(id: Uint8Array, plaintext: Uint8Array): Buffer;
  /** The plaintext, or `undefined` when `sealed` does not authenticate under this key and `id`. Never throws. */
  open(id: Uint8Array, sealed: Uint8Array): Buffer | undefined;
}

/**
 * A sealer for one purpose.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a secret
 * shorter than 32 characters, an empty namespace or an unknown purpose (the
 * message never repeats the secret).
 */
export function createSealer(options: SealerOptions): Sealer {
  const { secret, namespace, purpose } = options ?? ({} as SealerOptions);
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    throw new InvalidOptionError('redisSecret', `expected a secret of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (typeof namespace !== 'string' || namespace === '') {
    throw new InvalidOptionError('redisNamespace', 'expected a non-empty namespace');
  }
  if (purpose !== 'session' && purpose !== 'ticket-key') {
    throw new InvalidOptionError('purpose', 'expected "session" or "ticket-key"');
  }
  const info = Buffer.from(`${purpose}\0${namespace}`);
  const derived = Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), SALT, info, 32));
  const key: KeyObject = createSecretKey(derived);
  derived.fill(0);
  const prefix = Buffer.from([SEALED_VERSION, ...Buffer.from(`${purpose}\0`)]);
  const aad = (id: Uint8Array): Buffer => Buffer.concat([prefix, id]);

  return {
    purpose,
    seal(id, plaintext) {
      const out = Buffer.allocUnsafe(plaintext.byteLength + SEAL_OVERHEAD);
      out[0] = SEALED_VERSION;
      const iv = randomFillSync(out.subarray(1, 1 + IV_BYTES));
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(aad(id));
      const body = cipher.update(plaintext);
      body.copy(out, 1 + IV_BYTES);
      const tail = cipher.final();
      tail.copy(out, 1 + IV_BYTES + body.length);
      cipher.getAuthTag().copy(out, out.length - TAG_BYTES);
      return out;
    },
    open(id, sealed) {
      if (!(sealed instanceof Uint8Array) || !(id instanceof Uint8Array)) return undefined;
      if (sealed.byteLength < SEAL_OVERHEAD || sealed[0] !== SEALED_VERSION) return undefined;
      const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(1, 1 + IV_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(id));
        decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
        const body = decipher.update(bytes.subarray(1 + IV_BYTES, bytes.length - TAG_BYTES));
        const tail = decipher.final();
        return tail.length === 0 ? body : Buffer.concat([body, tail]);
      } catch {
        return undefined;
      }
    },
  };
}
