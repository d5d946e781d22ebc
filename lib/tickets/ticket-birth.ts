/**
 * A session's birth (when its full handshake happened, in clock
 * milliseconds) sealed into the IV of every ticket issued for it, so that a
 * ticket renewed on a resumption still says when its session began, and any
 * worker, process or host holding the ticket key can read it back and
 * refuse the ticket once `birth + timeout` has passed.
 *
 * The IV Node's ticket key callback returns (16 bytes, the AES-CBC IV of the
 * ticket) is `AES-128-ECB_k(birth (6 bytes) | magic (2) | random (8))`, with
 * `k` derived from the ticket key's HMAC secret
 * (`HMAC-SHA256(hmac secret, "tls-session-cache ticket birth v1")`, first
 * 16 bytes): every holder of the key opens it, nginx key files and the
 * ring's layout are unchanged, and the IV stays unpredictable (a block of
 * which 8 bytes are random, under a key nobody outside holds). OpenSSL
 * covers the IV with the ticket's HMAC, so an altered IV fails that check
 * after this code has read it: a forged birth never resumes.
 *
 * An IV without the magic (a ticket issued before this code, by nginx, or
 * forged) opens to `undefined`: the caller treats it as a ticket of unknown
 * birth. One cipher pair per key is kept and reused (creating one per
 * ticket costs about 56 µs); the cache is dropped whenever the ring's
 * generation changes, so a derived key does not outlive its ring key by
 * more than one change. The random half of each block comes from a pool
 * filled by `randomFillSync` once per {@link RANDOM_POOL_BYTES} / 8 tickets
 * (one call per ticket showed in the CPU profile of a loaded server), each
 * byte used once.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, randomFillSync, type Cipheriv, type Decipheriv } from 'node:crypto';
import type { TicketKey } from './ticket-key.ts';

/** Marks an IV this code sealed ("T1": layout version 1). */
export const BIRTH_MAGIC = 0x5431;
/**
 * A birth further ahead of this clock than this is not trusted (read as
 * unknown): hosts' clocks differ by less; a value beyond is not a birth.
 */
export const BIRTH_FUTURE_SLACK_MS = 60_000;
/** Largest birth the 6 bytes hold (year 10889). */
const MAX_BIRTH = 2 ** 48 - 1;
/** Keeps the project's first name: changing it would refuse every ticket issued by an earlier version. */
const LABEL = 'tls-session-cache ticket birth v1';
/** Random bytes drawn from the CSPRNG at once: 8 per ticket. */
export const RANDOM_POOL_BYTES = 1024;

interface Seal {
  /** The key name (a copy), to find the last seal again without a lookup. */
  name: Buffer;
  /** The HMAC secret it was derived from (a copy), to tell a reused key name apart. */
  hmac: Buffer;
  encrypt: Cipheriv;
  decrypt: Decipheriv;
}

/** Seals and opens births for the keys of one ring; see the module's documentation. */
export class TicketBirths {
  readonly #seals = new Map<string, Seal>();
  readonly #block = Buffer.alloc(16);
  readonly #random = Buffer.alloc(RANDOM_POOL_BYTES);
  /** Bytes of #random already used. */
  #randomUsed = RANDOM_POOL_BYTES;
  /** The seal used last: tickets come under the current key, one key at a time. */
  #last: Seal | undefined;
  #generation = -1;

  /**
   * Writes into `iv` the sealed birth (clock ms) for a ticket encrypted
   * under `key`; returns `iv`. `generation` is the ring's, read with the key.
   */
  seal(key: TicketKey, generation: number, birth: number, iv: Buffer): Buffer {
    const block = this.#block;
    block.writeUIntBE(Math.min(Math.max(0, Math.floor(birth)), MAX_BIRTH), 0, 6);
    block.writeUInt16BE(BIRTH_MAGIC, 6);
    if (this.#randomUsed + 8 > RANDOM_POOL_BYTES) {
      randomFillSync(this.#random);
      this.#randomUsed = 0;
    }
    this.#random.copy(block, 8, this.#randomUsed, this.#randomUsed + 8);
    this.#random.fill(0, this.#randomUsed, this.#randomUsed + 8);
    this.#randomUsed += 8;
    this.#sealFor(key, generation).encrypt.update(block).copy(iv);
    block.fill(0);
    return iv;
  }

  /**
   * The birth sealed in `iv` under `key`, or `undefined` when this code did
   * not seal it (no magic, or a birth more than
   * {@link BIRTH_FUTURE_SLACK_MS} ahead of `now`).
   */
  open(key: TicketKey, generation: number, iv: Uint8Array, now: number): number | undefined {
    if (iv.byteLength !== 16) return undefined;
    const plain = this.#sealFor(key, generation).decrypt.update(iv);
    if (plain.length !== 16 || plain.readUInt16BE(6) !== BIRTH_MAGIC) return undefined;
    const birth = plain.readUIntBE(0, 6);
    plain.fill(0);
    return birth > now + BIRTH_FUTURE_SLACK_MS ? undefined : birth;
  }

  /** Drops every derived key (on detach). */
  clear(): void {
    for (const seal of this.#seals.values()) {
      seal.name.fill(0);
      seal.hmac.fill(0);
    }
    this.#seals.clear();
    this.#last = undefined;
  }

  #sealFor(key: TicketKey, generation: number): Seal {
    if (generation !== this.#generation) {
      this.clear();
      this.#generation = generation;
    }
    const last = this.#last;
    if (last !== undefined && sameBytes(last.name, key.name) && sameBytes(last.hmac, key.hmac)) return last;
    const name = key.name.toString('latin1');
    const known = this.#seals.get(name);
    if (known !== undefined && known.hmac.equals(key.hmac)) {
      this.#last = known;
      return known;
    }
    const derived = createHmac('sha256', key.hmac).update(LABEL).digest();
    const k = derived.subarray(0, 16);
    const seal: Seal = {
      name: Buffer.from(key.name),
      hmac: Buffer.from(key.hmac),
      encrypt: createCipheriv('aes-128-ecb', k, null).setAutoPadding(false),
      decrypt: createDecipheriv('aes-128-ecb', k, null).setAutoPadding(false),
    };
    derived.fill(0);
    this.#seals.set(name, seal);
    this.#last = seal;
    return seal;
  }
}

/** Whether two 16-byte key parts are equal (a plain loop: no native call per ticket). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
