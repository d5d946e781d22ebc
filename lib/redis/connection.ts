/**
 * One ioredis connection as this library needs it, in any mode
 * (`topology.ts`: one server, a Redis Cluster, or a master found through
 * Sentinel): never queues a command while Redis is away (a handshake must
 * not wait for a reconnection), reconnects on its own with a capped
 * backoff, bounds every command, and logs an outage once when it starts and
 * once when it ends, not once per command or per reconnection attempt. Log
 * lines carry an error's code, never the URL (it may hold a password).
 *
 * @module
 */
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { redactUrl } from '../config/redact.ts';
import { commonOptions, createClient, isCluster, type RedisClient, type RedisTarget } from './topology.ts';

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

/** Whether a connection is usable now (`status === 'ready'`; a Redis Cluster may still have a master down). */
export function isReady(redis: RedisClient): boolean {
  return redis.status === 'ready';
}

/**
 * Resolves once `redis` is ready, and with a Redis Cluster once every
 * master its slot map names is connected too (its connections open lazily,
 * and a command to one still connecting would wait for it); `false` after
 * `ms` ms. A server waits here before it listens, so that its first
 * handshakes find Redis.
 */
export async function waitUntilReady(redis: RedisClient, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (isReady(redis) && (!isCluster(redis) || slotMasters(redis).every((node) => node?.status === 'ready'))) return true;
    if (Date.now() >= deadline || redis.status === 'end') return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The connection to each master a Redis Cluster's slot map names (`undefined` for one not in the client's pool). */
function slotMasters(cluster: Cluster): Array<Redis | undefined> {
  const named = new Set(cluster.slots.map((nodes) => nodes?.[0]).filter((key): key is string => typeof key === 'string'));
  const pool = new Map(cluster.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]));
  return named.size === 0 ? [undefined] : [...named].map((key) => pool.get(key));
}

/**
 * The ioredis options of a standalone connection; exported for tests.
 * Other modes: `clientOptions()` in `topology.ts`.
 */
function redisOptions(options: Pick<RedisConnectionOptions, 'commandTimeout' | 'maxReconnectDelay'> = {}): RedisOptions {
  return commonOptions(options);
}

/**
 * Opens a connection to `target`: a URL (`redis://` or `rediss://`, one
 * server), or a {@link RedisTarget} of any mode. It connects in the
 * background; {@link isReady} says when commands go through.
 */
export function connectRedis(url: string, options: RedisConnectionOptions): Redis;
export function connectRedis(target: string | RedisTarget, options: RedisConnectionOptions): RedisClient;
export function connectRedis(target: string | RedisTarget, options: RedisConnectionOptions): RedisClient {
  const redis = createClient(target, options);
  watchOutages(redis, typeof target === 'string' ? target : target.url, options);
  return redis;
}

/**
 * Logs `redis connected`, then one line when an outage starts and one when
 * it ends. `url` (shown with its password replaced) may be left out. A
 * Redis Cluster's outage is one of its masters too: see
 * {@link watchClusterOutages}.
 */
export function watchOutages(redis: RedisClient, url: string | undefined, options: RedisConnectionOptions): void {
  if (isCluster(redis)) {
    watchClusterOutages(redis, url, options);
    return;
  }
  watchServerOutages(redis, url, options);
}

/** What both outage watchers log with: the levels of their three lines, and the URL with its password replaced. */
function outageLogging(url: string | undefined, options: RedisConnectionOptions) {
  const outageLevel = options.outageLevel ?? 'warn';
  return {
    logger: options.logger,
    role: options.role,
    outageLevel,
    connectedLevel: options.connectedLevel ?? 'info',
    recoveryLevel: outageLevel === 'warn' ? ('info' as const) : ('debug' as const),
    where: url === undefined ? undefined : redactUrl(url),
  };
}

