/**
 * A worker thread's store with Redis, as `workers/server-thread.ts` builds
 * it: the host's table, then Redis, for the tests of the Redis level.
 */
import { RedisSessionLevel, type RedisSessionLevelOptions } from '../../lib/redis/session-store.ts';
import { LevelledStore } from '../../lib/store/levelled-store.ts';
import { tableLevel } from '../../lib/store/memory-levels.ts';
import type { SessionTable } from '../../lib/table/session-table.ts';

export interface HostStore extends LevelledStore {
  /** Writes and ends waiting for Redis. */
  readonly deferred: number;
}

/** The table, then Redis (both on `options.clock`); throws as `RedisSessionLevel` does for bad options. */
export function hostStore(table: SessionTable, options: RedisSessionLevelOptions): HostStore {
  const redis = new RedisSessionLevel({ stillHeld: (id) => table.get(id) !== undefined, ...options });
  const store = new LevelledStore({ timeout: table.timeout, clock: options.clock, levels: [tableLevel(table), redis] });
  return Object.defineProperty(store, 'deferred', { get: () => redis.deferred }) as HostStore;
}
