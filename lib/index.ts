/**
 * tls-session-cache: TLS session resumption shared across every worker
 * thread, `node:cluster` worker process and host of a clustered Node.js
 * server.
 *
 * @module
 */
export { SessionTable } from './table.ts';
export type { SessionTableOptions, OpenTableOptions, TableStats } from './table.ts';
export {
  attachSessionCache,
  sessionCacheOf,
  sessionCacheServerOptions,
  addSessionHookCounters,
  emptySessionHookCounters,
} from './hooks.ts';
export type {
  AttachOptions,
  SessionCacheBinding,
  SessionCacheServerOptions,
  SessionHookCounters,
  SessionStore,
} from './hooks.ts';
export { isTls13Session, sessionProtocolVersion, TLS_1_2, TLS_1_3 } from './session-version.ts';
export {
  TicketKeyRing,
  fromNginxKey,
  toNginxKey,
  readNginxKeyFiles,
  MAX_TICKET_KEYS,
  TICKET_KEY_BYTES,
} from './ticket-keys.ts';
export type { TicketKey, TicketKeyRingOptions, OpenTicketKeyRingOptions, TicketKeyRingStats, TickResult } from './ticket-keys.ts';
export { attachTicketKeys, ticketKeysOf, hasTicketKeyCallback } from './tickets.ts';
export type { AttachTicketKeysOptions, TicketCounters, TicketKeyBinding, TicketKeyMode } from './tickets.ts';
export { Cluster, runCluster, startCluster } from './cluster.ts';
export type { ClusterEvents, ClusterOptions, FlushResult, WorkerExit, WorkerInfo } from './cluster.ts';
export type { ServerContext, ServerFactory } from './server-context.ts';
export { CachePrimary } from './primary.ts';
export type { PrimaryEvents, WorkerCounts } from './primary.ts';
export { attachRuntime, checkSessionIdContext, runtimeServerOptions } from './serve.ts';
export type { RuntimeAttachOptions, RuntimeBinding, RuntimeServerOptions } from './serve.ts';
export { loadConfig, redactConfig, redactUrl, settingsTable, SETTINGS } from './config.ts';
export type { CacheConfig, Setting } from './config.ts';
export { SharedCounters, COUNTER_NAMES } from './counters.ts';
export type { CounterName, CounterValues } from './counters.ts';
export { createMetrics } from './metrics.ts';
export type { CacheMetrics, MetricsSources } from './metrics.ts';
// node:cluster worker processes (issue 6).
export { startClusterCache, ClusterCache } from './process-primary.ts';
export type { ClusterCacheOptions } from './process-primary.ts';
export { attachClusterCache, clusterServerOptions } from './attach.ts';
export type { AttachClusterCacheOptions, ClusterCacheAttachment } from './attach.ts';
export { LocalSessions } from './local-sessions.ts';
export { sessionExpiresAt } from './session-expiry.ts';
export type { TicketKeyRingState, TicketKeyState } from './ticket-keys.ts';
// Redis across hosts (issue 7).
export { RedisSessionStore, deleteRedisSessions, sessionKey } from './redis-sessions.ts';
export type { LocalSessionStore, RedisCounterSink, RedisSessionStoreOptions } from './redis-sessions.ts';
export { RedisFleet, fleetKey, ticketKeyRecordKey } from './redis-fleet.ts';
export type { FleetFlushResult, RedisFleetEvents, RedisFleetOptions } from './redis-fleet.ts';
export { connectRedis } from './redis-connection.ts';
export type { RedisConnectionOptions } from './redis-connection.ts';
export { GLIBC_HUGE_PAGES, anonHugePageBytes, hugePageSupport, hugetlbTunable } from './huge-pages.ts';
export type { HugePagePolicy, HugePageSupport } from './huge-pages.ts';
export { createSealer } from './sealed.ts';
export type { Sealer, SealerOptions, SealPurpose } from './sealed.ts';
export * from './errors.ts';
