/**
 * One ioredis connection as this library needs it: never queues a command
 * while Redis is away (a handshake must not wait for a reconnection),
 * reconnects on its own with a capped backoff, bounds every command, and
 * logs an outage once when it starts and once when it ends, not once per
 * command or per reconnection attempt. Log lines carry an error's code, never
 * the URL (it may hold a password).
 *
 * @module
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { redactUrl } from '../config/redact.ts';

/** Options of {@link connectRedis}. */
export interface RedisConnectionOptions {
  /** Where to log the outage and the recovery. @defaultValue no logging */
  logger?: Logger;
  /**
   * Level of the outage line (`redis unavailable`) and the recovery line
   * (`redis reconnected`): the primary logs at `warn`/`info`, server threads
   * at `debug` so that one outage is one warning per host.
   * @defaultValue `'warn'`
   */
  outageLevel?: 'warn' | 'debug';
  /** Level of the first `redis connected` line. @defaultValue `'info'` */
  connectedLevel?: 'info' | 'debug';
  /** What this connection is for, in its log lines (`sessions`, `ticket keys`). */
  role: string;
  /**
   * Bound of every command, in ms: a Redis that accepts connections but does
   * not answer cannot pile commands up.
   * @defaultValue 2000
   */
  commandTimeout?: number;
  /** Longest wait between reconnection attempts, in ms. @defaultValue 1000 */
  maxReconnectDelay?: number;
}

/** Whether a connection is usable now (`status === 'ready'`). */
export function isReady(redis: Redis): boolean {
  return redis.status === 'ready';
}

/**
 * The ioredis options this library uses for `url`; exported for tests and
 * for `redis.duplicate()`.
 */
export function redisOptions(options: Pick<RedisConnectionOptions, 'commandTimeout' | 'maxReconnectDelay'> = {}): RedisOptions {
  const maxDelay = options.maxReconnectDelay ?? 1000;
  return {
    // A command sent while disconnected fails at once instead of waiting for a reconnection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeout ?? 2000,
    connectTimeout: 2000,
    // Commands issued in the same tick go in one write (session lookups; session writes go at once: session-store.ts).
    enableAutoPipelining: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    lazyConnect: false,
  };
}

/**
 * Opens a connection to `url` (`redis://` or `rediss://`). It connects in
 * the background; {@link isReady} says when commands go through.
 */
export function connectRedis(url: string, options: RedisConnectionOptions): Redis {
  const redis = new Redis(url, redisOptions(options));
  watchOutages(redis, url, options);
  return redis;
}

/**
 * Logs `redis connected`, then one line when an outage starts and one when
 * it ends. `url` (shown with its password replaced) may be left out.
 */
export function watchOutages(redis: Redis, url: string | undefined, options: RedisConnectionOptions): void {
  const { logger, role } = options;
  const outageLevel = options.outageLevel ?? 'warn';
  const connectedLevel = options.connectedLevel ?? 'info';
  const recoveryLevel = outageLevel === 'warn' ? 'info' : 'debug';
  const where = url === undefined ? undefined : redactUrl(url);
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  let downSince = 0;
  let lastError: string | undefined;
  const down = (reason: string): void => {
    if (state === 'down') return;
    const wasUp = state === 'up';
    state = 'down';
    downSince = Date.now();
    logger?.[outageLevel]({ redis: where, role, reason, wasConnected: wasUp }, 'redis unavailable: handshakes go on without it');
  };
  // ioredis emits 'error' for every failed attempt: without a listener it prints each one.
  redis.on('error', (error: unknown) => {
    lastError = errorCode(error);
    if (state !== 'up') down(lastError);
  });
  redis.on('close', () => {
    if (state === 'up') down(lastError ?? 'connection closed');
  });
  redis.on('ready', () => {
    if (state === 'down') {
      logger?.[recoveryLevel]({ redis: where, role, outageMs: Date.now() - downSince }, 'redis reconnected');
    } else {
      logger?.[connectedLevel]({ redis: where, role }, 'redis connected');
    }
    state = 'up';
    lastError = undefined;
  });
}

/** An error's code (`ECONNREFUSED`, `NOAUTH`, ...), or its class name: never a message that could carry a URL. */
export function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    const message = (error as { message?: unknown }).message;
    // Redis replies start with an upper-case word (WRONGPASS, NOAUTH, LOADING, ...).
    if (typeof message === 'string') {
      const word = /^[A-Z][A-Z_]+\b/.exec(message);
      if (word) return word[0];
      if (/timed? ?out/i.test(message)) return 'TIMEOUT';
    }
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}
