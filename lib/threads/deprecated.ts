/**
 * The worker-thread runtime's names before 0.2, when "cluster" named both
 * it and `node:cluster` (and the attach that works in both, now
 * `attachSharedCache`: `processes/deprecated.ts`). Kept for
 * the users of 0.1 until 0.3: each calls the new function under the old
 * name, and its first call in a process emits a `DeprecationWarning` with
 * a code of its own, as pino does for its deprecated options (Node's
 * `util.deprecate`: once per code, silenced by `--no-deprecation`, thrown
 * by `--throw-deprecation`). Listed in docs/api.md#deprecated-names.
 *
 * @module
 */
import { deprecate } from 'node:util';
import { startThreadCluster, type ThreadCluster, type ThreadClusterEvents } from './cluster.ts';
import type { ThreadClusterOptions } from './cluster-options.ts';
import { runThreadCluster } from './run-cluster.ts';

/** @deprecated Use {@link runThreadCluster}; this name goes in 0.3 (warning `TLS_CACHE_DEP001`). */
export const runCluster: typeof runThreadCluster = deprecate(
  runThreadCluster,
  'runCluster() is deprecated and goes in 0.3: call runThreadCluster(), the same function under its new name',
  'TLS_CACHE_DEP001',
);
/** @deprecated Use {@link startThreadCluster}; this name goes in 0.3 (warning `TLS_CACHE_DEP002`). */
export const startCluster: typeof startThreadCluster = deprecate(
  startThreadCluster,
  'startCluster() is deprecated and goes in 0.3: call startThreadCluster(), the same function under its new name',
  'TLS_CACHE_DEP002',
);
/** @deprecated Use {@link ThreadCluster}; this name goes in 0.3. */
export type Cluster = ThreadCluster;
/** @deprecated Use {@link ThreadClusterEvents}; this name goes in 0.3. */
export type ClusterEvents = ThreadClusterEvents;
/** @deprecated Use {@link ThreadClusterOptions}; this name goes in 0.3. */
export type ClusterOptions = ThreadClusterOptions;
