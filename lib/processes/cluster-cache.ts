/**
 * The session cache for `node:cluster` applications (worker processes): the
 * primary process holds the session table and the ticket key ring (a
 * {@link CachePrimary}) and serves them on a Unix socket of its own, private
 * to the user (`owner/owner-service.ts`); worker processes ask where it is
 * over the cluster's IPC channel, reach the table over it and hold a copy of
 * the ring, pushed at start and on every change.
 *
 * ```ts
 * import cluster from 'node:cluster';
 * import { startClusterCache, attachSharedCache, sharedCacheServerOptions } from 'tls-resumption';
 * if (cluster.isPrimary) {
 *   await startClusterCache();                               // the one call
 *   for (let i = 0; i < 4; i++) cluster.fork();
 * } else {
 *   const server = https.createServer({ key, cert, ...sharedCacheServerOptions() }, app);
 *   await attachSharedCache(server);                        // the one attach
 *   server.listen(8443);
 * }
 * ```
 *
 * The application's own `cluster.on('message')` and `process.on('message')`
 * handlers also see this library's messages (objects with a
 * `tlsSessionCache` property: where the socket is, asked and answered once
 * per worker, and each port a worker's server listens on): ignore them.
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { loadConfig } from '../config/load.ts';
import { moveRenamedVariables } from '../config/renamed-settings.ts';
import { configForLog } from '../config/redact.ts';
import type { CacheConfig, CacheConfigOptions } from '../config/settings.ts';
import { checkApplicationVariables, warnOfUnknownSettings } from '../config/unknown-settings.ts';
import { ClusterCacheStartedError, InvalidOptionError, NotInClusterError, ReloadAbortedError } from '../errors.ts';
import { rollingRestart, type RestartResult, type RestartWorkersOptions } from './rolling-restart.ts';
import { decodeToOwner, encodeToWorker, fromIpc, isTagged, O_OWNER, toIpc, W_WHERE_OWNER } from '../owner/messages.ts';
import { OwnerService } from '../owner/owner-service.ts';
import { preparePrivateDirectory, removeDeadPrimarySockets, socketPathOf } from '../owner/socket-path.ts';
import { workerSettings } from '../runtime/worker-settings.ts';
import { join, dirname } from 'node:path';
import { CachePrimary, type FlushResult } from '../runtime/cache-primary.ts';
import { SerialRuns } from '../runtime/serial-runs.ts';
import { describe } from '../describe.ts';
import type { SessionTable } from '../table/session-table.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';
import type { SharedCounters } from '../operations/counters.ts';

/** Options of {@link startClusterCache}. */
export interface ClusterCacheOptions {
  /** Settings that win over the environment, as numbers in their unit or as the text of their variable (`{ sessionTimeout: '5m' }`); see `loadConfig()`. @defaultValue `{}` */
  config?: CacheConfigOptions;
  /**
   * The environment to read `TLS_CACHE_*` settings from. A `TLS_CACHE_*`
   * variable that is no setting (a misspelling such as `TLS_CACHE_WORKER`)
   * gets one warning at start, from the primary only, naming it and the
   * closest setting, never its value; see `unknownSettings()`.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
  /**
   * `TLS_CACHE_*` variables the application reads itself (the examples'
   * `TLS_CACHE_CERT` and `TLS_CACHE_KEY`): not warned of as unknown.
   * @defaultValue `[]`
   */
  applicationVariables?: readonly string[];
  /** The primary's logger. @defaultValue pino to standard output at `config.logLevel` */
  logger?: Logger;
  /**
   * How worker processes use the ticket keys: `auto` uses Node's internal
   * ticket key callback when present, `fallback` the public single-key API.
   * @defaultValue `'auto'`
   */
  ticketMode?: 'auto' | 'fallback';
  /**
   * How long {@link ClusterCache.metrics} waits for the worker processes'
   * latest counts, in ms (they also send them every second on their own).
   * @defaultValue 100
   */
  countsTimeout?: number;
}

/** How long a {@link ClusterCache.metrics} call waits for fresh counts by default. */
const COUNTS_TIMEOUT_MS = 100;

/** The process's cache, or `'starting'` while it starts. */
let started: ClusterCache | 'starting' | undefined;
/** Makes and starts a {@link ClusterCache}; set by its static block, so its constructor stays private. */
let create: (options: ClusterCacheOptions) => Promise<ClusterCache>;