function watchServerOutages(redis: Redis, url: string | undefined, options: RedisConnectionOptions): void {
  const { logger, role, outageLevel, connectedLevel, recoveryLevel, where } = outageLogging(url, options);
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
  let settling: NodeJS.Timeout | undefined;
  redis.on('close', () => {
    clearTimeout(settling);
    settling = undefined;
    if (state === 'up') down(lastError ?? 'connection closed');
  });
  redis.on('ready', () => {
    lastError = undefined;
    if (state !== 'down') {
      if (state === 'connecting') logger?.[connectedLevel]({ redis: where, role }, 'redis connected');
      state = 'up';
      return;
    }
    // Back, once it stays: a Sentinel client that reconnected to the new master before it heard of the failover is
    // dropped once more by its failover detector, moments later; that is still the same outage.
    const readyAt = Date.now();
    clearTimeout(settling);
    settling = setTimeout(() => {
      settling = undefined;
      if (state !== 'down' || redis.status !== 'ready') return;
      state = 'up';
      logger?.[recoveryLevel]({ redis: where, role, outageMs: readyAt - downSince }, 'redis reconnected');
    }, RECOVERY_SETTLE_MS);
    settling.unref();
  });
}

/** A connection back from an outage counts as back once it stayed up this long, in ms (one outage, one recovery line). */
const RECOVERY_SETTLE_MS = 500;

/** While a Redis Cluster counts as down, how often its masters are checked for the recovery line, in ms. */
const CLUSTER_RECOVERY_CHECK_MS = 250;

/**
 * A Redis Cluster's outage lines: one master failing does not close the
 * client (the other masters serve on), so an outage starts with any node's
 * error (`node error`) or the client's own, and ends once every master the
 * slot map names answers a PING, checked every
 * {@link CLUSTER_RECOVERY_CHECK_MS} ms: after a failover, once the promoted
 * replica holds the slots. A failover is one line each way, however many
 * node events it makes (hundreds).
 */
function watchClusterOutages(cluster: Cluster, url: string | undefined, options: RedisConnectionOptions): void {
  const { logger, role, outageLevel, connectedLevel, recoveryLevel, where } = outageLogging(url, options);
  let state: 'connecting' | 'up' | 'down' = 'connecting';
  let downSince = 0;
  let timer: NodeJS.Timeout | undefined;
  const check = async (): Promise<void> => {
    timer = undefined;
    if (state !== 'down' || cluster.status === 'end') return;
    // Every master the slot map names must be connected and answer (a dead master leaves the client's pool, and
    // comes back into it at each refresh, until its replica is promoted and the map names the replica instead).
    const masters = slotMasters(cluster);
    const answered = cluster.status === 'ready' &&
      (await Promise.all(masters.map((node) => node?.ping().then(() => true, () => false) ?? false))).every(Boolean);
    if (state !== 'down') return;
    if (!answered) {
      timer = setTimeout(() => void check(), CLUSTER_RECOVERY_CHECK_MS);
      timer.unref();
      return;
    }
    state = 'up';
    logger?.[recoveryLevel]({ redis: where, role, masters: masters.length, outageMs: Date.now() - downSince }, 'redis reconnected');
  };
  const down = (reason: string, node?: string): void => {
    if (state === 'down') return;
    const wasUp = state === 'up';
    state = 'down';
    downSince = Date.now();
    logger?.[outageLevel]({ redis: where, role, reason, node, wasConnected: wasUp }, 'redis unavailable: handshakes go on without it');
    timer ??= setTimeout(() => void check(), CLUSTER_RECOVERY_CHECK_MS);
    timer.unref();
  };
  // Without listeners ioredis prints every failed attempt.
  cluster.on('error', (error: unknown) => down(errorCode(error)));
  cluster.on('node error', (error: unknown, node: unknown) => down(errorCode(error), typeof node === 'string' ? node : undefined));
  cluster.on('close', () => {
    if (state === 'up') down('connection closed');
  });
  cluster.on('end', () => clearTimeout(timer));
  cluster.on('ready', () => {
    if (state === 'connecting') {
      state = 'up';
      logger?.[connectedLevel]({ redis: where, role, mode: 'cluster' }, 'redis connected');
    } else if (state === 'down') {
      clearTimeout(timer);
      void check();
    }
  });
}

/** An error's code (`ECONNREFUSED`, `NOAUTH`, ...), or its class name: never a message that could carry a URL. */
export function errorCode(error: unknown): string {
  if (error !== null && typeof error === 'object') {
    // A Redis Cluster client that reached no node (ClusterAllFailedError) keeps the last node's error: say what it was.
    const lastNodeError = (error as { lastNodeError?: unknown }).lastNodeError;
    if (lastNodeError !== undefined && lastNodeError !== error) return errorCode(lastNodeError);
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
