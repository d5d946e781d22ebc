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
export { Cluster, runCluster, startCluster } from './cluster.ts';
export type { ClusterEvents, ClusterOptions, WorkerExit, WorkerInfo } from './cluster.ts';
export type { ServerContext, ServerFactory } from './server-context.ts';
export * from './errors.ts';
