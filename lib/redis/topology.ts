/**
 * Where Redis is and how this library reaches it (`TLS_CACHE_REDIS_MODE`):
 *
 * - `standalone`: one server (or a primary behind a stable address), one
 *   URL.
 * - `cluster`: a Redis Cluster; the URLs are seed nodes (host and port,
 *   database 0). The client learns the rest of the cluster from them, sends
 *   each key to the master of its slot, and follows failovers. The URLs'
 *   scheme (`rediss://`: TLS to every node) and credentials apply to every
 *   node.
 * - `sentinel`: the URLs are sentinels, asked for the master of
 *   `TLS_CACHE_REDIS_SENTINEL_NAME`; the URLs' credentials and database are
 *   the master's, `TLS_CACHE_REDIS_SENTINEL_PASSWORD` the sentinels' own.
 *   `rediss://` is TLS to the sentinels and to the master.
 *
 * Every mode fails fast, as a handshake needs: no command waits for a
 * reconnection (it fails at once, and the handshake goes on as a miss),
 * commands are bounded, reconnection is automatic. What differs is how a
 * failover is followed (ioredis 6; what each choice gains, measured, is in
 * docs/redis.md#failover, where a run can refresh it):
 *
 * - Sentinel: `failoverDetector` (the client hears the sentinels'
 *   `+switch-master`; without it, it stayed on a demoted or hung master),
 *   reconnection within {@link SENTINEL_RECONNECT_MS}, and within
 *   {@link SENTINEL_FIRST_RETRY_MS} of a connection the detector dropped (a
 *   client often reaches the promoted replica just before the sentinel
 *   announces it, and is dropped once more): writes reach the promoted
 *   replica sooner than with the longer delay each time.
 * - Cluster: no delay before retrying a command on a moved slot, the slot
 *   map refreshed every second and at once when a node goes, and the
 *   masters' connections opened as soon as they are known (ioredis opens a
 *   node's connection on its first command, and a session's `SET` must be
 *   on the wire within the handshake's hook: see `session-store.ts`).
 *
 * {@link clientOptions} is pure (tested); {@link createClient} makes the
 * client; `connection.ts` watches it.
 *
 * @module
 */
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { ioredis } from './ioredis.ts';
import { REDIS_MODES, databaseOf } from '../config/kinds.ts';
import type { CacheConfig } from '../config/settings.ts';

/** How Redis is reached; see the module's documentation. */
type RedisMode = (typeof REDIS_MODES)[number];

/** A connection to Redis in any mode: commands, `sendCommand`, `duplicate()`, `status` and events are common. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: the settings of `TLS_CACHE_REDIS_*` that say it. */
export interface RedisTarget {
  /** @defaultValue `'standalone'` */
  readonly mode: RedisMode;
  /** One `redis://` or `rediss://` URL, or a comma-separated list (cluster: seed nodes; sentinel: sentinels). */
  readonly url: string;
  /** Sentinel mode: the master group's name. @defaultValue `'mymaster'` */
  readonly sentinelName?: string;
  /** Sentinel mode: the sentinels' own password. @defaultValue none */
  readonly sentinelPassword?: string;
}

/** How one connection behaves (see `connectRedis`). */
export interface ClientTuning {
  /** Bound of every command, in ms (a Redis Cluster's nodes use at most 500). @defaultValue 2000 */
  commandTimeout?: number;
  /** Longest wait between reconnection attempts, in ms (sentinel mode: at most 100). @defaultValue 1000 */
  maxReconnectDelay?: number;
}

/** What ioredis is given for a target. */
export type ClientOptions =
  | { mode: 'standalone'; url: string; options: RedisOptions }
  | { mode: 'sentinel'; options: RedisOptions }
  | { mode: 'cluster'; nodes: Array<{ host: string; port: number }>; options: ClusterOptions };

/** Sentinel mode: how long to wait between reconnections to the master, at most (a failover takes about a second). */
const SENTINEL_RECONNECT_MS = 100;
/** Sentinel mode: the wait before the first reconnection after a connection closed (usually the failover detector, the new master up). */
const SENTINEL_FIRST_RETRY_MS = 10;
/** Redis Cluster: bound of a command and of a connection to one node; another node may hold the slot by then. */
const CLUSTER_NODE_TIMEOUT_MS = 500;
const CLUSTER_CONNECT_TIMEOUT_MS = 1000;
const DEFAULT_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;

/** The target of a configuration (its `redisUrl` set). */
export function redisTargetOf(config: Pick<CacheConfig, 'redisMode' | 'redisUrl' | 'redisSentinelName' | 'redisSentinelPassword'>): RedisTarget {
  return { mode: config.redisMode, url: config.redisUrl, sentinelName: config.redisSentinelName, sentinelPassword: config.redisSentinelPassword };
}

/** The options every mode shares: fail fast, bounded, reconnect by itself. */
export function commonOptions(tuning: ClientTuning = {}): RedisOptions {
  const maxDelay = tuning.maxReconnectDelay ?? 1000;
  return {
    // A command sent while disconnected fails at once instead of waiting for a reconnection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: tuning.commandTimeout ?? 2000,
    connectTimeout: 2000,
    // Commands issued in the same tick go in one write (session lookups; session writes go at once: session-store.ts).
    enableAutoPipelining: true,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    lazyConnect: false,
  };
}

/**
 * What ioredis is given for `target`. Pure: no connection is made.
 * Assumes a target that `loadConfig` accepted (URLs sharing one scheme,
 * credentials and database).
 */
