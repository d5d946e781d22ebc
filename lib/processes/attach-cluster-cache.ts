/**
 * One attach line for a server, wherever it runs: {@link attachClusterCache}.
 *
 * - In a `node:cluster` worker process: the session store over IPC (a local
 *   copy, then the primary's table within `TLS_CACHE_IPC_TIMEOUT`) and a
 *   copy of the primary's ticket key ring, kept current by the primary. The
 *   primary must run `startClusterCache()`.
 * - In a server thread of the cluster runtime (`runThreadCluster`): exactly what
 *   the runtime attaches (the shared table with Redis behind it when set,
 *   and the ring), through the thread's one attach
 *   (`runtime/thread-runtime.ts`); the runtime then does not attach again.
 * - Anywhere else: `ERR_TLS_CACHE_NOT_IN_CLUSTER`.
 *
 * Servers must be created with the deployment's TLS settings
 * ({@link clusterServerOptions}), or the attach refuses them.
 *
 * @module
 */
import cluster from 'node:cluster';
import { isMainThread } from 'node:worker_threads';
import { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.ts';
import { InvalidOptionError, NotInClusterError } from '../errors.ts';
import type { SessionCacheBinding } from '../tls/session-hooks.ts';
import { ProcessWorker } from './worker-process.ts';
import { runtimeServerOptions, type RuntimeServerOptions } from '../runtime/attach-runtime.ts';
import { threadRuntime } from '../runtime/thread-runtime.ts';
import { checkTlsServer } from '../tls/check-server.ts';
import { describe } from '../describe.ts';
import type { TicketKeyBinding } from '../tickets/attach-ticket-keys.ts';

/** Options of {@link attachClusterCache}. */
export interface AttachClusterCacheOptions {
  /**
   * Worker processes: how long to wait for the primary's first answer (its
   * settings and ticket keys), in ms.
   * @defaultValue 10000
   */
  helloTimeout?: number;
  /**
   * Worker processes: the logger of this process's cache (used by the first
   * attach of the process).
   * @defaultValue pino to standard output at the primary's `logLevel`
   */
  logger?: Logger;
}

/** What {@link attachClusterCache} attached. */
export interface ClusterCacheAttachment {
  /** Where the server runs. */
  readonly where: 'process' | 'thread';
  /** The session store's binding. */
  readonly binding: SessionCacheBinding;
  /** The ticket key binding; `undefined` when tickets are off. */
  readonly tickets: TicketKeyBinding | undefined;
}

const DEFAULT_HELLO_TIMEOUT_MS = 10_000;

/** Whether this is a `node:cluster` worker process with its channel to the primary. */
function inWorkerProcess(): boolean {
  return isMainThread && cluster.isWorker && typeof process.send === 'function';
}

/**
 * The options every server must be created with to take the cache, to
 * spread into `https.createServer()`, `tls.createServer()` or
 * `http2.createSecureServer()`: `{ sessionTimeout, sessionIdContext }`,
 * read now from `TLS_CACHE_TIMEOUT` and `TLS_CACHE_SESSION_ID_CONTEXT`
 * (the worker inherits the primary's environment), or from the runtime in
 * one of its server threads. Synchronous, so it works before any await.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a malformed variable.
 */
export function clusterServerOptions(env: NodeJS.ProcessEnv = process.env): RuntimeServerOptions {
  const thread = threadRuntime();
  if (thread !== undefined) return thread.serverOptions;
  const config = loadConfig({}, env);
  return runtimeServerOptions(config, config);
}

/**
 * Attaches the cluster's session cache and ticket keys to `server` (not
 * listening yet): see the module's documentation. Resolves once the server
 * is ready to resume any process's or thread's sessions; listen after.
 *
 * @throws NotInClusterError (`ERR_TLS_CACHE_NOT_IN_CLUSTER`) outside a `node:cluster` worker process and a runtime server thread.
 * @throws PrimaryUnavailableError (`ERR_TLS_CACHE_PRIMARY_UNAVAILABLE`) when the primary does not answer within `helloTimeout`.
 * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`), SessionIdContextMismatchError (`ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH`), TicketsNotDisabledError (`ERR_TLS_CACHE_TICKETS_NOT_DISABLED`) for a server not created with the deployment's settings.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a server that is not a `tls.Server`, or a bad option.
 */
export async function attachClusterCache(server: TlsServer, options: AttachClusterCacheOptions = {}): Promise<ClusterCacheAttachment> {
  checkTlsServer(server);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  const { helloTimeout = DEFAULT_HELLO_TIMEOUT_MS, logger } = options;
  if (!Number.isInteger(helloTimeout) || helloTimeout < 1 || helloTimeout > 600_000) {
    throw new InvalidOptionError('helloTimeout', `expected whole milliseconds from 1 to 600000, got ${describe(helloTimeout)}`);
  }
  if (logger !== undefined && (logger === null || typeof logger !== 'object' || typeof logger.child !== 'function')) {
    throw new InvalidOptionError('logger', `expected a pino logger, got ${describe(logger)}`);
  }
  const thread = threadRuntime();
  if (thread !== undefined) {
    // The thread's own attach (its store, Redis included, and ring), which the runtime then finds done.
    const { binding, tickets } = thread.attach(server);
    await tickets?.ready;
    return { where: 'thread', binding, tickets };
  }
  if (!inWorkerProcess()) {
    throw new NotInClusterError(
      'attachClusterCache() runs in a node:cluster worker process (its primary calling startClusterCache()) or in a server thread of runThreadCluster(); ' +
        'this is neither' + (cluster.isPrimary && isMainThread ? ' (this is the primary: call startClusterCache() here)' : ''),
    );
  }
  const worker = await ProcessWorker.connect({ helloTimeout, logger });
  const { binding, tickets } = worker.attach(server);
  // Renewal starts once this process's self-test passed: from the first connection on.
  await tickets?.ready;
  return { where: 'process', binding, tickets };
}
