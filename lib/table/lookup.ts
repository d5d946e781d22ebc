/**
 * The lookup path of get() and getInto(): find a key in its two buckets and
 * copy its session out, without taking a lock.
 *
 * A reader reads the slot's version word (an atomic load), then the
 * position and the record with plain reads, copies the record, counts the
 * answer (an atomic add: a full fence) and re-reads the version: writers
 * clear a slot before its record's bytes can be reused, so an unchanged
 * version proves the copy whole. A changed one takes the count back and is
 * retried a bounded number of times, then answered as a miss.
 *
 * @module
 */
import {
  C,
  RECORD_HEADER_BYTES,
  SLOTS_PER_BUCKET,
  TAG_BITS,
  TAG_MASK,
  expiresOf,
  keyLengthOf,
  valueLengthOf,
} from './layout.ts';
import type { TableMemory } from './memory.ts';

/** Attempts a reader makes before answering a contended lookup as a miss. */
const READ_ATTEMPTS = 8;
/** Sessions up to this size are copied out a word at a time (from Node's Buffer pool, up to 4 KiB). */
const MAX_WORD_COPY_BYTES = 4096;
// What probe() and read() answer when they copied no session.
const MISS = 0;
const RETRY = -1;
const EXPIRED = 2;

/**
 * Looks up `id`: the session copied into `m.target`, or into a new Buffer
 * when there is none (its length in `m.copied`), or undefined when it is
 * absent or expired (counted as a miss; `m.expired` tells which).
 */
export function lookup(m: TableMemory, id: Uint8Array): Uint8Array | undefined {
  m.locate(id);
  m.expired = false;
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    const r = probe(m, id);
    if (typeof r !== 'number') return r;
    if (r === EXPIRED) {
      m.expired = true;
      return undefined;
    }
    if (r === MISS) break;
    m.count(C.readRetries);
  }
  m.count(C.misses);
  return undefined;
}

/**
 * Looks for the key in both of its buckets of the located shard without
 * locking. Returns a copy of the session (counted as a hit), EXPIRED
 * (counted as a miss), MISS (not counted) or RETRY when a writer changed a
 * slot under the read.
 */
function probe(m: TableMemory, key: Uint8Array): Uint8Array | number {
  const i32 = m.i32;
  const tag = m.tag;
  const first1 = m.bucketAt(m.bucket1);
  const first2 = m.bucket2 === m.bucket1 ? -1 : m.bucketAt(m.bucket2);
  // Touch both buckets' two cache lines before reading either, so that
  // their cache misses overlap instead of following one another.
  const touched = i32[first1] ^ i32[first1 + SLOTS_PER_BUCKET] ^
    (first2 < 0 ? 0 : i32[first2] ^ i32[first2 + SLOTS_PER_BUCKET]);
  if (touched === 1) m.touched = 1;
  for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
    // A plain read of the tag filters out most slots cheaply; read()
    // then reads the version before the position it vouches for.
    if ((i32[first1 + SLOTS_PER_BUCKET + i] & TAG_MASK) === tag) {
      const r = read(m, first1 + i, key);
      if (r !== MISS) return r;
    }
    if (first2 >= 0 && (i32[first2 + SLOTS_PER_BUCKET + i] & TAG_MASK) === tag) {
      const r = read(m, first2 + i, key);
      if (r !== MISS) return r;
    }
  }
  return MISS;
}

/** Reads the slot at word `slotAt` of the located shard whose tag matched; see probe(). */
function read(m: TableMemory, slotAt: number, key: Uint8Array): Uint8Array | number {
  const i32 = m.i32;
  const version = Atomics.load(i32, slotAt);
  if (version === 0) return MISS;
  // Everything below may be torn by a concurrent writer: the version was
  // read first (an acquire), each length is bounds-checked before use, and
  // the version check after a full fence decides.
  const pos = i32[slotAt + SLOTS_PER_BUCKET];
  if ((pos & TAG_MASK) !== m.tag) return MISS;
  const ringBytes = m.ringBytes;
  const offset = (pos >>> TAG_BITS) * 8;
  const keyLength = key.length;
  if (offset + RECORD_HEADER_BYTES + keyLength > ringBytes) return RETRY;
  const ring = m.rings + m.shard * ringBytes;
  const at = ring + offset;
  // Touch the lines a typical record spans so their misses overlap.
  const last = (ring + ringBytes - 4) >> 2;
  const touched = i32[Math.min((at + 64) >> 2, last)] ^ i32[Math.min((at + 128) >> 2, last)] ^
    i32[Math.min((at + 192) >> 2, last)];
  if (touched === 1) m.touched = 1;
  const now = m.now();
  const lengths = i32[(at >> 2) + 1];
  if (keyLengthOf(lengths) !== keyLength || !m.keyIsAt(at, keyLength)) {
    return Atomics.load(i32, slotAt) === version ? MISS : RETRY;
  }
  const live = now < expiresOf(i32[at >> 2], lengths);
  let value: Uint8Array | undefined;
  if (live) {
    const valueLength = valueLengthOf(lengths);
    const start = at + RECORD_HEADER_BYTES + keyLength;
    if (valueLength === 0 || valueLength > m.maxSessionSize || offset + RECORD_HEADER_BYTES + keyLength + valueLength > ringBytes) {
      return RETRY;
    }
    value = copyOut(m, start, valueLength);
  }
  // Counting the answer is a read-modify-write, a full fence: it orders the
  // copy before the check, on weakly ordered CPUs too. A failed check takes
  // the count back.
  const counter = live ? C.hits : C.misses;
  m.count(counter);
  if (Atomics.load(i32, slotAt) !== version) {
    m.uncount(counter);
    return RETRY;
  }
  return value ?? EXPIRED;
}

/**
 * Copies `length` bytes of the table's buffer from byte `start` into
 * `m.target`, or into a new Buffer when there is none, and returns it.
 */
function copyOut(m: TableMemory, start: number, length: number): Uint8Array {
  const value = m.target ?? Buffer.allocUnsafe(length);
  m.copied = length;
  const to = value.byteOffset;
  if (((start | to) & 3) !== 0 || length > MAX_WORD_COPY_BYTES) {
    value.set(m.u8.subarray(start, start + length));
    return value;
  }
  // A session ID of a multiple of 4 bytes leaves the session word-aligned,
  // and Node's Buffer pool hands out 8-aligned slices (a target is usually
  // a buffer of its own): copy words, then the last 1 to 3 bytes.
  const buffer = value.buffer;
  if (buffer !== m.outBuffer) {
    m.outBuffer = buffer;
    m.outWords = new Int32Array(buffer, 0, buffer.byteLength >> 2);
  }
  const i32 = m.i32;
  const out = m.outWords;
  const whole = length >>> 2;
  const from = start >> 2;
  const into = to >> 2;
  for (let w = 0; w < whole; w++) out[into + w] = i32[from + w];
  const u8 = m.u8;
  for (let k = whole * 4; k < length; k++) value[k] = u8[start + k];
  return value;
}
