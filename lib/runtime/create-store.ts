/**
 * The session store behind a runtime's servers, built one way for every
 * runtime ({@link createStore}): this host's own levels, then Redis over a
 * connection of the store's own when the deployment shares sessions
 * through it (`TLS_CACHE_REDIS_URL`).
 *
 * - A server thread of the worker-thread runtime: the shared table. Alone,
 *   the table itself is the store (the TLS hooks' fastest path, nothing
 *   allocated per lookup); with Redis, the table then Redis.
 * - A worker process: its local copy, the owner's table over the socket,
 *   then Redis.
 *
 * How the levels are asked, copied back and expired: `store/levelled-store.ts`.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { CacheConfig } from '../config/settings.ts';
import type { SharedCounters } from '../operations/counters.ts';
import { connectRedis, waitUntilReady } from '../redis/connection.ts';
import { RedisSessionLevel } from '../redis/session-store.ts';
import { redisTargetOf, type RedisClient } from '../redis/topology.ts';
import { LevelledStore, type SessionLevel } from '../store/levelled-store.ts';
import { tableLevel } from '../store/memory-levels.ts';
import { SessionTable } from '../table/session-table.ts';

/**
 * How long a runtime waits at start for its Redis connection (or a Redis
 * Cluster's masters) before its servers take handshakes anyway, in ms: the
 * first handshakes should find Redis, but not wait long for it. The
 * primary waits as long for its own.
 */
const REDIS_START_WAIT_MS = 2000;

/** Options of {@link createStore}. */
export interface CreateStoreOptions<Host extends SessionTable | readonly SessionLevel[]> {
  /**
   * This host's own levels, fastest first: the shared table (a server
   * thread), or a worker process's local copy and its owner.
   */
  host: Host;
  /** The settings in force: `timeout` (for levels), and the `redis*` settings. */
  config: Readonly<CacheConfig>;
  /** Where the Redis level counts. */
  counters: SharedCounters;
  /** Where the Redis connection and level log. */
  logger: Logger;
}

/** What {@link createStore} made. */
export interface RuntimeStore<Store> {
  /** The store to attach to every server of this thread or process. */
  readonly store: Store;
  /** With Redis: the store's own connection to it. */
  readonly redis: RedisClient | undefined;
  /** Resolves once Redis is ready, or after {@link REDIS_START_WAIT_MS} ms; at once without Redis. Never rejects. */
  ready(): Promise<void>;
  /** Closes the Redis connection, if any: nothing of the store then keeps the process alive. */
  close(): void;
}

/**
 * The store of a server thread or a worker process; see the module's
 * documentation. With Redis it opens a connection of its own, logging its
 * outages at debug level (the primary's connection says them).
 */
export function createStore(options: CreateStoreOptions<SessionTable>): RuntimeStore<SessionTable | LevelledStore>;
export function createStore(options: CreateStoreOptions<readonly SessionLevel[]>): RuntimeStore<LevelledStore>;
export function createStore({
  host,
  config,
  counters,
  logger,
}: CreateStoreOptions<SessionTable | readonly SessionLevel[]>): RuntimeStore<SessionTable | LevelledStore> {
  const redis =
    config.redisUrl === '' ? undefined : connectRedis(redisTargetOf(config), { logger, role: 'sessions', outageLevel: 'debug', connectedLevel: 'debug' });
  const table = host instanceof SessionTable ? host : undefined;
  const levels: readonly SessionLevel[] = table === undefined ? (host as readonly SessionLevel[]) : [tableLevel(table)];
  let store: SessionTable | LevelledStore;
  if (redis === undefined) {
    store = table ?? new LevelledStore({ levels, timeout: config.sessionTimeout });
  } else {
    const { redisSecret: secret, redisSecretPrevious: previousSecret, redisNamespace: namespace, redisTimeout: timeout } = config;
    const redisLevel = new RedisSessionLevel({
      redis,
      secret,
      previousSecret,
      namespace,
      timeout,
      counters,
      logger,
      // A session another thread saw end meanwhile is gone from the table: its deferred write must not bring it back.
      stillHeld: table === undefined ? undefined : (id) => table.get(id) !== undefined,
    });
    store = new LevelledStore({ levels: [...levels, redisLevel], timeout: table?.timeout ?? config.sessionTimeout });
  }
  return {
    store,
    redis,
    async ready() {
      if (redis !== undefined) await waitUntilReady(redis, REDIS_START_WAIT_MS);
    },
    close() {
      redis?.disconnect();
    },
  };
}
