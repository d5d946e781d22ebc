/**
 * A `node:cluster` worker process's own connection to Redis, when the
 * deployment shares sessions through it (`TLS_CACHE_REDIS_URL`): the last
 * level of the process's store (`worker-process.ts`), after its local copy
 * and the primary's table.
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
import { connectRedis } from '../redis/connection.ts';
import { redisTargetOf, type RedisClient } from '../redis/topology.ts';
import type { WorkerRedisSettings } from './ipc-messages.ts';

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
