/**
 * One attach line for a server, wherever it runs: {@link attachSharedCache}
 * (named `attachClusterCache` before 0.2: `deprecated.ts`).
 *
 * - In a server thread of the worker-thread runtime (`runThreadCluster`): exactly what
 *   the runtime attaches (the shared table with Redis behind it when set,
 *   and the ring), through the thread's one attach
 *   (`runtime/thread-runtime.ts`); the runtime then does not attach again.
 * - In a process: the owner's table over its Unix socket (after a local
 *   copy) and a copy of its ticket key ring, kept current by the owner
 *   (`worker-process.ts`). The owner is the `node:cluster` primary when it
 *   runs `startClusterCache()`, else the host's cache daemon, started
 *   when none runs: PM2 cluster mode, systemd units, plain processes.
 * - In a worker thread of the application's own: `ERR_TLS_CACHE_NOT_IN_CLUSTER`.
 *
 * Servers must be created with the deployment's TLS settings
 * ({@link sharedCacheServerOptions}), or the attach refuses them.
 *
 * @module
 */
import { dirname } from 'node:path';
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
import { warnOfOtherRuntimes } from '../owner/same-port.ts';
import { describe } from '../describe.ts';
import type { TicketKeyBinding } from '../tickets/attach-ticket-keys.ts';

/** Options of {@link attachSharedCache}. */
export interface AttachSharedCacheOptions {
  /**
   * Processes: how long to wait for the `node:cluster` primary's answer
   * (where its socket is), and then for the owner's first answer (its
   * settings and ticket keys), in ms. Past it the process serves anyway,
   * with a ticket key of its own, and keeps looking for the owner.
   * @defaultValue 2000
   */
  helloTimeout?: number;
  /**
   * Worker processes: the logger of this process's cache (used by the first
   * attach of the process).
   * @defaultValue pino to standard output at the primary's `logLevel`
   */
  logger?: Logger;
}

/** What {@link attachSharedCache} attached. */
export interface SharedCacheAttachment {
  /** Where the server runs. */
  readonly where: 'process' | 'thread';
  /** The session store's binding. */
  readonly binding: SessionCacheBinding;
  /** The ticket key binding; `undefined` when tickets are off. */
  readonly tickets: TicketKeyBinding | undefined;
}

const DEFAULT_HELLO_TIMEOUT_MS = 2000;

/**
 * The options every server must be created with to take the cache, to
 * spread into `https.createServer()`, `tls.createServer()` or
 * `http2.createSecureServer()`: `{ sessionTimeout, sessionIdContext }`,
 * read now from `TLS_CACHE_SESSION_TIMEOUT` and `TLS_CACHE_SESSION_ID_CONTEXT`
 * (the worker inherits the primary's environment), or from the runtime in
 * one of its server threads. Synchronous, so it works before any await.
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a malformed variable.
 */
export function sharedCacheServerOptions(env: NodeJS.ProcessEnv = process.env): RuntimeServerOptions {
  const thread = threadRuntime();
  if (thread !== undefined) return thread.serverOptions;
  const config = loadConfig({}, env);
  return runtimeServerOptions({ timeout: config.sessionTimeout }, config);
}

/**
 * Attaches the cluster's session cache and ticket keys to `server` (not
 * listening yet): see the module's documentation. Resolves once the server
 * is ready to resume any process's or thread's sessions; listen after.
 *
 * @throws NotInClusterError (`ERR_TLS_CACHE_NOT_IN_CLUSTER`) in a worker thread that is not a runtime server thread.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the default socket path is too long (set `TLS_CACHE_SOCKET`).
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a bad `TLS_CACHE_*` variable.
 * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`), SessionIdContextMismatchError (`ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH`), TicketsNotDisabledError (`ERR_TLS_CACHE_TICKETS_NOT_DISABLED`) for a server not created with the deployment's settings.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a server that is not a `tls.Server`, or a bad option.
 */
export async function attachSharedCache(server: TlsServer, options: AttachSharedCacheOptions = {}): Promise<SharedCacheAttachment> {
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
  if (!isMainThread) {
    throw new NotInClusterError(
      "attachSharedCache() runs in a process's main thread or in a server thread of runThreadCluster(); this is a worker thread of the application's own",
    );
  }
  const worker = await ProcessWorker.connect({ helloTimeout, logger });
  const { binding, tickets } = worker.attach(server);
  // Another runtime of this user on the port: sessions are not shared with it (owner/same-port.ts).
  server.once('listening', () => {
    const address = server.address();
    if (address !== null && typeof address === 'object') void warnOfOtherRuntimes(worker.logger, address.port, dirname(worker.socketPath), worker.socketPath);
  });
  // Renewal starts once this process's self-test passed: from the first connection on.
  await tickets?.ready;
  return { where: 'process', binding, tickets };
}
