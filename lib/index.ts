/**
 * tls-session-cache: TLS session resumption shared across every worker
 * thread, `node:cluster` worker process and host of a clustered Node.js
 * server.
 *
 * @module
 */
export { SessionTable, EXPIRED_LENGTH } from './table/session-table.ts';
export type { SessionTableOptions, OpenTableOptions, TableStats } from './table/session-table.ts';
export {
  attachSessionCache,
  sessionCacheOf,
  sessionCacheServerOptions,
  addSessionHookCounters,
  emptySessionHookCounters,
} from './tls/session-hooks.ts';
export type {
  AttachOptions,
  SessionCacheBinding,
  SessionCacheServerOptions,
  SessionHook,
  SessionHookCounters,
  SessionStore,
  Lookup,
  LookupMiss,
} from './tls/session-hooks.ts';
// Why a resumption was missed (issue 25).
export { MISSES, followClientHellos, settleMiss, missLogger } from './tls/resumption-misses.ts';
export type { Miss, MissMethod } from './tls/resumption-misses.ts';
export { isFatalAlert } from './tls/fatal-alerts.ts';
export { sessionIdOf } from './tls/session-der.ts';
export { isTls13Session, sessionProtocolVersion, TLS_1_2, TLS_1_3 } from './tls/session-version.ts';
export { TicketKeyRing } from './tickets/key-ring.ts';
export { fromNginxKey, toNginxKey, readNginxKeyFiles } from './tickets/nginx-keys.ts';
export { MAX_TICKET_KEYS } from './tickets/ring-layout.ts';
export { TICKET_KEY_BYTES } from './tickets/ticket-key.ts';
export type { TicketKey } from './tickets/ticket-key.ts';
export type { TicketKeyRingOptions, OpenTicketKeyRingOptions, TicketKeyRingStats, TickResult } from './tickets/key-ring.ts';
export { attachTicketKeys, ticketKeysOf, hasTicketKeyCallback, emptyTicketCounters } from './tickets/attach-ticket-keys.ts';
export type { AttachTicketKeysOptions, TicketCounters, TicketKeyBinding, TicketKeyMode } from './tickets/attach-ticket-keys.ts';
export { Cluster, startCluster } from './threads/cluster.ts';
export { runCluster } from './threads/run-cluster.ts';
export type { ClusterEvents, ClusterOptions, FlushResult, ReloadOptions, ReloadResult, WorkerExit, WorkerInfo, WorkerReplacement } from './threads/cluster.ts';
export type { ServerContext, ServerFactory } from './runtime/server-context.ts';
export { CachePrimary } from './runtime/cache-primary.ts';
export type { PrimaryEvents, WorkerCounts } from './runtime/cache-primary.ts';
export { attachRuntime, checkSessionIdContext, runtimeServerOptions } from './runtime/attach-runtime.ts';
export type { RuntimeAttachOptions, RuntimeBinding, RuntimeServerOptions } from './runtime/attach-runtime.ts';
export { bindSessionsToCertificate, certificateSessionIdContext, sniInUse } from './runtime/certificate-binding.ts';
export type { BindOptions, CertificateBinding } from './runtime/certificate-binding.ts';
export { loadConfig } from './config/load.ts';
export { configForLog, redactConfig, redactUrl } from './config/redact.ts';
export { settingsTable } from './config/settings-table.ts';
export { SETTINGS } from './config/settings.ts';
export type { CacheConfig, CacheConfigOptions, Setting } from './config/settings.ts';
export { unknownSettings } from './config/unknown-settings.ts';
export type { UnknownSetting } from './config/unknown-settings.ts';
export { SharedCounters, COUNTER_NAMES } from './operations/counters.ts';
export type { CounterName, CounterValues } from './operations/counters.ts';
export { createMetrics } from './operations/metrics.ts';
export type { CacheMetrics, MetricsSources } from './operations/metrics.ts';
// node:cluster worker processes (issue 6).
export { startClusterCache, ClusterCache } from './processes/cluster-cache.ts';
export type { ClusterCacheOptions } from './processes/cluster-cache.ts';
export type { ProcessReplacement, RestartResult, RestartWorkersOptions } from './processes/rolling-restart.ts';
export { attachClusterCache, clusterServerOptions } from './processes/attach-cluster-cache.ts';
export type { AttachClusterCacheOptions, ClusterCacheAttachment } from './processes/attach-cluster-cache.ts';
export { LocalSessions } from './processes/local-sessions.ts';
export { sessionExpiresAt } from './tls/session-expiry.ts';
export type { TicketKeyRingState, TicketKeyState } from './tickets/ring-state.ts';
// Redis across hosts (issue 7).
export { RedisSessionStore, deleteRedisSessions, sessionKey } from './redis/session-store.ts';
export type { LocalSessionStore, RedisCounterSink, RedisSessionStoreOptions } from './redis/session-store.ts';
export { RedisFleet, fleetKey, ticketKeyRecordKey } from './redis/fleet.ts';
export { endedChannel } from './redis/ended-sessions.ts';
export type { FleetFlushResult, RedisFleetEvents, RedisFleetOptions } from './redis/fleet.ts';
export { connectRedis, waitUntilReady } from './redis/connection.ts';
export type { RedisConnectionOptions } from './redis/connection.ts';
// Redis Cluster and Sentinel (issue 16).
export { clientOptions, redisTargetOf } from './redis/topology.ts';
export type { ClientOptions, ClientTuning, RedisClient, RedisMode, RedisTarget } from './redis/topology.ts';
export { GLIBC_HUGE_PAGES, anonHugePageBytes, hugePageSupport, hugetlbTunable } from './table/huge-pages.ts';
export type { HugePagePolicy, HugePageSupport } from './table/huge-pages.ts';
export { createSealer } from './redis/sealed.ts';
export type { Sealer, SealerOptions, SealPurpose } from './redis/sealed.ts';
export * from './errors.ts';
