/**
 * Per-shard writer locks. A lock word (`S.lock` of the shard header) is 0
 * when free, otherwise the owner id of the thread holding it (`threadId +
 * 1`). Tagging it with the owner is what lets the table's keeper find and
 * free the locks of a thread that died holding them
 * (`releaseOwner()` in `repair.ts`). Readers never lock.
 *
 * A writer waits a bounded time: a busy shard refuses the write rather than
 * blocking.
 *
 * @module
 */
import { TableBusyError } from '../errors.ts';
import { S } from './layout.ts';
import type { TableMemory } from './memory.ts';

/** How long a writer waits for a shard lock before refusing the write. */
const LOCK_WAIT_MS = 5;
const SPINS_BEFORE_SLEEP = 64;

/** Takes a shard lock if it is free, without waiting. */
export function tryLock(m: TableMemory, shard: number): boolean {
  return Atomics.compareExchange(m.i32, m.shardBase(shard) + S.lock, 0, m.owner) === 0;
}

/** Takes a shard lock, waiting at most LOCK_WAIT_MS. */
export function lock(m: TableMemory, shard: number): boolean {
  if (tryLock(m, shard)) return true;
  const lockAt = m.shardBase(shard) + S.lock;
  const deadline = performance.now() + LOCK_WAIT_MS;
  for (let spin = 0; ; spin++) {
    const holder = Atomics.load(m.i32, lockAt);
    if (holder === 0 && tryLock(m, shard)) return true;
    if (spin >= SPINS_BEFORE_SLEEP) {
      if (performance.now() >= deadline) return false;
      Atomics.wait(m.i32, lockAt, holder, 0.05);
    }
  }
}

/** Takes a shard lock for clear() and verify(), waiting up to a second. */
export function lockWait(m: TableMemory, shard: number): void {
  const deadline = performance.now() + 1000;
  while (!lock(m, shard)) {
    if (performance.now() > deadline) {
      throw new TableBusyError(
        `Shard ${shard} stayed locked for a second; a thread that held it may have died without releaseOwner() being called`,
      );
    }
  }
}

/** Frees a shard lock if this thread holds it. */
export function unlock(m: TableMemory, shard: number): void {
  Atomics.compareExchange(m.i32, m.shardBase(shard) + S.lock, m.owner, 0);
}
