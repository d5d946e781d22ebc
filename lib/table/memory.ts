/**
 * A session table's memory as one thread sees it: the typed arrays over the
 * SharedArrayBuffer, the geometry the hot paths use, this thread's identity
 * (lock owner id, counter stripe, clock), and how to address a shard, a
 * bucket, a slot and a record in it (the layout itself is in `layout.ts`).
 *
 * It also holds this thread's scratch: the key being looked up or written,
 * as words, and where {@link TableMemory.locate} found it goes (shard,
 * buckets, tag), plus the copy-out state of `lookup.ts`. Keeping these in
 * fields of one object lets the hot paths allocate nothing per call.
 *
 * The path modules (`lookup.ts`, `write.ts`, `locks.ts`, `repair.ts`) are
 * functions that take a TableMemory as their first argument; it is always
 * the same class, so their property reads stay monomorphic and V8 inlines
 * the small methods here.
 *
 * @module
 */
import { threadId } from 'node:worker_threads';
import { describe } from '../describe.ts';
import { InvalidOptionError } from '../errors.ts';
import { halfSipHash13, leadingBytesMask } from './hash.ts';
import {
  H,
  MAX_KEY_BYTES,
  MAX_TIME_MS,
  RECORD_HEADER_BYTES,
  SHARD_WORDS,
  SLOT_WORDS,
  SLOTS_PER_BUCKET,
  STRIPES,
  STRIPE_WORDS,
  TAG_BITS,
  TAG_MASK,
  keyLengthOf,
  offsetsOf,
  recordBytes,
  valueLengthOf,
  type Geometry,
} from './layout.ts';

// Written out: V8 does not always fold `2 ** n`, and calls pow() on the hot path.
/** 2 ** 32. */
const WORD_SPAN = 4294967296;
/** 2 ** (32 - TAG_BITS): the range of a hash word's bits above the tag. */
const TAG_SPAN = 4194304;
if (TAG_SPAN !== 2 ** (32 - TAG_BITS)) throw new Error('TAG_SPAN does not match TAG_BITS');

/** One thread's view of a table's memory, and its scratch; see the module comment. */
export class TableMemory {
  readonly i32: Int32Array;
  /** The same memory as a Buffer, to copy sessions in. */
  readonly mem: Buffer;
  readonly u8: Uint8Array;

  // The geometry (see `layout.ts`), copied into fields of this object.
  readonly shardCount: number;
  readonly ringBytes: number;
  /** Byte offset of shard 0's ring. */
  readonly rings: number;
  readonly bucketsPerShard: number;
  readonly shardMask: number;
  /** Word offset of counter stripe 0. */
  readonly stripes: number;
  /** Word offset of shard 0's header. */
  readonly shards: number;
  /** Word offset of shard 0's first bucket. */
  readonly slots: number;
  readonly slotWordsPerShard: number;
  readonly maxSessionSize: number;
  readonly maxEntriesPerShard: number;

  // This thread.
  /** Owner id this thread tags shard locks with (`threadId + 1`). */
  readonly owner: number;
  /** Word offset of this thread's counter stripe. */
  readonly stripe: number;
  readonly clock: () => number;
  readonly seed0: number;
  readonly seed1: number;

  // Scratch, so that the hot paths allocate nothing.
  readonly hash = new Uint32Array(2);
  /** The key being looked up or written, as words (so it hashes and compares a word at a time). */
  readonly keyWords = new Int32Array(MAX_KEY_BYTES / 4);
  readonly keyBytes = new Uint8Array(this.keyWords.buffer);
  // Outputs of locate(key).
  shard = 0;
  bucket1 = 0;
  bucket2 = 0;
  tag = 0;
  /** Where getInto() is copying the session it looks up; undefined in get(). */
  target: Uint8Array | undefined = undefined;
  /** Length of the session the last hit copied out. */
  copied = 0;
  /** Whether the last lookup that found nothing found its entry expired (rather than absent). */
  expired = false;
  /** The ArrayBuffer of the last session copied out (Node's Buffer pool, or a getInto() target), and a word view of it. */
  outBuffer: ArrayBufferLike | undefined = undefined;
  outWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
  /** Set by the reads that only start cache misses early, so that they are not optimized away. */
  touched = 0;

  constructor(buffer: SharedArrayBuffer, g: Geometry, clock: () => number) {
    const o = offsetsOf(g);
    this.i32 = new Int32Array(buffer);
    this.mem = Buffer.from(buffer);
    this.u8 = new Uint8Array(buffer);
    this.shardCount = g.shardCount;
    this.ringBytes = g.ringBytes;
    this.rings = o.rings;
    this.bucketsPerShard = g.bucketsPerShard;
    this.shardMask = g.shardCount - 1;
    this.stripes = o.stripes;
    this.shards = o.shards;
    this.slots = o.slots;
    this.slotWordsPerShard = o.slotWordsPerShard;
    this.maxSessionSize = g.maxSessionSize;
    this.maxEntriesPerShard = g.maxEntriesPerShard;
    this.owner = threadId + 1;
    this.stripe = o.stripes + (threadId % STRIPES) * STRIPE_WORDS;
    this.clock = clock;
    this.seed0 = this.i32[H.seed0];
    this.seed1 = this.i32[H.seed1];
  }

  /** The injected clock's reading, checked: a broken clock must not corrupt expiry. */
  now(): number {
    const now = this.clock();
    if (!(now >= 0 && now <= MAX_TIME_MS)) {
      throw new InvalidOptionError('clock', `returned ${describe(now)}; expected milliseconds from 0 to ${MAX_TIME_MS}`);
    }
    return now;
  }

