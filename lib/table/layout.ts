/**
 * The memory layout of a session table inside one SharedArrayBuffer.
 *
 * ```
 * [ header: 64 words                                              ]
 * [ counter stripes: STRIPES x 32 words (one 128-byte line each)   ]
 * [ shard headers: shardCount x 16 words (one 64-byte line each)   ]
 * [ slots of shard 0 | slots of shard 1 | ...                      ]  bucketsPerShard x 16 slots x 2 words
 * [ ring of shard 0  | ring of shard 1  | ...                      ]  ringBytes each
 * ```
 *
 * A bucket is 16 slots in 128 bytes: 16 `version` words, then 16 `pos`
 * words, so a lookup filters a bucket by tag reading one cache line. A
 * slot's `version` is 0 when empty, otherwise the shard's insert generation
 * that filled it; its `pos` is `offset / 8 << 10 | tag`.
 * A record in a ring is an 8-byte header, then the key, then the value,
 * padded to 8 bytes. Rings start on an 8-byte boundary and records are
 * multiples of 8 bytes, so every key starts on a word: the table writes,
 * hashes and compares keys a word at a time (masking what a last partial
 * word holds past the key), and copies a session out a word at a time when
 * it starts on a word too (after the usual 32-byte ID). The header packs the expiry time (42 bits of
 * milliseconds since 1970, good until 2109) with the lengths:
 * word 0 = expiry low 32 bits; word 1 = keyLength - 1 (5 bits) |
 * valueLength << 5 (17 bits) | expiry high 10 bits << 22. A header whose
 * value length is 0 pads the ring to its end.
 *
 * Everything here is arithmetic on the header; nothing allocates after
 * creation. The buffer never grows.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { InvalidTableBufferError } from '../errors.ts';

const MAGIC = 0x544c5343; // 'TLSC'
/** 2: keys hashed with HalfSipHash-1-3 (version 1 used HalfSipHash-2-4). */
const LAYOUT_VERSION = 2;

const HEADER_WORDS = 64;
export const STRIPES = 64;
export const STRIPE_WORDS = 32;
export const SHARD_WORDS = 16;
export const SLOTS_PER_BUCKET = 16;
export const SLOT_WORDS = 2;
export const RECORD_HEADER_BYTES = 8;
export const MAX_KEY_BYTES = 32;
/** Bits of a slot's `pos` word that hold the hash tag. */
export const TAG_BITS = 10;
export const TAG_MASK = (1 << TAG_BITS) - 1;
/** A ring offset is stored in 8-byte units in the 22 bits above the tag. */
export const MAX_RING_BYTES = 2 ** (32 - TAG_BITS) * 8;

/** Header word indexes. */
export const H = {
  magic: 0,
  version: 1,
  shardCount: 2,
  bucketsPerShard: 3,
  ringBytes: 4,
  maxSessionSize: 5,
  timeoutSeconds: 6,
  seed0: 7,
  seed1: 8,
  maxEntriesPerShard: 9,
} as const;

/** Shard header word indexes (relative to the shard's first word). */
export const S = {
  /** Owner tag of the writer holding the shard, 0 when free. */
  lock: 0,
  head: 1,
  tail: 2,
  used: 3,
  entries: 4,
  bytes: 5,
  generation: 6,
} as const;

/** Counter indexes; each counter is a (low, high) pair of words in every stripe. */
export const C = {
  hits: 0,
  misses: 1,
  inserts: 2,
  deletes: 3,
  evictedExpired: 4,
  evictedCapacity: 5,
  evictedOverflow: 6,
  evictedRepair: 7,
  evictedCleared: 8,
  refusedSessionId: 9,
  refusedSession: 10,
  refusedTooLarge: 11,
  refusedBusy: 12,
  readRetries: 13,
} as const;

/**
 * Sizing assumption for a typical session: a 32-byte ID, a 160-byte TLS 1.2
 * session and the record header. Slots are provisioned for records of this
 * size at {@link MAX_LOAD}; larger sessions fill the ring first.
 */
const TYPICAL_RECORD_BYTES = RECORD_HEADER_BYTES + 32 + 160;
/** Share of slots that may be live at once; above it the oldest entries go. */
const MAX_LOAD = 0.8;

/** The shape of a table, fixed at creation and stored in its header. */
export interface Geometry {
  readonly byteLength: number;
  readonly shardCount: number;
  readonly bucketsPerShard: number;
  readonly ringBytes: number;
  readonly maxSessionSize: number;
  readonly timeoutSeconds: number;
  readonly maxEntriesPerShard: number;
}

