/**
 * The write path: storing a record in a shard's ring and publishing it in a
 * slot, and the evictions that make room for it. Every function here except
 * {@link touchForInsert} runs with the shard's lock held (`locks.ts`);
 * `session-table.ts` takes it.
 *
 * A shard's ring is a FIFO: every entry lives the same absolute time, so
 * the record at the tail is both the oldest and the first to expire. Room
 * is made by evicting from the tail. Readers take no lock, so a writer
 * clears a slot (an atomic store of its version word) before the record it
 * points at can be overwritten, and publishes a new slot's position before
 * its version (see {@link insert}).
 *
 * @module
 */
import {
  C,
  RECORD_HEADER_BYTES,
  S,
  SLOTS_PER_BUCKET,
  TAG_BITS,
  TAG_MASK,
  expiresOf,
  keyLengthOf,
  packLengths,
  recordBytes,
  valueLengthOf,
} from './layout.ts';
import type { TableMemory } from './memory.ts';

/**
 * Before a write takes its shard's lock: starts the cache misses of what
 * it will read under the lock (the key's two buckets, and the record at
 * the tail, which a full shard evicts), so that they overlap.
 * `m.locate(key)` must have run.
 */
export function touchForInsert(m: TableMemory, shard: number): void {
  const i32 = m.i32;
  const first1 = m.bucketAt(m.bucket1);
  const first2 = m.bucketAt(m.bucket2);
  const ringBytes = m.ringBytes;
  // Read without the lock: only a hint of where to touch, checked to stay in the ring.
  const tail = i32[m.shardBase(shard) + S.tail];
  const at = m.rings + shard * ringBytes + ((tail >>> 0) < ringBytes ? tail : 0);
  const touched = i32[first1] ^ i32[first1 + SLOTS_PER_BUCKET] ^ i32[first2] ^ i32[first2 + SLOTS_PER_BUCKET] ^ i32[at >> 2];
  if (touched === 1) m.touched = 1;
}

/**
 * Stores `value` under `key` (replacing its entry, if any) until
 * `expiresMs`. `m.locate(key)` must have run.
 */
export function insert(m: TableMemory, shard: number, key: Uint8Array, value: Uint8Array, expiresMs: number, now: number): void {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  const size = recordBytes(key.length, value.length);
  while (i32[base + S.entries] >= m.maxEntriesPerShard && i32[base + S.used] > 0) evictTail(m, shard, now);
  makeRoom(m, shard, size, now);
  // Evictions may have moved things: look for the key only now.
  let slot = findSlot(m, shard, key);
  const replacing = slot >= 0;
  if (replacing) {
    i32[base + S.bytes] -= m.recordSizeAt(shard, i32[m.posAt(shard, slot)]);
  } else {
    slot = freeSlot(m, shard);
  }
  // Write the record at the head, then move the head past it, then publish.
  const head = i32[base + S.head];
  const at = m.rings + shard * m.ringBytes + head;
  i32[at >> 2] = expiresMs >>> 0;
  i32[(at >> 2) + 1] = packLengths(key.length, value.length, expiresMs);
  // The key a word at a time from keyWords (locate(key) ran); bytes of
  // its last word past the key land where the value or the padding goes.
  const words = m.keyWords;
  const first = (at + RECORD_HEADER_BYTES) >> 2;
  for (let w = 0; w < (key.length + 3) >> 2; w++) i32[first + w] = words[w];
  m.mem.set(value, at + RECORD_HEADER_BYTES + key.length);
  i32[base + S.used] += size;
  const next = head + size;
  i32[base + S.head] = next === m.ringBytes ? 0 : next;
  let generation = (i32[base + S.generation] + 1) | 0;
  if (generation === 0) generation = 1;
  i32[base + S.generation] = generation;
  const slotAt = m.slotAt(shard, slot);
  // A reader that read the old version must see it change before the new
  // position can reach it: clear, then move, then publish (a free slot is
  // already clear). Atomic stores keep the three in order on every CPU.
  if (replacing) Atomics.store(i32, slotAt, 0);
  Atomics.store(i32, slotAt + SLOTS_PER_BUCKET, ((head / 8) << TAG_BITS) | m.tag);
  Atomics.store(i32, slotAt, generation);
  if (!replacing) i32[base + S.entries] += 1;
  i32[base + S.bytes] += size;
}

/** Evicts from the tail until `size` contiguous bytes are free at the head. */
function makeRoom(m: TableMemory, shard: number, size: number, now: number): void {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  const ringBytes = m.ringBytes;
  for (;;) {
    const used = i32[base + S.used];
    if (used === 0) {
      i32[base + S.head] = 0;
      i32[base + S.tail] = 0;
      return;
    }
    const head = i32[base + S.head];
    const tail = i32[base + S.tail];
    if (used < ringBytes && head >= tail) {
      if (ringBytes - head >= size) return;
      // Too little room before the end: pad it and continue from the start.
      const at = m.rings + shard * ringBytes + head;
      i32[(at >> 2) + 1] = 0;
      i32[base + S.used] = used + (ringBytes - head);
      i32[base + S.head] = 0;
      continue;
    }
    if (used < ringBytes && tail - head >= size) return;
    evictTail(m, shard, now);
  }
}