  // ---- keys -----------------------------------------------------------------

  /** Copies `key` into keyWords and hashes it into shard, bucket1, bucket2 and tag. */
  locate(key: Uint8Array): void {
    const h = this.hash;
    this.keyBytes.set(key);
    halfSipHash13(this.seed0, this.seed1, this.keyWords, 0, key.length, h);
    const buckets = this.bucketsPerShard;
    this.tag = h[0] & TAG_MASK;
    this.bucket2 = Math.floor((h[0] >>> TAG_BITS) * buckets / TAG_SPAN);
    this.shard = h[1] & this.shardMask;
    this.bucket1 = Math.floor(h[1] * buckets / WORD_SPAN);
  }

  /** Whether the record at byte `at` holds keyWords' key (of `keyLength` bytes, as the record's). */
  keyIsAt(at: number, keyLength: number): boolean {
    const i32 = this.i32;
    const words = this.keyWords;
    const first = (at + RECORD_HEADER_BYTES) >> 2;
    const whole = keyLength >>> 2;
    for (let w = 0; w < whole; w++) if (i32[first + w] !== words[w]) return false;
    const left = keyLength & 3;
    return left === 0 || ((i32[first + whole] ^ words[whole]) & leadingBytesMask(left)) === 0;
  }

  /**
   * The slot whose entry is the record at `offset` of a shard's ring, or -1
   * if that record is dead: hashes the record's key as locate() does, and
   * looks in its two buckets for the slot pointing at that offset.
   */
  slotOfRecord(shard: number, offset: number, keyLength: number): number {
    const ring = this.rings + shard * this.ringBytes;
    const keyAt = ring + offset + RECORD_HEADER_BYTES;
    const h = this.hash;
    halfSipHash13(this.seed0, this.seed1, this.i32, keyAt >> 2, keyLength, h);
    const buckets = this.bucketsPerShard;
    const expected = ((offset / 8) << TAG_BITS) | (h[0] & TAG_MASK);
    const b1 = Math.floor(h[1] * buckets / WORD_SPAN);
    const b2 = Math.floor((h[0] >>> TAG_BITS) * buckets / TAG_SPAN);
    const i32 = this.i32;
    const first1 = this.slotAt(shard, b1 * SLOTS_PER_BUCKET);
    const first2 = this.slotAt(shard, b2 * SLOTS_PER_BUCKET);
    // Start both buckets' cache misses at once (see probe() in lookup.ts).
    const touched = i32[first1] ^ i32[first1 + SLOTS_PER_BUCKET] ^ i32[first2] ^ i32[first2 + SLOTS_PER_BUCKET];
    if (touched === 1) this.touched = 1;
    for (let choice = 0; choice < 2; choice++) {
      const first = choice === 0 ? first1 : first2;
      for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
        if (i32[first + SLOTS_PER_BUCKET + i] === expected && i32[first + i] !== 0) {
          return (choice === 0 ? b1 : b2) * SLOTS_PER_BUCKET + i;
        }
      }
    }
    return -1;
  }

  // ---- addresses ------------------------------------------------------------

  /** Word index of a shard's header (see `S` in `layout.ts`). */
  shardBase(shard: number): number {
    return this.shards + shard * SHARD_WORDS;
  }

  /** Word index of the first version word of a bucket of the located shard. */
  bucketAt(bucket: number): number {
    return this.slots + this.shard * this.slotWordsPerShard + bucket * SLOTS_PER_BUCKET * SLOT_WORDS;
  }

  /** Word index of a slot's position word (offset and tag). */
  posAt(shard: number, slot: number): number {
    return this.slotAt(shard, slot) + SLOTS_PER_BUCKET;
  }

  /** Word index of a slot's version; its position word is SLOTS_PER_BUCKET further (see posAt). */
  slotAt(shard: number, slot: number): number {
    const inBucket = slot & (SLOTS_PER_BUCKET - 1);
    return this.slots + shard * this.slotWordsPerShard + (slot - inBucket) * SLOT_WORDS + inBucket;
  }

  /** Bytes of the record a slot's position word `pos` points at. */
  recordSizeAt(shard: number, pos: number): number {
    const at = this.rings + shard * this.ringBytes + (pos >>> TAG_BITS) * 8;
    const lengths = this.i32[(at >> 2) + 1];
    return recordBytes(keyLengthOf(lengths), valueLengthOf(lengths));
  }

  // ---- counters -------------------------------------------------------------

  /** Adds to a counter in this thread's stripe (a 64-bit low, high pair). */
  count(counter: number, n = 1): void {
    const at = this.stripe + 2 * counter;
    const before = Atomics.add(this.i32, at, n);
    if ((before >>> 0) + n > 0xffffffff) Atomics.add(this.i32, at + 1, 1);
  }

  /** Takes back one count() of a lookup whose copy failed its check. */
  uncount(counter: number): void {
    const at = this.stripe + 2 * counter;
    if (Atomics.sub(this.i32, at, 1) === 0) Atomics.sub(this.i32, at + 1, 1);
  }

  /** A counter's total across every thread's stripe. */
  total(counter: number): number {
    let sum = 0;
    for (let s = 0; s < STRIPES; s++) {
      const at = this.stripes + s * STRIPE_WORDS + 2 * counter;
      sum += Atomics.load(this.i32, at + 1) * 2 ** 32 + (Atomics.load(this.i32, at) >>> 0);
    }
    return sum;
  }
}
