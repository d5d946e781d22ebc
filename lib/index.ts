/**
 * tls-resumption: TLS session resumption shared across every worker
 * thread, `node:cluster` worker process and host of a clustered Node.js
 * server.
 *
 * The main entry is what the README and `docs/` teach, and every value it
 * exports is in `docs/api.md`: the runtimes, the attaches, the table and
 * the ticket key ring for those who compose their own, the settings
 * loader, the metrics, and the error classes under `errors`. Everything
 * else is internal. Redis is configured (`TLS_CACHE_REDIS_*`), not
 * composed: no Redis client type is exported, so these declarations never
 * load the client's own (which a consumer type-checks under `strict`
 * without `skipLibCheck`).
 *
 * @module
 */

// Worker threads: the runtime.
export { startThreadCluster } from './threads/cluster.ts';
export type {
  ThreadCluster,
  ThreadClusterEvents,
  ThreadClusterOptions,
  FlushResult,
  ReloadOptions,
  ReloadResult,
  WorkerExit,
  WorkerInfo,
  WorkerReplacement,
} from './threads/cluster.ts';
export { runThreadCluster } from './threads/run-cluster.ts';
export type { ServerContext, ServerFactory } from './runtime/server-context.ts';
export type { RuntimeServerOptions } from './runtime/attach-runtime.ts';

// node:cluster worker processes.
export { startClusterCache } from './processes/cluster-cache.ts';
export type { ClusterCache, ClusterCacheOptions } from './processes/cluster-cache.ts';
export type { ProcessReplacement, RestartResult, RestartWorkersOptions } from './processes/rolling-restart.ts';
export { attachSharedCache, sharedCacheServerOptions } from './processes/attach-shared-cache.ts';
export type { AttachSharedCacheOptions, SharedCacheAttachment } from './processes/attach-shared-cache.ts';

// Composing your own: the table behind Node's session hooks, the ticket key ring, sessions bound to a certificate.
export { SessionTable } from './table/session-table.ts';
export type { SessionTableOptions, OpenTableOptions, TableStats } from './table/session-table.ts';
export { attachSessionCache, sessionCacheServerOptions } from './tls/session-hooks.ts';
export type { AttachOptions, Lookup, LookupMiss, SessionCacheBinding, SessionCacheServerOptions, SessionHook, SessionHookCounters, SessionStore } from './tls/session-hooks.ts';
export { TicketKeyRing } from './tickets/key-ring.ts';
export type { TicketKeyRingOptions, OpenTicketKeyRingOptions, TicketKeyRingStats, TickResult } from './tickets/key-ring.ts';
export type { TicketKeyRingState, TicketKeyState } from './tickets/ring-state.ts';
export { attachTicketKeys } from './tickets/attach-ticket-keys.ts';
export type { AttachTicketKeysOptions, TicketKeyBinding, TicketKeyMode } from './tickets/attach-ticket-keys.ts';
export type { TicketCounters } from './tickets/ticket-counters.ts';
export { fromNginxKey, toNginxKey, readNginxKeyFiles } from './tickets/nginx-keys.ts';
export { bindSessionsToCertificate, certificateSessionIdContext } from './runtime/certificate-binding.ts';
export type { BindOptions, CertificateBinding } from './runtime/certificate-binding.ts';

// Settings and metrics.
export { loadConfig } from './config/load.ts';
export type { CacheConfig, CacheConfigOptions } from './config/settings.ts';
export { SharedCounters } from './operations/counters.ts';
export type { CounterName, CounterValues } from './operations/counters.ts';
export { createMetrics } from './operations/metrics.ts';
export type { CacheMetrics, MetricsSources } from './operations/metrics.ts';
export type { Capability, CapabilityCheck, NodeCapabilities } from './tls/known-capabilities.ts';

// Errors: every one a `TlsCacheError` with a stable `code` (`errors.InvalidOptionError`, ...).
export * as errors from './errors.ts';
export type { TlsCacheError } from './errors.ts';

// Deprecated names (until 0.3): of the worker-thread runtime, and of the attach that works in every runtime.
export { runCluster, startCluster } from './threads/deprecated.ts';
export type { Cluster, ClusterEvents, ClusterOptions } from './threads/deprecated.ts';
export { attachClusterCache, clusterServerOptions } from './processes/deprecated.ts';
export type { AttachClusterCacheOptions, ClusterCacheAttachment } from './processes/deprecated.ts';