/** Word offsets of each region, derived from a {@link Geometry}. */
export interface Offsets {
  readonly stripes: number;
  readonly shards: number;
  readonly slots: number;
  readonly slotWordsPerShard: number;
  /** Byte offset of shard 0's ring. */
  readonly rings: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Largest value length a record header can hold (17 bits). */
const MAX_VALUE_BYTES = 2 ** 17 - 1;
/** Clocks must stay below this (42 bits of milliseconds: the year 2109). */
export const MAX_TIME_MS = 2 ** 42 - 1;

/** Word 1 of a record header. */
export const packLengths = (keyLength: number, valueLength: number, expiresMs: number): number =>
  (keyLength - 1) | (valueLength << 5) | (Math.floor(expiresMs / 4294967296) << 22);
export const keyLengthOf = (lengths: number): number => (lengths & 31) + 1;
/** 0 for a padding header. */
export const valueLengthOf = (lengths: number): number => (lengths >>> 5) & MAX_VALUE_BYTES;
/** The expiry of a record header (`2 ** 32` written out: V8 does not always fold it). */
export const expiresOf = (low: number, lengths: number): number => (lengths >>> 22) * 4294967296 + (low >>> 0);

/** Bytes a record of this key and value length takes in a ring. */
export const recordBytes = (keyLength: number, valueLength: number): number =>
  align8(RECORD_HEADER_BYTES + keyLength + valueLength);

export function offsetsOf(g: Geometry): Offsets {
  const stripes = HEADER_WORDS;
  const shards = stripes + STRIPES * STRIPE_WORDS;
  const slots = shards + g.shardCount * SHARD_WORDS;
  const slotWordsPerShard = g.bucketsPerShard * SLOTS_PER_BUCKET * SLOT_WORDS;
  const rings = (slots + g.shardCount * slotWordsPerShard) * 4;
  return { stripes, shards, slots, slotWordsPerShard, rings };
}

/**
 * Splits a byte budget into shards, slots and rings. Shards let writers on
 * different threads proceed in parallel; each holds up to 32 MiB of ring.
 */
export function planGeometry(size: number, maxSessionSize: number, timeoutSeconds: number): Geometry {
  const fixedBytes = (HEADER_WORDS + STRIPES * STRIPE_WORDS) * 4;
  let shardCount = 1;
  while (shardCount < 64 && (shardCount * 2) * 512 * 1024 <= size) shardCount *= 2;
  while ((size - fixedBytes) / shardCount > MAX_RING_BYTES) shardCount *= 2;
  const perShard = Math.floor((size - fixedBytes) / shardCount) - SHARD_WORDS * 4;
  const slotBytes = SLOT_WORDS * 4;
  const entries = perShard / (TYPICAL_RECORD_BYTES + slotBytes / MAX_LOAD);
  const bucketsPerShard = Math.max(1, Math.ceil(entries / MAX_LOAD / SLOTS_PER_BUCKET));
  const ringBytes = Math.min(
    MAX_RING_BYTES,
    (perShard - bucketsPerShard * SLOTS_PER_BUCKET * slotBytes) & ~7,
  );
  const maxEntriesPerShard = Math.floor(bucketsPerShard * SLOTS_PER_BUCKET * MAX_LOAD);
  const partial = { shardCount, bucketsPerShard, ringBytes, maxSessionSize, timeoutSeconds, maxEntriesPerShard };
  const byteLength = offsetsOf({ ...partial, byteLength: 0 }).rings + shardCount * ringBytes;
  return { ...partial, byteLength };
}

/** Writes a fresh header (with a new random hash seed) into an all-zero buffer. */
export function writeHeader(i32: Int32Array, g: Geometry): void {
  const seed = new Int32Array(2);
  randomFillSync(seed);
  i32[H.version] = LAYOUT_VERSION;
  i32[H.shardCount] = g.shardCount;
  i32[H.bucketsPerShard] = g.bucketsPerShard;
  i32[H.ringBytes] = g.ringBytes;
  i32[H.maxSessionSize] = g.maxSessionSize;
  i32[H.timeoutSeconds] = g.timeoutSeconds;
  i32[H.seed0] = seed[0];
  i32[H.seed1] = seed[1];
  i32[H.maxEntriesPerShard] = g.maxEntriesPerShard;
  Atomics.store(i32, H.magic, MAGIC);
}

/** Reads and checks the header of a buffer made by {@link writeHeader}. */
export function readHeader(buffer: unknown): Geometry {
  if (!(buffer instanceof SharedArrayBuffer)) {
    throw new InvalidTableBufferError('Expected the SharedArrayBuffer of a session table (table.buffer)');
  }
  if (buffer.byteLength < HEADER_WORDS * 4) {
    throw new InvalidTableBufferError(`The buffer is ${buffer.byteLength} bytes, too small to be a session table`);
  }
  const i32 = new Int32Array(buffer, 0, HEADER_WORDS);
  if (Atomics.load(i32, H.magic) !== MAGIC) {
    throw new InvalidTableBufferError('The buffer is not a session table (bad magic number)');
  }
  if (i32[H.version] !== LAYOUT_VERSION) {
    throw new InvalidTableBufferError(
      `The table has layout version ${i32[H.version]}; this library reads version ${LAYOUT_VERSION}`,
    );
  }
  const g: Geometry = {
    byteLength: buffer.byteLength,
    shardCount: i32[H.shardCount],
    bucketsPerShard: i32[H.bucketsPerShard],
    ringBytes: i32[H.ringBytes],
    maxSessionSize: i32[H.maxSessionSize],
    timeoutSeconds: i32[H.timeoutSeconds],
    maxEntriesPerShard: i32[H.maxEntriesPerShard],
  };
  if (offsetsOf(g).rings + g.shardCount * g.ringBytes !== buffer.byteLength) {
    throw new InvalidTableBufferError('The table header does not match the buffer size');
  }
  return g;
}