/**
 * Evicts the expired records at the tail of a shard's ring (the sweep).
 * Returns how many live entries went.
 */
export function evictExpired(m: TableMemory, shard: number, now: number): number {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  let removed = 0;
  while (i32[base + S.used] > 0) {
    const wordAt = (m.rings + shard * m.ringBytes + i32[base + S.tail]) >> 2;
    const lengths = i32[wordAt + 1];
    if (valueLengthOf(lengths) !== 0 && expiresOf(i32[wordAt], lengths) > now) break;
    if (evictTail(m, shard, now)) removed++;
  }
  return removed;
}

/**
 * Reclaims the record at the tail of a shard's ring, clearing its slot
 * first if it is live. Returns whether a live entry went.
 */
function evictTail(m: TableMemory, shard: number, now: number): boolean {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  const ringBytes = m.ringBytes;
  const tail = i32[base + S.tail];
  const at = m.rings + shard * ringBytes + tail;
  const lengths = i32[(at >> 2) + 1];
  const valueLength = valueLengthOf(lengths);
  let size = ringBytes - tail;
  let evicted = false;
  if (valueLength !== 0) {
    size = recordBytes(keyLengthOf(lengths), valueLength);
    const slot = m.slotOfRecord(shard, tail, keyLengthOf(lengths));
    if (slot >= 0) {
      dropSlot(m, shard, slot);
      m.count(expiresOf(i32[at >> 2], lengths) <= now ? C.evictedExpired : C.evictedCapacity);
      evicted = true;
    }
  }
  const next = tail + size;
  i32[base + S.tail] = next === ringBytes ? 0 : next;
  i32[base + S.used] -= size;
  return evicted;
}

/** Clears a live slot; its record becomes dead space in the ring. */
export function dropSlot(m: TableMemory, shard: number, slot: number): void {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  const slotAt = m.slotAt(shard, slot);
  i32[base + S.bytes] -= m.recordSizeAt(shard, Atomics.load(i32, slotAt + SLOTS_PER_BUCKET));
  Atomics.store(i32, slotAt, 0);
  i32[base + S.entries] -= 1;
}

/** Slot (index within the shard) holding `key`, or -1. `m.locate(key)` must have run. */
export function findSlot(m: TableMemory, shard: number, key: Uint8Array): number {
  const i32 = m.i32;
  const ring = m.rings + shard * m.ringBytes;
  for (let choice = 0; choice < 2; choice++) {
    const bucket = choice === 0 ? m.bucket1 : m.bucket2;
    if (choice === 1 && bucket === m.bucket1) break;
    const first = m.slotAt(shard, bucket * SLOTS_PER_BUCKET);
    for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
      const pos = i32[first + SLOTS_PER_BUCKET + i];
      if ((pos & TAG_MASK) !== m.tag || i32[first + i] === 0) continue;
      const at = ring + (pos >>> TAG_BITS) * 8;
      if (keyLengthOf(i32[(at >> 2) + 1]) === key.length && m.keyIsAt(at, key.length)) {
        return bucket * SLOTS_PER_BUCKET + i;
      }
    }
  }
  return -1;
}

/**
 * A free slot in the emptier of the key's two buckets. When both are full,
 * the oldest entry among their 32 slots is evicted for it.
 */
function freeSlot(m: TableMemory, shard: number): number {
  const i32 = m.i32;
  let best = -1;
  let bestFree = 0;
  for (let choice = 0; choice < 2; choice++) {
    const bucket = choice === 0 ? m.bucket1 : m.bucket2;
    const at = m.slotAt(shard, bucket * SLOTS_PER_BUCKET);
    let free = 0;
    let first = -1;
    for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
      if (i32[at + i] === 0) {
        free++;
        if (first < 0) first = i;
      }
    }
    if (free > bestFree) {
      bestFree = free;
      best = bucket * SLOTS_PER_BUCKET + first;
    }
  }
  if (best >= 0) return best;
  // Both buckets full: evict the entry nearest the tail, the oldest.
  const base = m.shardBase(shard);
  const tail = i32[base + S.tail];
  const ringBytes = m.ringBytes;
  let oldest = -1;
  let oldestAge = Infinity;
  for (let choice = 0; choice < 2; choice++) {
    const bucket = choice === 0 ? m.bucket1 : m.bucket2;
    for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
      const slot = bucket * SLOTS_PER_BUCKET + i;
      const offset = (i32[m.posAt(shard, slot)] >>> TAG_BITS) * 8;
      const age = (offset - tail + ringBytes) % ringBytes;
      if (age < oldestAge) {
        oldestAge = age;
        oldest = slot;
      }
    }
  }
  dropSlot(m, shard, oldest);
  m.count(C.evictedOverflow);
  return oldest;
}
