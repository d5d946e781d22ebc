/**
 * Checking and repairing a shard, with its lock held: emptying it
 * ({@link reset}, for clear()), walking it to check its invariants
 * ({@link inspect}, for verify()), and making it consistent again after its
 * writer died mid-write ({@link repair}, for releaseOwner(): the keeper
 * takes over a dead thread's lock, repairs the shard and frees it, as
 * nginx's master does for a dead worker).
 *
 * These read the whole shard and allocate; none is on a hot path.
 *
 * @module
 */
import { C, S, SLOTS_PER_BUCKET, TAG_BITS, keyLengthOf, recordBytes, valueLengthOf } from './layout.ts';
import type { TableMemory } from './memory.ts';

/** What {@link inspect} found in a shard. */
interface ShardCheck {
  /** Whether the ring parses from tail to head. */
  sound: boolean;
  /** Live slots that point at no whole record of their own key. */
  strays: number[];
  /** Live slots that do, and the bytes of their records. */
  entries: number;
  bytes: number;
}

/** Empties a shard. Returns the number of live entries it held. */
export function reset(m: TableMemory, shard: number): number {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  const first = m.slotAt(shard, 0);
  for (let w = first; w < first + m.slotWordsPerShard; w++) Atomics.store(i32, w, 0);
  const entries = i32[base + S.entries];
  i32[base + S.head] = 0;
  i32[base + S.tail] = 0;
  i32[base + S.used] = 0;
  i32[base + S.entries] = 0;
  i32[base + S.bytes] = 0;
  return entries;
}

/**
 * Makes a shard consistent after its writer died at an unknown point: keeps
 * the slots that point at whole records whose key hashes to them, clears
 * the others, and recounts. If the ring itself does not parse, the shard is
 * emptied. Dropped entries count as `repair` evictions.
 */
export function repair(m: TableMemory, shard: number): void {
  const check = inspect(m, shard);
  if (!check.sound) {
    m.count(C.evictedRepair, reset(m, shard));
    return;
  }
  for (const slot of check.strays) Atomics.store(m.i32, m.slotAt(shard, slot), 0);
  m.count(C.evictedRepair, check.strays.length);
  const base = m.shardBase(shard);
  m.i32[base + S.entries] = check.entries;
  m.i32[base + S.bytes] = check.bytes;
}

/** What is wrong with a shard, one line per problem (for verify()); empty when consistent. */
export function problemsOf(m: TableMemory, shard: number): string[] {
  const check = inspect(m, shard);
  if (!check.sound) return [`shard ${shard}: the ring does not parse from tail to head`];
  const problems: string[] = [];
  const base = m.shardBase(shard);
  if (check.strays.length > 0) problems.push(`shard ${shard}: ${check.strays.length} slots point at no record of their key`);
  const entries = m.i32[base + S.entries];
  if (entries !== check.entries) problems.push(`shard ${shard}: entries counter ${entries}, live slots ${check.entries}`);
  const bytes = m.i32[base + S.bytes];
  if (bytes !== check.bytes) problems.push(`shard ${shard}: bytes counter ${bytes}, live records ${check.bytes}`);
  return problems;
}

/**
 * Walks a shard: whether its ring parses from tail to head, which live
 * slots point at no whole record of their own key (strays), and the entries
 * and bytes of the slots that do.
 */
function inspect(m: TableMemory, shard: number): ShardCheck {
  const i32 = m.i32;
  const base = m.shardBase(shard);
  const ringBytes = m.ringBytes;
  const ring = m.rings + shard * ringBytes;
  const starts = new Set<number>();
  let offset = i32[base + S.tail];
  let remaining = i32[base + S.used];
  let sound = offset >= 0 && offset < ringBytes && offset % 8 === 0 && remaining >= 0 && remaining <= ringBytes;
  while (sound && remaining > 0) {
    const lengths = i32[((ring + offset) >> 2) + 1];
    const valueLength = valueLengthOf(lengths);
    let size = ringBytes - offset;
    if (valueLength !== 0) {
      size = recordBytes(keyLengthOf(lengths), valueLength);
      if (valueLength > m.maxSessionSize || offset + size > ringBytes) {
        sound = false;
        break;
      }
      starts.add(offset);
    }
    if (size > remaining) sound = false;
    remaining -= size;
    offset = offset + size === ringBytes ? 0 : offset + size;
  }
  if (sound && i32[base + S.used] > 0 && offset !== i32[base + S.head]) sound = false;
  const strays: number[] = [];
  let entries = 0;
  let bytes = 0;
  for (let slot = 0; sound && slot < m.bucketsPerShard * SLOTS_PER_BUCKET; slot++) {
    const slotAt = m.slotAt(shard, slot);
    if (i32[slotAt] === 0) continue;
    const recordOffset = (i32[slotAt + SLOTS_PER_BUCKET] >>> TAG_BITS) * 8;
    if (
      !starts.has(recordOffset) ||
      m.slotOfRecord(shard, recordOffset, keyLengthOf(i32[((ring + recordOffset) >> 2) + 1])) !== slot
    ) {
      strays.push(slot);
      continue;
    }
    entries++;
    bytes += m.recordSizeAt(shard, i32[slotAt + SLOTS_PER_BUCKET]);
  }
  return { sound, strays, entries, bytes };
}
