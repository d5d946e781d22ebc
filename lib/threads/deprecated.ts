/**
 * The worker-thread runtime's names before 0.2, when "cluster" named both
 * it and `node:cluster` (whose attach is `attachClusterCache`). Kept for
 * one minor version: each is the new name under the old one.
 *
 * @module
 */
import { startThreadCluster, type ThreadCluster, type ThreadClusterEvents } from './cluster.ts';
import type { ThreadClusterOptions } from './cluster-options.ts';
import { runThreadCluster } from './run-cluster.ts';

/** @deprecated Use {@link runThreadCluster}; this name goes in 0.3. */
export const runCluster: typeof runThreadCluster = runThreadCluster;
/** @deprecated Use {@link startThreadCluster}; this name goes in 0.3. */
export const startCluster: typeof startThreadCluster = startThreadCluster;
/** @deprecated Use {@link ThreadCluster}; this name goes in 0.3. */
export type Cluster = ThreadCluster;
/** @deprecated Use {@link ThreadClusterEvents}; this name goes in 0.3. */
export type ClusterEvents = ThreadClusterEvents;
/** @deprecated Use {@link ThreadClusterOptions}; this name goes in 0.3. */
export type ClusterOptions = ThreadClusterOptions;
