/**
 * The session store of a `node:cluster` worker process when the deployment
 * shares sessions through Redis (`TLS_CACHE_REDIS_URL`): three levels, each
 * bounded in time.
 *
 * 1. The process's local copy (synchronous).
 * 2. The primary's table over IPC, within `TLS_CACHE_IPC_TIMEOUT`
 *    (`ipc-store.ts`; skipped at once while the primary counts as absent).
 * 3. Redis, over this process's own connection, within
 *    `TLS_CACHE_REDIS_TIMEOUT` (`redis/session-store.ts`).
 *
 * A lookup therefore waits at most the two bounds together, and a miss at
 * every level is a full handshake, never a stall. A session found in Redis
 * goes into the local copy and to the primary's table, with the expiry
 * sealed beside it in Redis, so the next lookup of it on this host, in any
 * process, stays on the host. A new session goes to the local copy, to the
 * primary and to Redis; its `SET` is written to the socket within the
 * `newSession` hook, before the handshake finishes, as in a worker thread.
 * A session ended by a fatal alert leaves every level, and every host.
 *
 * Each worker process has its own Redis connection rather than asking the
 * primary to ask Redis: measured, a lookup that misses on the host costs
 * one IPC round trip plus one Redis round trip either way, but through the
 * primary every worker's lookups wait in line behind its one event loop,
 * and the primary's `SET` would leave after the handshake had finished
 * (docs/node-cluster.md, figures).
 *
 * @module
 */
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.ts';
import type { SharedCounters } from '../operations/counters.ts';
import { connectRedis } from '../redis/connection.ts';
import { RedisSessionStore } from '../redis/session-store.ts';
import { redisTargetOf, type RedisClient } from '../redis/topology.ts';
import type { Lookup, SessionStore } from '../tls/session-hooks.ts';
import { sessionExpiresAt } from '../tls/session-expiry.ts';
import type { WorkerRedisSettings } from './ipc-messages.ts';
import type { IpcSessionStore } from './ipc-store.ts';

/** Options of {@link RedisProcessStore}. */
export interface RedisProcessStoreOptions {
  /** The first two levels: the local copy and the primary. */
  ipc: IpcSessionStore;
  /** The connection (see {@link connectProcessRedis}); the store does not close it. */
  redis: RedisClient;
  /** What the primary said about Redis. */
  settings: WorkerRedisSettings;
  counters: SharedCounters;
  logger: Logger;
}

/** See the module's documentation. */
export class RedisProcessStore implements SessionStore {
  readonly timeout: number;
  readonly #ipc: IpcSessionStore;
  readonly #redis: RedisSessionStore;

  /** @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a bad secret, namespace or timeout. */
  constructor(options: RedisProcessStoreOptions) {
    const { ipc, redis, settings, counters, logger } = options;
    this.timeout = ipc.timeout;
    this.#ipc = ipc;
    this.#redis = new RedisSessionStore({
      // The first two levels were asked already; what Redis answers, and new sessions, go to both.
      local: {
        timeout: ipc.timeout,
        get: () => undefined,
        set: (id, session, expiresAt) => {
          const at = expiresAt ?? Date.now() + ipc.timeout * 1000;
          return ipc.keep(id, session, Math.min(at, sessionExpiresAt(session) ?? at));
        },
        // The local copy may be off, or have evicted it: a session ended on this host reaches this store as forget().
        has: () => true,
      },
      redis,
      secret: settings.secret,
      previousSecret: settings.previousSecret,
      namespace: settings.namespace,
      timeout: settings.timeout,
      counters,
      logger,
    });
  }

  /** The local copy's session, or a promise of the primary's answer, then Redis's, each within its bound. Never rejects. */
  get(id: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    const found = this.lookUp(id);
    if (found instanceof Promise) return found.then((answer) => (typeof answer === 'string' ? undefined : answer));
    return typeof found === 'string' ? undefined : found;
  }

  /**
   * {@link get} saying why there is no session: Redis's reason, except that
   * a session the primary's table holds expired stays `expired` (Redis
   * keeps it until the same moment).
   */
  lookUp(id: Uint8Array): Lookup | Promise<Lookup> {
    const first = this.#ipc.lookUp(id);
    const then = (found: Lookup): Lookup | Promise<Lookup> => {
      if (typeof found !== 'string') return found;
      const second = this.#redis.lookUp(id);
      if (found !== 'expired') return second;
      return second instanceof Promise ? second.then((answer) => (typeof answer === 'string' ? 'expired' : answer)) : typeof second === 'string' ? 'expired' : second;
    };
    return first instanceof Promise ? first.then(then, () => then('error')) : then(first);
  }

  /** Stores a new session in the local copy, the primary's table and Redis (its `SET` on the wire before this returns). */
  set(id: Uint8Array, session: Uint8Array): boolean {
    return this.#redis.set(id, session);
  }

  /**
   * Removes a session ended by a fatal alert everywhere: the local copy, the
   * primary's table and every worker's copy on this host (over IPC), Redis,
   * and every other host (announced through Redis). Returns whether the
   * local copy held it.
   */
  delete(id: Uint8Array): boolean {
    const held = this.#ipc.delete(id);
    this.#redis.delete(id);
    return held;
  }

  /**
   * A session another worker process saw end (the primary said so): a write
   * of it still waiting for Redis (made during an outage) is dropped.
   */
  forget(id: Uint8Array): void {
    this.#redis.forget(id);
  }
}

/**
 * This process's own connection to the Redis the primary named, its outage
 * lines at debug level (the primary logs the host's at warn). `undefined`
 * when the settings do not hold (only a forged hello could make that).
 */
export function connectProcessRedis(settings: WorkerRedisSettings, logger: Logger): RedisClient | undefined {
  let config;
  try {
    config = loadConfig(
      {
        redisUrl: settings.url,
        redisMode: settings.mode,
        redisSecret: settings.secret,
        ...(settings.mode === 'sentinel' ? { redisSentinelName: settings.sentinelName, redisSentinelPassword: settings.sentinelPassword } : {}),
        redisNamespace: settings.namespace,
        redisTimeout: settings.timeout,
      },
      {},
    );
  } catch {
    return undefined;
  }
  return connectRedis(redisTargetOf(config), { logger, role: 'sessions', outageLevel: 'debug', connectedLevel: 'debug' });
}
