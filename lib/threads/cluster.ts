/**
 * The cluster runtime: one primary thread owns the shared session table and
 * keeps N server threads running, all listening on one port through
 * `listen({ port, reusePort: true })`, all resuming each other's sessions.
 *
 * ```ts
 * // main.ts
 * import { runCluster } from 'tls-session-cache';
 * await runCluster({ server: new URL('../server.ts', import.meta.url), port: 8443 });
 *
 * // server.ts: runs in every worker thread
 * export default ({ serverOptions }: ServerContext) =>
 *   https.createServer({ key, cert, ...serverOptions }, handler);
 * ```
 *
 * Ticket keys: with tickets on (`TLS_CACHE_TICKETS`, the default) the
 * primary also owns the ticket key ring (`tickets/key-ring.ts`), rotates it every
 * `ticketRotate` ms and erases keys once no ticket under them can be valid;
 * {@link Cluster.rotateTicketKeys} rotates now and {@link Cluster.flush}
 * drops every session and every key; {@link runCluster} maps them to SIGUSR1
 * and SIGUSR2.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { resolve as resolvePath } from 'node:path';
import { statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { originOf, summarize, type ErrorSummary, type FromServerThread, type ServerThreadData } from './messages.ts';
import { loadConfig } from '../config/load.ts';
import { configForLog } from '../config/redact.ts';
import type { CacheConfig, CacheConfigOptions } from '../config/settings.ts';
import { checkApplicationVariables, warnOfUnknownSettings } from '../config/unknown-settings.ts';
import { freePort } from './free-port.ts';
import { InvalidOptionError, ReusePortUnsupportedError, ServerModuleError, WorkerStartError } from '../errors.ts';
import type { SharedCounters } from '../operations/counters.ts';
import type { SessionHookCounters } from '../tls/session-hooks.ts';
import { CachePrimary, type FlushResult } from '../runtime/cache-primary.ts';
import { probeReusePort } from './reuse-port.ts';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { describe } from '../describe.ts';
import type { SessionTable } from '../table/session-table.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';
import type { TicketCounters } from '../tickets/attach-ticket-keys.ts';

export type { FlushResult } from '../runtime/cache-primary.ts';

/** Options of {@link startCluster} and {@link runCluster}. */
export interface ClusterOptions {
  /**
   * The server module, run in every worker thread: a file path (relative to
   * the working directory) or a URL. Its default export is a
   * `ServerFactory` (see `runtime/server-context.ts`).
   */
  server: string | URL;
  /** The port every worker listens on; 0 picks a free one (see {@link Cluster.port}). */
  port: number;
  /**
   * The address to listen on.
   * @defaultValue every address (Node's default for `listen()`)
   */
  host?: string;
  /** Settings that win over the environment, as numbers in their unit or as the text of their variable (`{ timeout: '5m' }`); see `loadConfig()`. @defaultValue `{}` */
  config?: CacheConfigOptions;
  /**
   * The environment to read `TLS_CACHE_*` settings from. A `TLS_CACHE_*`
   * variable that is no setting (a misspelling such as `TLS_CACHE_WORKER`)
   * gets one warning at start, naming it and the closest setting, never its
   * value; see `unknownSettings()`.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
  /**
   * `TLS_CACHE_*` variables the application reads itself (the examples'
   * `TLS_CACHE_CERT` and `TLS_CACHE_KEY`): not warned of as unknown.
   * @defaultValue `[]`
   */
  applicationVariables?: readonly string[];
  /**
   * Anything structured-cloneable handed to every server module as
   * `context.data`, e.g. a certificate made once in the primary.
   * @defaultValue `undefined`
   */
  data?: unknown;
  /**
   * The primary's logger. Worker threads log to standard output with pino at
   * `config.logLevel`.
   * @defaultValue pino to standard output at `config.logLevel`
   */
  logger?: Logger;
  /**
   * Node options of the worker threads (as `new Worker()`'s `execArgv`).
   * @defaultValue the primary's `process.execArgv`
   */
  execArgv?: string[];
  /**
   * How worker threads use the ticket key ring: `auto` uses Node's internal
   * ticket key callback when present (every key of the ring decrypts), else
   * the public `setTicketKeys()`; `fallback` forces the latter (one key at a
   * time: a ticket under an older key costs a full handshake).
   * @defaultValue `'auto'`
   */
  ticketMode?: 'auto' | 'fallback';
}

