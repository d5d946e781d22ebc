/**
 * The names of the one attach line before 0.2, when "cluster" named it
 * though it works in every runtime (worker threads, `node:cluster`
 * workers, PM2 instances, plain processes): `attachClusterCache` and
 * `clusterServerOptions`. Kept until 0.3: each calls the new function
 * under the old name, and its first call in a process emits a
 * `DeprecationWarning` with a code of its own, as `threads/deprecated.ts`
 * does for the thread runtime's old names. Listed in
 * docs/api.md#deprecated-names.
 *
 * @module
 */
import { deprecate } from 'node:util';
import { attachSharedCache, sharedCacheServerOptions, type AttachSharedCacheOptions, type SharedCacheAttachment } from './attach-shared-cache.ts';

/** @deprecated Use {@link attachSharedCache}; this name goes in 0.3 (warning `TLS_CACHE_DEP005`). */
export const attachClusterCache: typeof attachSharedCache = deprecate(
  attachSharedCache,
  'attachClusterCache() is deprecated and goes in 0.3: call attachSharedCache(), the same function under its new name',
  'TLS_CACHE_DEP005',
);
/** @deprecated Use {@link sharedCacheServerOptions}; this name goes in 0.3 (warning `TLS_CACHE_DEP006`). */
export const clusterServerOptions: typeof sharedCacheServerOptions = deprecate(
  sharedCacheServerOptions,
  'clusterServerOptions() is deprecated and goes in 0.3: call sharedCacheServerOptions(), the same function under its new name',
  'TLS_CACHE_DEP006',
);
/** @deprecated Use {@link SharedCacheAttachment}; this name goes in 0.3. */
export type ClusterCacheAttachment = SharedCacheAttachment;
/** @deprecated Use {@link AttachSharedCacheOptions}; this name goes in 0.3. */
export type AttachClusterCacheOptions = AttachSharedCacheOptions;
