/**
 * A session's birth (when its full handshake happened, in clock
 * milliseconds) sealed into the IV of every ticket issued for it, so that a
 * ticket renewed on a resumption still says when its session began, and any
 * worker, process or host holding the ticket key can read it back and
 * refuse the ticket once `birth + timeout` has passed.
 *
 * The IV Node's ticket key callback returns (16 bytes, the AES-CBC IV of the
 * ticket) is `AES-128-ECB_k(birth (6 bytes) | magic (1) | binding (4) |
 * random (5))`, the binding being the first 4 bytes of the session's
 * binding to its name and authentication (`tls/session-names.ts`; 0: none),
 * with
 * `k` derived from the ticket key's HMAC secret
 * (`HMAC-SHA256(hmac secret, "tls-session-cache ticket birth v1")`, first
 * 16 bytes): every holder of the key opens it, nginx key files and the
 * ring's layout are unchanged, and the IV stays unpredictable (a block of
 * which 5 bytes are random, under a key nobody outside holds). OpenSSL
 * covers the IV with the ticket's HMAC, so an altered IV fails that check
 * after this code has read it: a forged birth never resumes.
 *
 * An IV without the magic (a ticket issued before this code, by nginx, or
 * forged) opens to `undefined`: the caller treats it as a ticket of unknown
 * birth. An IV of the first layout (`birth | "T1" | random (8)`, before
 * names were bound) opens to its birth and binding 0. One cipher pair per key is kept and reused (creating one per
 * ticket showed in the CPU profile of a loaded server); the cache is dropped whenever the ring's
 * generation changes, so a derived key does not outlive its ring key by
 * more than one change. The random half of each block comes from a pool
 * filled by `randomFillSync` once per {@link RANDOM_POOL_BYTES} / 5 tickets
 * (one call per ticket showed in the CPU profile of a loaded server), each
 * byte used once.
 *
 * Opening a birth costs an AES block through a `Decipheriv`, whose
 * `update()` makes a new ArrayBuffer each time: the largest part of the
 * ticket key callback's own work. A birth is a function of the key and the
 * IV alone, so the births this object sealed or opened lately are kept by
 * IV ({@link BIRTH_CACHE_SLOTS} slots, the slot chosen by the IV's first
 * word: the IV is an AES block, evenly spread): a TLS 1.2 ticket offered
 * again, or a ticket offered back to the thread that sealed it, is read
 * without AES. An entry answers only for its own key (the seal it was read
 * with) and all 16 bytes of its IV, and every entry is dropped with the
 * derived keys; a ticket not found there is opened as before.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, randomFillSync, type Cipheriv, type Decipheriv } from 'node:crypto';
import type { TicketKey } from './ticket-key.ts';

/** Marks an IV of the first layout ("T1"), which sealed no binding. */
export const BIRTH_MAGIC = 0x5431;
/** Marks an IV of the current layout ("U"), which seals a binding. */
const BINDING_MAGIC = 0x55;
/**
 * A birth further ahead of this clock than this is not trusted (read as
 * unknown): hosts' clocks differ by less; a value beyond is not a birth.
 */