export function clientOptions(target: RedisTarget, tuning: ClientTuning = {}): ClientOptions {
  const urls = target.url.split(',').map((entry) => new URL(entry.trim()));
  const first = urls[0];
  const tls = first.protocol === 'rediss:';
  const credentials = {
    ...(first.username === '' ? {} : { username: decodeURIComponent(first.username) }),
    ...(first.password === '' ? {} : { password: decodeURIComponent(first.password) }),
  };
  const common = commonOptions(tuning);
  const mode = target.mode ?? 'standalone';
  if (mode === 'standalone') return { mode, url: target.url, options: common };
  if (mode === 'sentinel') {
    return {
      mode,
      options: {
        ...common,
        sentinels: urls.map((url) => ({ host: hostOf(url), port: portOf(url, DEFAULT_SENTINEL_PORT) })),
        name: target.sentinelName ?? 'mymaster',
        role: 'master',
        ...credentials,
        db: databaseOf(first),
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        ...(tls ? { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        // Hears the sentinels' +switch-master: without it a client stays on a demoted or hung master.
        failoverDetector: true,
        disconnectTimeout: 200,
        retryStrategy: (times: number) =>
          times === 1 ? SENTINEL_FIRST_RETRY_MS : Math.min(50 * 2 ** Math.min(times, 10), Math.min(tuning.maxReconnectDelay ?? 1000, SENTINEL_RECONNECT_MS)),
      },
    };
  }
  const maxDelay = tuning.maxReconnectDelay ?? 1000;
  return {
    mode,
    nodes: urls.map((url) => ({ host: hostOf(url), port: portOf(url, DEFAULT_PORT) })),
    options: {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      scaleReads: 'master',
      // A command on a slot whose master failed is retried at once elsewhere, or fails: never held.
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      retryDelayOnTryAgain: 0,
      slotsRefreshInterval: 1000,
      slotsRefreshTimeout: 1000,
      clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
      redisOptions: {
        ...credentials,
        ...(tls ? { tls: {} } : {}),
        commandTimeout: Math.min(tuning.commandTimeout ?? 2000, CLUSTER_NODE_TIMEOUT_MS),
        connectTimeout: CLUSTER_CONNECT_TIMEOUT_MS,
        maxRetriesPerRequest: 0,
      },
    },
  };
}

/** A client for `target` (a URL alone is a standalone target); it connects in the background. */
export function createClient(target: RedisTarget | string, tuning: ClientTuning = {}): RedisClient {
  const made = clientOptions(typeof target === 'string' ? { mode: 'standalone', url: target } : target, tuning);
  const { Redis, Cluster } = ioredis();
  if (made.mode === 'standalone') return new Redis(made.url, made.options);
  if (made.mode === 'sentinel') return keepReconnecting(new Redis(made.options));
  const cluster = new Cluster(made.nodes, made.options);
  keepClusterWarm(cluster);
  return cluster;
}

/**
 * Sentinel mode: a client that ends without being told to connects again.
 * When the sentinels announce a failover, ioredis's failover detector drops
 * the connection; if the client was just then between two reconnection
 * attempts (the master gone, asking the sentinels again every
 * {@link SENTINEL_RECONNECT_MS}), the attempt in flight fails as "closed"
 * and ioredis ends the client for good (under load, often enough to matter:
 * docs/redis.md#failover).
 * `disconnect()` still ends it.
 */
function keepReconnecting(client: Redis): Redis {
  let closing = false;
  const disconnect = client.disconnect.bind(client);
  client.disconnect = (reconnect?: boolean): void => {
    if (reconnect !== true) closing = true;
    disconnect(reconnect);
  };
  client.on('end', () => {
    if (closing) return;
    setTimeout(() => {
      if (!closing && client.status === 'end') client.connect().catch(() => {});
    }, SENTINEL_FIRST_RETRY_MS).unref();
  });
  return client;
}

/** Whether `client` is a Redis Cluster client. */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof ioredis().Cluster;
}

/** Another connection to the same Redis, with the same options (a subscriber, say). */
export function duplicateClient(client: RedisClient): RedisClient {
  if (isCluster(client)) return client.duplicate();
  const copy = client.duplicate();
  return client.options.sentinels ? keepReconnecting(copy) : copy;
}

/**
 * The connections that hold data: every master of a Redis Cluster, or the
 * client itself (a SCAN must visit each).
 */
export function dataNodes(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/**
 * Keeps a Redis Cluster client ready for a synchronous write: opens each
 * master's connection as soon as the master is known (ioredis opens it on
 * the first command otherwise, and a command to a node still connecting
 * waits), and refreshes the slot map at once when a node goes (at most
 * every 100 ms: a failover makes hundreds of such events), so that a
 * promoted replica takes its slots' commands without waiting for the next
 * periodic refresh.
 */
function keepClusterWarm(cluster: Cluster): void {
  const warm = (): void => {
    for (const node of cluster.nodes('master')) {
      if (node.status === 'wait') node.connect().catch(() => {});
    }
  };
  cluster.on('ready', warm);
  cluster.on('refresh', warm);
  cluster.on('+node', warm);
  let refreshedAt = 0;
  cluster.on('-node', () => {
    const now = Date.now();
    if (now - refreshedAt < 100) return;
    refreshedAt = now;
    cluster.refreshSlotsCache();
  });
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function portOf(url: URL, fallback: number): number {
  return url.port === '' ? fallback : Number(url.port);
}