/** A worker slot as the primary sees it. */
export interface WorkerInfo {
  /** From 1 to `config.workers`; kept across restarts. */
  workerId: number;
  /** `threadId` of the current thread, or -1 while it is down. */
  threadId: number;
  /** Times this slot's thread was restarted after a crash. */
  restarts: number;
  /** Whether the current thread is listening. */
  listening: boolean;
}

/** A worker thread that ended while the cluster was running. */
export interface WorkerExit {
  workerId: number;
  threadId: number;
  exitCode: number;
  /** What killed it, when it threw. */
  error: ErrorSummary | undefined;
  /** Delay before its replacement starts. */
  restartInMs: number;
}

/** Events of a {@link Cluster}. */
export interface ClusterEvents {
  /** A worker thread (first or restarted) is listening. */
  workerListening: [WorkerInfo];
  /** A worker thread ended unexpectedly; it will be restarted. */
  workerExit: [WorkerExit];
}

/**
 * The thread entry point beside this module: `server-thread.ts` when run
 * from the TypeScript sources, `server-thread.js` in the built package.
 */
const SERVER_THREAD = new URL(`../../workers/server-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** One worker's place in the cluster, across restarts. */
class WorkerSlot {
  readonly workerId: number;
  worker: Worker | undefined;
  threadId = -1;
  listening = false;
  startedAt = 0;
  restarts = 0;
  /** Crashes in a row, each within `maxRestartDelay` of its start. */
  quickCrashes = 0;
  restartTimer: NodeJS.Timeout | undefined;
  failure: ErrorSummary | undefined;
  exited: Promise<number> = Promise.resolve(0);

  constructor(workerId: number) {
    this.workerId = workerId;
  }

  info(): WorkerInfo {
    return { workerId: this.workerId, threadId: this.threadId, restarts: this.restarts, listening: this.listening };
  }
}

/** What {@link startCluster} prepares for a {@link Cluster} before its threads start. */
interface ClusterParts {
  port: number;
  primary: CachePrimary;
  threadData: Omit<ServerThreadData, 'workerId'>;
  execArgv: string[] | undefined;
}

/** Makes a cluster and starts its threads; set by {@link Cluster}'s static block, so its constructor stays private. */
let launch: (parts: ClusterParts) => Promise<Cluster>;

/**
 * A running cluster. Made by {@link startCluster}; ended by {@link Cluster.stop}.
 */
export class Cluster extends EventEmitter<ClusterEvents> {
  /** The port every worker listens on. */
  readonly port: number;
  /** The resolved configuration. */
  readonly config: Readonly<CacheConfig>;
  /** The shared session table, owned by this thread. */
  readonly table: SessionTable;
  /** The shared ticket key ring, owned by this thread; `undefined` when tickets are off. */
  readonly ticketKeys: TicketKeyRing | undefined;
  /**
   * The counters every thread adds to in shared memory (hooks, tickets,
   * handshakes, worker restarts): totals across threads, dead ones included.
   */
  readonly counters: SharedCounters;
  /** The primary's logger. */
  readonly logger: Logger;

  readonly #primary: CachePrimary;
  readonly #slots: WorkerSlot[];
  readonly #threadData: Omit<ServerThreadData, 'workerId'>;
  readonly #execArgv: string[] | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;

  private constructor({ port, primary, threadData, execArgv }: ClusterParts) {
    super();
    this.#primary = primary;
    this.#execArgv = execArgv;
    this.port = port;
    this.config = primary.config;
    this.table = primary.table;
    this.ticketKeys = primary.ticketKeys;
    this.counters = primary.counters;
    this.logger = primary.logger;
    this.#threadData = threadData;
    this.#slots = Array.from({ length: primary.config.workers }, (_, i) => new WorkerSlot(i + 1));
    // Fallback workers set the new key themselves; the others read the ring as it is.
    primary.on('ticketKeys', () => {
      for (const slot of this.#slots) slot.worker?.postMessage({ type: 'ticket-keys' });
    });
  }

  static {
    launch = async (parts) => {
      const cluster = new Cluster(parts);
      await cluster.#startAll();
      return cluster;
    };
  }

  /**
   * Every metric in the Prometheus text format (what `/metrics` serves), read
   * now from shared memory: totals across every worker thread.
   */
  metrics(): Promise<string> {
    return this.#primary.metrics();
  }

  /** The port of the metrics endpoint (`metricsPort`), or `undefined` when it is off. */
  get metricsPort(): number | undefined {
    return this.#primary.metricsPort;
  }

  #workerCounts(): { configured: number; listening: number } {
    return { configured: this.#slots.length, listening: this.#slots.filter((slot) => slot.listening).length };
  }

  /** Every worker slot, in order of `workerId`. */
  workers(): WorkerInfo[] {
    return this.#slots.map((slot) => slot.info());
  }

  /**
   * The hook counters of every worker thread since start, summed (read from
   * shared memory: threads that died or were restarted included). Async for
   * compatibility: it no longer asks the threads.
   */
  async sessionCounters(): Promise<SessionHookCounters> {
    return this.counters.sessionHookCounters();
  }

  /**
   * The ticket counters of every worker thread since start, summed, as
   * {@link sessionCounters}; all zero when tickets are off.
   */
  async ticketCounters(): Promise<TicketCounters> {
    return this.counters.ticketCounters();
  }

  /**
   * Rotates the ticket keys now, in every worker at once: a new key
   * encrypts, the previous one still decrypts for the session timeout. With
   * key files (`ticketKeyFile`), reads the files again instead. Returns
   * false when tickets are off.
   * @throws TicketKeyFileError when a key file cannot be read (the keys in use stay).
   */
  rotateTicketKeys(): boolean {
    if (this.#stopping !== undefined) return false;
    return this.#primary.rotateTicketKeys();
  }

  /**
   * Forgets every session and every ticket key, in every worker at once:
   * every client makes a full handshake next time (after a key compromise,
   * a certificate revocation, ...). With key files, the keys are read from
   * the files again (replace them first). Does nothing once stopping.
   * @throws TicketKeyFileError when a key file cannot be read; nothing was flushed then.
   */
  flush(): FlushResult {
    if (this.#stopping !== undefined) return { sessions: 0, ticketKeys: false };
    return this.#primary.flush();
  }

  /**
   * Stops gracefully: every worker stops accepting, open connections get
   * `shutdownTimeout` ms to finish (idle HTTP keep-alive connections and
   * HTTP/2 sessions are closed at once), then remaining threads are
   * terminated. Resolves when every thread has ended. Calling it again
   * returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#primary.stopTimers();
    const live = this.#slots.filter((slot) => slot.worker !== undefined);
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    this.logger.info(
      { workers: live.length, shutdownTimeoutMs: this.config.shutdownTimeout },
      'stopping: accepting no new connections, letting open ones finish',
    );
    for (const slot of live) slot.worker!.postMessage({ type: 'stop' });
    const allExited = Promise.all(live.map((slot) => slot.exited));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      allExited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.config.shutdownTimeout);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      const remaining = this.#slots.filter((slot) => slot.worker !== undefined);
      this.logger.warn(
        { workers: remaining.map((slot) => slot.workerId) },
        'shutdown timeout: closing the connections still open',
      );
      await Promise.all(remaining.map((slot) => slot.worker?.terminate()));
      await allExited;
    }
    await this.#primary.close();
    this.logger.info('stopped');
  }

  async #startAll(): Promise<void> {
    await this.#primary.start({ workers: () => this.#workerCounts() });
    const ready = this.#slots.map((slot) => this.#spawn(slot));
    const failures = (await Promise.allSettled(ready)).filter((r) => r.status === 'rejected');
    if (failures.length > 0) {
      this.#stopping = Promise.resolve();
      await Promise.all(this.#slots.map((slot) => slot.worker?.terminate()));
      await Promise.all(this.#slots.map((slot) => slot.exited));
      await this.#primary.close();
      throw (failures[0] as PromiseRejectedResult).reason;
    }
    this.#started = true;
    this.logger.info({ port: this.port, workers: this.#slots.length }, 'listening');
  }

  /** Starts a slot's thread; resolves when it listens, rejects if it ends first. */
  #spawn(slot: WorkerSlot): Promise<void> {
    const workerData: ServerThreadData = { ...this.#threadData, workerId: slot.workerId };
    const worker = new Worker(SERVER_THREAD, {
      workerData,
      name: `tls-session-cache worker ${slot.workerId}`,
      execArgv: this.#execArgv,
    });
    const threadId = worker.threadId;
    slot.worker = worker;
    slot.threadId = threadId;
    slot.listening = false;
    slot.failure = undefined;
    slot.startedAt = Date.now();
    this.logger.debug({ workerId: slot.workerId, threadId }, 'worker starting');
    return new Promise<void>((resolve, reject) => {
      slot.exited = new Promise<number>((exited) => {
        worker.on('exit', (exitCode) => {
          this.#onExit(slot, threadId, exitCode);
          exited(exitCode);
          const failure = slot.failure;
          reject(
            new WorkerStartError(
              slot.workerId,
              `Worker ${slot.workerId} ended (exit code ${exitCode}) before listening${
                failure ? `: ${failure.code ? `${failure.code}: ` : ''}${failure.message}` : ''
              }`,
              { cause: failure },
            ),
          );
        });
      });
      worker.on('error', (error) => {
        slot.failure ??= summarize(error, { stack: true });
      });
      worker.on('message', (message: FromServerThread) => {
        if (message.type === 'listening') {
          slot.listening = true;
          this.logger.info({ workerId: slot.workerId, threadId, port: message.port, restarts: slot.restarts }, 'worker listening');
          this.emit('workerListening', slot.info());
          resolve();
        } else if (message.type === 'start-failed') {
          slot.failure ??= message.error;
        }
      });
    });
  }

  #onExit(slot: WorkerSlot, threadId: number, exitCode: number): void {
    // A thread that died inside a write holds its shard's lock: free and repair it.
    const released = this.table.releaseOwner(threadId + 1);
    slot.worker = undefined;
    slot.listening = false;
    slot.threadId = -1;
    const ranForMs = Date.now() - slot.startedAt;
    const fields = { workerId: slot.workerId, threadId, exitCode, ranForMs, releasedShards: released, err: slot.failure };
    if (this.#stopping !== undefined) {
      this.logger.debug(fields, 'worker stopped');
      return;
    }
    if (!this.#started) {
      this.logger.error(fields, 'worker failed to start');
      return;
    }
    if (ranForMs >= this.config.maxRestartDelay) slot.quickCrashes = 0;
    const restartInMs = Math.min(this.config.restartDelay * 2 ** Math.min(slot.quickCrashes, 30), this.config.maxRestartDelay);
    slot.quickCrashes++;
    this.logger.error({ ...fields, restartInMs }, 'worker exited unexpectedly; restarting it');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#stopping !== undefined) return;
      slot.restarts++;
      this.counters.add('workerRestarts');
      this.#spawn(slot).catch(() => {
        // Its exit was logged and another restart scheduled by #onExit.
      });
    }, restartInMs);
    this.emit('workerExit', { workerId: slot.workerId, threadId, exitCode, error: slot.failure, restartInMs });
  }
}

/**
 * Starts a cluster: loads the configuration, checks that threads can share
 * a port, creates the table, and starts `config.workers` server threads.
 * Resolves once every thread listens. Fails without leaving anything
 * running: every thread started is ended first.
 *
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) or InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for bad settings.
 * @throws ServerModuleError (`ERR_TLS_CACHE_SERVER_MODULE`) when the server module is a file that does not exist (no thread was started).
 * @throws ReusePortUnsupportedError (`ERR_TLS_CACHE_REUSE_PORT_UNSUPPORTED`) when this runtime or platform lacks `reusePort`.
 * @throws WorkerStartError (`ERR_TLS_CACHE_WORKER_START`) when a thread failed before listening (its module threw, the port is taken, ...).
 * @throws MetricsListenError (`ERR_TLS_CACHE_METRICS_LISTEN`) when `metricsPort` is set and cannot be listened on (no worker was started).
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  }
  const env = options.env ?? process.env;
  const config = loadConfig(options.config ?? {}, env);
  const applicationVariables = options.applicationVariables ?? [];
  checkApplicationVariables(applicationVariables);
  const requestedPort = options.port;
  if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
    throw new InvalidOptionError('port', `expected an integer from 0 to 65535, got ${describe(requestedPort)}`);
  }
  const host = options.host;
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new InvalidOptionError('host', `expected an address, got ${describe(host)}`);
  }
  const ticketMode = options.ticketMode ?? 'auto';
  if (ticketMode !== 'auto' && ticketMode !== 'fallback') {
    throw new InvalidOptionError('ticketMode', `expected "auto" or "fallback", got ${describe(ticketMode)}`);
  }
  const execArgv = options.execArgv;
  if (execArgv !== undefined && !(Array.isArray(execArgv) && execArgv.every((a) => typeof a === 'string'))) {
    throw new InvalidOptionError('execArgv', `expected an array of strings, got ${describe(execArgv)}`);
  }
  const module = moduleUrl(options.server);
  const probe = await probeReusePort();
  if (!probe.supported) throw new ReusePortUnsupportedError(probe.message);
  const port = requestedPort === 0 ? await freePort(host) : requestedPort;

  // Threads cannot tell whether standard output is a terminal: the format is resolved here, for all.
  const log = resolveLogFormat(config);
  const logger = options.logger ?? createLogger({ level: config.logLevel, ...log });
  warnOfUnknownSettings(logger, env, applicationVariables);
  const primary = CachePrimary.create(config, logger);
  const { table, ticketKeys, counters } = primary;
  const stats = table.stats();
  logger.info(
    {
      config: configForLog(config),
      server: module,
      port,
      host: host ?? '(all addresses)',
      node: process.version,
      table: { bufferBytes: stats.bufferBytes, capacityEntries: stats.capacityEntries },
      ticketKeys: ticketKeys?.stats(),
    },
    'starting',
  );
  try {
    const threadData = {
      buffer: table.buffer,
      module,
      port,
      host,
      config,
      data: options.data,
      ticketKeys: ticketKeys?.buffer,
      counters: counters.buffer,
      ticketMode,
      log,
    };
    return await launch({ port, primary, threadData, execArgv: options.execArgv });
  } catch (error) {
    await primary.close();
    logger.error({ err: summarize(error) }, 'start failed; every worker was ended');
    throw error;
  }
}

/**
 * Runs a cluster as a program's main: {@link startCluster}, then SIGTERM or
 * SIGINT stop it gracefully ({@link Cluster.stop}) and exit with code 0. A
 * second signal kills the process at once (Node's default). SIGUSR1 rotates
 * the ticket keys now ({@link Cluster.rotateTicketKeys}); SIGUSR2 flushes
 * every session and ticket key ({@link Cluster.flush}). If starting
 * fails, the error (its code and message) goes to standard error and the
 * exit code is 1; the returned promise then resolves to `undefined`.
 */
export async function runCluster(options: ClusterOptions): Promise<Cluster | undefined> {
  let cluster: Cluster;
  try {
    cluster = await startCluster(options);
  } catch (error) {
    const { code, message } = summarize(error);
    // A thread's failure carries the application's own stack (a server module that threw): show where.
    const origin = error instanceof WorkerStartError ? originOf(error.cause as ErrorSummary | undefined) : undefined;
    const where = origin === undefined ? '' : `${origin.replace(/^/gm, '    ')}\n`;
    process.stderr.write(`tls-session-cache: could not start: ${code ? `${code}: ` : ''}${message}\n${where}`);
    process.exitCode = 1;
    return undefined;
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    cluster.logger.info({ signal }, 'signal received');
    cluster.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        cluster.logger.error({ err: summarize(error) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const onOperatorSignal = (signal: NodeJS.Signals): void => {
    cluster.logger.info({ signal }, 'signal received');
    try {
      if (signal === 'SIGUSR1') cluster.rotateTicketKeys();
      else cluster.flush();
    } catch (error) {
      cluster.logger.error({ err: summarize(error), signal }, signal === 'SIGUSR1' ? 'rotation failed' : 'flush failed');
    }
  };
  process.on('SIGUSR1', onOperatorSignal);
  process.on('SIGUSR2', onOperatorSignal);
  return cluster;
}

/**
 * The server module's URL; a `file:` module must exist, so that a typo fails
 * here rather than in every thread.
 */
function moduleUrl(server: unknown): string {
  if (!(server instanceof URL) && (typeof server !== 'string' || server === '')) {
    throw new InvalidOptionError('server', `expected a module path or URL, got ${describe(server)}`);
  }
  const url =
    server instanceof URL
      ? server
      : /^[a-z][a-z0-9+.-]*:/i.test(server) && !/^[a-z]:[\\/]/i.test(server)
        ? new URL(server)
        : pathToFileURL(resolvePath(server));
  if (url.protocol === 'file:' && !isFile(url)) {
    throw new ServerModuleError(String(server), `No such server module: ${fileURLToPath(url)}`);
  }
  return url.href;
}

function isFile(url: URL): boolean {
  try {
    return statSync(url).isFile();
  } catch {
    return false;
  }
}