export const BIRTH_FUTURE_SLACK_MS = 60_000;
/** Largest birth the 6 bytes hold (year 10889). */
const MAX_BIRTH = 2 ** 48 - 1;
/** Keeps the project's first name: changing it would refuse every ticket issued by an earlier version. */
const LABEL = 'tls-session-cache ticket birth v1';
/** Random bytes drawn from the CSPRNG at once: {@link RANDOM_BYTES} per ticket. */
const RANDOM_POOL_BYTES = 1000;
/** Random bytes in each IV's block: with the millisecond birth and the binding, no two tickets of a key share an IV. */
const RANDOM_BYTES = 5;
/** Births kept by IV (a power of 2): 32 KiB per ring attached to a server. */
export const BIRTH_CACHE_SLOTS = 1024;

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
  /** Per slot: the IV's four words, the seal it was read with (none: empty slot), the birth it holds. */
  readonly #cachedIv = new Int32Array(BIRTH_CACHE_SLOTS * 4);
  readonly #cachedSeal: Array<Seal | undefined> = new Array<Seal | undefined>(BIRTH_CACHE_SLOTS).fill(undefined);
  readonly #cachedBirth = new Float64Array(BIRTH_CACHE_SLOTS);
  readonly #cachedBinding = new Uint32Array(BIRTH_CACHE_SLOTS);
  /** The binding the last {@link TicketBirths.open} found (0: none). */
  binding = 0;

  /**
   * Writes into `iv` the sealed birth (clock ms) for a ticket encrypted
   * under `key`; returns `iv`. `generation` is the ring's, read with the key.
   */
  seal(key: TicketKey, generation: number, birth: number, iv: Buffer, binding = 0): Buffer {
    const block = this.#block;
    const sealed = Math.min(Math.max(0, Math.floor(birth)), MAX_BIRTH);
    block.writeUIntBE(sealed, 0, 6);
    block[6] = BINDING_MAGIC;
    block.writeUInt32BE(binding >>> 0, 7);
    if (this.#randomUsed + RANDOM_BYTES > RANDOM_POOL_BYTES) {
      randomFillSync(this.#random);
      this.#randomUsed = 0;
    }
    this.#random.copy(block, 11, this.#randomUsed, this.#randomUsed + RANDOM_BYTES);
    this.#random.fill(0, this.#randomUsed, this.#randomUsed + RANDOM_BYTES);
    this.#randomUsed += RANDOM_BYTES;
    const seal = this.#sealFor(key, generation);
    seal.encrypt.update(block).copy(iv);
    block.fill(0);
    this.#remember(seal, iv, sealed, binding >>> 0);
    return iv;
  }

  /**
   * The birth sealed in `iv` under `key`, or `undefined` when this code did
   * not seal it (no magic, or a birth more than
   * {@link BIRTH_FUTURE_SLACK_MS} ahead of `now`).
   */
  open(key: TicketKey, generation: number, iv: Uint8Array, now: number): number | undefined {
    if (iv.byteLength !== 16) return undefined;
    const seal = this.#sealFor(key, generation);
    this.binding = 0;
    let birth = this.#cached(seal, iv);
    if (birth < 0) {
      const plain = seal.decrypt.update(iv);
      const layout = plain.length !== 16 ? 0 : plain[6] === BINDING_MAGIC ? 2 : plain.readUInt16BE(6) === BIRTH_MAGIC ? 1 : 0;
      if (layout === 0) return undefined;
      birth = plain.readUIntBE(0, 6);
      const binding = layout === 2 ? plain.readUInt32BE(7) : 0;
      plain.fill(0);
      this.#remember(seal, iv, birth, binding);
      this.binding = binding;
    } else {
      this.binding = this.#cachedBinding[wordAt(iv, 0) & (BIRTH_CACHE_SLOTS - 1)];
    }
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
    this.#cachedSeal.fill(undefined);
    this.#cachedIv.fill(0);
    this.#cachedBirth.fill(0);
    this.#cachedBinding.fill(0);
  }

  /** The birth kept for `iv` read with `seal`, or -1. */
  #cached(seal: Seal, iv: Uint8Array): number {
    const first = wordAt(iv, 0);
    const slot = first & (BIRTH_CACHE_SLOTS - 1);
    if (this.#cachedSeal[slot] !== seal) return -1;
    const words = this.#cachedIv;
    const at = slot * 4;
    if (words[at] !== first || words[at + 1] !== wordAt(iv, 4) || words[at + 2] !== wordAt(iv, 8) || words[at + 3] !== wordAt(iv, 12)) return -1;
    return this.#cachedBirth[slot];
  }

  /** Keeps the birth and binding of `iv` read (or sealed) with `seal`, in place of whatever its slot held. */
  #remember(seal: Seal, iv: Uint8Array, birth: number, binding: number): void {
    const first = wordAt(iv, 0);
    const slot = first & (BIRTH_CACHE_SLOTS - 1);
    const words = this.#cachedIv;
    const at = slot * 4;
    words[at] = first;
    words[at + 1] = wordAt(iv, 4);
    words[at + 2] = wordAt(iv, 8);
    words[at + 3] = wordAt(iv, 12);
    this.#cachedSeal[slot] = seal;
    this.#cachedBirth[slot] = birth;
    this.#cachedBinding[slot] = binding;
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

/** The 32-bit word at byte `at` of a 16-byte IV (little-endian; plain reads, no view per ticket). */
function wordAt(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
}