/**
 * The cache of a `node:cluster` primary; made by {@link startClusterCache}.
 */
export class ClusterCache {
  /** The resolved configuration (what every worker is told). */
  readonly config: Readonly<CacheConfig>;
  /** The session table, in this process. */
  readonly table: SessionTable;
  /** The ticket key ring, in this process; `undefined` when tickets are off. */
  readonly ticketKeys: TicketKeyRing | undefined;
  /** Totals of every process: the primary's own counts and the workers' shipped ones. */
  readonly counters: SharedCounters;
  readonly logger: Logger;

  readonly #primary: CachePrimary;
  /** The socket the worker processes reach the table and ring over (they ask where it is over IPC). */
  readonly #service: OwnerService;
  readonly #countsTimeout: number;
  readonly #listening = new Set<Worker>();
  #closed = false;
  readonly #restarts = new SerialRuns<RestartResult>();
  readonly #onMessage = (worker: Worker, message: unknown): void => this.#receive(worker, message);
  readonly #onListening = (worker: Worker): void => {
    this.#listening.add(worker);
    this.#everListened = true;
  };
  /** Whether a worker has listened since the start. */
  #everListened = false;
  readonly #onExit = (worker: Worker): void => {
    this.#listening.delete(worker);
    // Checked once the application's own 'exit' handlers ran (one may fork a replacement).
    setImmediate(() => this.#stopIfNoWorkerCanServe());
  };

  private constructor(primary: CachePrimary, service: OwnerService, countsTimeout: number) {
    this.#primary = primary;
    this.#service = service;
    this.config = primary.config;
    this.table = primary.table;
    this.ticketKeys = primary.ticketKeys;
    this.counters = primary.counters;
    this.logger = primary.logger;
    this.#countsTimeout = countsTimeout;
  }

  static {
    create = async (options) => {
      const env = options.env ?? process.env;
      const config = loadConfig(options.config ?? {}, env);
      // Workers forked from here inherit this environment: their sharedCacheServerOptions() then
      // agree with the primary even when the settings came from options.config.
      moveRenamedVariables(process.env);
      process.env.TLS_CACHE_SESSION_TIMEOUT = String(config.sessionTimeout);
      process.env.TLS_CACHE_SESSION_ID_CONTEXT = config.sessionIdContext;
      process.env.TLS_CACHE_LOG_FORMAT = config.logFormat;
      const logger = options.logger ?? createLogger({ level: config.logLevel, ...resolveLogFormat(config) });
      warnOfUnknownSettings(logger, env, options.applicationVariables ?? []);
      const primary = CachePrimary.create(config, logger);
      let service: OwnerService;
      try {
        // The primary's own socket, beside the deployment's: its workers learn where over IPC (no other process could guess it).
        const socketPath = join(dirname(socketPathOf(config, env)), `primary-${process.pid}.sock`);
        preparePrivateDirectory(socketPath);
        removeDeadPrimarySockets(dirname(socketPath));
        service = await OwnerService.listen({ primary, settings: workerSettings(primary.config, options.ticketMode ?? 'auto'), socketPath });
      } catch (error) {
        await primary.close();
        throw error;
      }
      const cache = new ClusterCache(primary, service, options.countsTimeout ?? COUNTS_TIMEOUT_MS);
      // Workers may ask already: the table and ring are there (a Redis fleet's keys, once read, are pushed).
      cluster.on('message', cache.#onMessage);
      cluster.on('listening', cache.#onListening);
      cluster.on('exit', cache.#onExit);
      // Workers forked before the cache started may have listened unseen: never taken for workers that could not.
      if (Object.keys(cluster.workers ?? {}).length > 0) cache.#everListened = true;
      try {
        await primary.start({ workers: () => cache.#workerCounts(), certificates: () => service.certificates(), ports: () => service.ports() });
      } catch (error) {
        await cache.close();
        throw error;
      }
      const stats = primary.table.stats();
      logger.info(
        {
          config: configForLog(config),
          node: process.version,
          table: { bufferBytes: stats.bufferBytes, capacityEntries: stats.capacityEntries },
          ticketKeys: primary.ticketKeys?.stats(),
        },
        'node:cluster session cache started in the primary',
      );
      return cache;
    };
  }

  /**
   * Every metric in the Prometheus text format: totals across the primary
   * and every worker process. Asks the workers for their latest counts
   * first and waits for them up to `countsTimeout` ms (a worker that does
   * not answer in time is counted as of its last shipment, at most a second
   * old).
   */
  async metrics(): Promise<string> {
    await this.#service.freshCounts(this.#countsTimeout);
    return this.#primary.metrics();
  }

  /** The Unix socket the worker processes reach the table and ring over (private to this user). */
  get socketPath(): string {
    return this.#service.socketPath;
  }

  /** The port of the metrics endpoint (`metricsPort`), or `undefined` when it is off. */
  get metricsPort(): number | undefined {
    return this.#primary.metricsPort;
  }

  /**
   * Rotates the ticket keys now; every worker process gets the new ring
   * (the previous key still decrypts for the session timeout). With key
   * files, reads them again. Returns false when tickets are off or once closed.
   * @throws TicketKeyFileError when a key file cannot be read (the keys in use stay).
   */
  rotateTicketKeys(): boolean {
    return this.#primary.rotateTicketKeys();
  }

  /**
   * Forgets every session (the table and every worker's local copy) and
   * every ticket key: every client makes a full handshake next time.
   * @throws TicketKeyFileError when a key file cannot be read; nothing was flushed then.
   */
  flush(): FlushResult {
    return this.#service.flush();
  }

  /**
   * Replaces every worker process, keeping every session and ticket key
   * (they live here, in the primary): a replacement is forked per worker,
   * one at a time, and each must listen before the next; once all listen,
   * the old workers are disconnected and finish their connections within
   * `shutdownTimeout`. If a replacement fails, the replacements are
   * stopped and the old workers go on serving. Asked again during a
   * restart, it runs once more after it (further calls join that one).
   * Logs a line per replaced worker and a summary; counted in
   * `reloads_total`. See `rolling-restart.ts`.
   *
   * The application's `cluster.on('exit')` handler must not fork again for
   * these workers: they exit with `worker.exitedAfterDisconnect` true.
   * @throws ReloadFailedError (`ERR_TLS_CACHE_RELOAD_FAILED`) when a replacement failed; nothing changed.
   * @throws ReloadAbortedError (`ERR_TLS_CACHE_RELOAD_ABORTED`) when the cache is closed, or was during the restart.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a bad option.
   */
  restartWorkers(options: RestartWorkersOptions = {}): Promise<RestartResult> {
    if (options === null || typeof options !== 'object') {
      return Promise.reject(new InvalidOptionError('options', `expected an object, got ${describe(options)}`));
    }
    const { fork = () => cluster.fork(), startTimeout = 60_000, shutdownTimeout = this.config.shutdownTimeout } = options;
    if (typeof fork !== 'function') return Promise.reject(new InvalidOptionError('fork', `expected a function, got ${describe(fork)}`));
    for (const [name, value] of [['startTimeout', startTimeout], ['shutdownTimeout', shutdownTimeout]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
        return Promise.reject(new InvalidOptionError(name, `expected whole milliseconds from 0 to 2147483647, got ${describe(value)}`));
      }
    }
    // Checked now, and again when a queued restart starts.
    const start = (): Promise<RestartResult> => {
      if (!this.#closed) return this.#restart({ fork, startTimeout, shutdownTimeout });
      this.#primary.countReload('aborted');
      return Promise.reject(new ReloadAbortedError('The cluster cache is closed: no restart'));
    };
    if (this.#closed) return start();
    return this.#restarts.run(
      start,
      () => this.logger.info('restart requested during a restart: another one follows it'),
    );
  }

  async #restart(options: Required<RestartWorkersOptions>): Promise<RestartResult> {
    this.logger.info({ workers: this.#listening.size }, 'restarting the worker processes: forking a replacement per worker');
    try {
      const result = await rollingRestart(options, this.logger, () => this.#closed);
      this.#primary.countReload('succeeded');
      return result;
    } catch (error) {
      const aborted = error instanceof ReloadAbortedError;
      this.#primary.countReload(aborted ? 'aborted' : 'failed');
      const err = { name: (error as Error).name, code: (error as { code?: string }).code, message: (error as Error).message };
      if (aborted) this.logger.warn({ err }, 'restart aborted: the cluster cache was closed');
      else this.logger.error({ err }, 'restart failed: the worker processes from before go on serving');
      throw error;
    }
  }

  /**
   * Stops answering the workers (their lookups then time out as misses),
   * stops the timers and the metrics endpoint, and frees the table and the
   * ring. Idempotent.
   */
  /**
   * Every worker process forked has exited and none ever listened (each
   * failed to start: its attach refused, its module threw): nothing
   * serves, and nothing will. The cache closes, with an error line and exit
   * code 1, so that the primary ends instead of running on serving
   * nothing (unless the application holds the process open itself).
   */
  #stopIfNoWorkerCanServe(): void {
    if (this.#closed || this.#everListened || Object.keys(cluster.workers ?? {}).length > 0) return;
    this.logger.error('every worker process exited before listening: nothing serves; the cluster cache closes and the primary exits with code 1');
    process.exitCode = 1;
    void this.close();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    cluster.off('message', this.#onMessage);
    cluster.off('listening', this.#onListening);
    cluster.off('exit', this.#onExit);
    await this.#service.close();
    await this.#primary.close();
    if (started === this) started = undefined;
  }

  #workerCounts(): { configured: number; listening: number } {
    return { configured: Object.keys(cluster.workers ?? {}).length, listening: this.#listening.size };
  }

  /**
   * Answers a worker's hello over IPC (the application's messages are
   * ignored) with where the socket is; everything else goes over the
   * socket (the ports its servers listen on too: `owner-service.ts`).
   * Never throws.
   */
  #receive(worker: Worker, raw: unknown): void {
    if (this.#closed || !isTagged(raw)) return;
    const bytes = fromIpc(raw);
    const message = bytes === undefined ? undefined : decodeToOwner(bytes, this.config.maxSessionSize);
    if (message?.op !== W_WHERE_OWNER) {
      this.counters.add('ownerMalformed');
      return;
    }
    try {
      if (worker.isConnected()) worker.send(toIpc(encodeToWorker({ op: O_OWNER, socket: this.#service.socketPath })), undefined, undefined, ignore);
    } catch {
      // The worker is going away; its exit is handled on 'exit'.
    }
  }
}

function ignore(): void {}

/**
 * Starts the session cache in a `node:cluster` primary: the table, the
 * ticket key ring and its rotation, the metrics endpoint (when
 * `TLS_CACHE_METRICS_PORT` is set), and the answers to worker processes
 * (each attaches with `attachSharedCache(server)`). Call it once, before
 * or after forking. Settings come from `TLS_CACHE_*` variables (and
 * `options.config`); workers get the ones they must agree on from here.
 * It sets `TLS_CACHE_SESSION_TIMEOUT` and `TLS_CACHE_SESSION_ID_CONTEXT` in this
 * process's environment to the values in force, so that workers forked
 * from it (which inherit it) create their servers with the same ones
 * (`sharedCacheServerOptions()`).
 *
 * @throws NotInClusterError (`ERR_TLS_CACHE_NOT_IN_CLUSTER`) outside a cluster primary.
 * @throws ClusterCacheStartedError (`ERR_TLS_CACHE_ALREADY_STARTED`) when it runs already in this process.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) or InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for bad settings.
 * @throws TicketKeyFileError, MetricsListenError as the thread runtime does.
 */
export async function startClusterCache(options: ClusterCacheOptions = {}): Promise<ClusterCache> {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  }
  const { ticketMode, countsTimeout, logger, applicationVariables } = options;
  if (ticketMode !== undefined && ticketMode !== 'auto' && ticketMode !== 'fallback') {
    throw new InvalidOptionError('ticketMode', `expected "auto" or "fallback", got ${describe(ticketMode)}`);
  }
  if (countsTimeout !== undefined && (!Number.isInteger(countsTimeout) || countsTimeout < 0 || countsTimeout > 10_000)) {
    throw new InvalidOptionError('countsTimeout', `expected whole milliseconds from 0 to 10000, got ${describe(countsTimeout)}`);
  }
  if (logger !== undefined && (logger === null || typeof logger !== 'object' || typeof logger.info !== 'function' || typeof logger.child !== 'function')) {
    throw new InvalidOptionError('logger', `expected a pino logger, got ${describe(logger)}`);
  }
  if (applicationVariables !== undefined) checkApplicationVariables(applicationVariables);
  if (!cluster.isPrimary) {
    throw new NotInClusterError(
      'startClusterCache() runs in the node:cluster primary; in a worker process, call attachSharedCache(server) instead',
    );
  }
  if (started !== undefined) {
    throw new ClusterCacheStartedError('startClusterCache() was already called in this process; use the ClusterCache it returned');
  }
  started = 'starting';
  try {
    started = await create(options);
  } catch (error) {
    started = undefined;
    throw error;
  }
  return started;
}
