/**
 * tls-session-cache: TLS session resumption shared across every worker
 * thread of a clustered Node.js server.
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
export { SharedCounters, COUNTER_NAMES } from './counters.ts';
export type { CounterName, CounterValues } from './counters.ts';
export { createMetrics } from './metrics.ts';
export type { CacheMetrics, MetricsSources } from './metrics.ts';
export * from './errors.ts';
