/**
 * The cluster runtime: one primary thread owns the shared session table and
 * keeps N server threads running, all listening on one port through
 * `listen({ port, reusePort: true })`, all resuming each other's sessions.
 *
 * ```ts
 * // main.ts
import { runThreadCluster } from 'tls-resumption';
 * await runThreadCluster({ server: new URL('./server.ts', import.meta.url), port: 8443 });
 *
 * // server.ts: runs in every worker thread
 * export default ({ serverOptions }: ServerContext) =>
 *   https.createServer({ key, cert, ...serverOptions }, handler);
 * ```
 *
 * Ticket keys: with tickets on (`TLS_CACHE_TICKETS`, the default) the
 * primary also owns the ticket key ring (`tickets/key-ring.ts`), rotates it every
 * `ticketRotate` ms and erases keys once no ticket under them can be valid;
 * {@link ThreadCluster.rotateTicketKeys} rotates now and {@link ThreadCluster.flush}
 * drops every session and every key; `runThreadCluster` (`run-cluster.ts`) maps
 * them to SIGUSR1 and SIGUSR2.
 *
 * Reloads: {@link ThreadCluster.reload} replaces every worker thread, one at a
 * time, by one that imports the server module afresh (`reload.ts`);
 * `runThreadCluster` maps it to SIGHUP. The table and the ring stay.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { probeNodeCapabilities } from '../tls/node-capabilities.ts';
import { knownNodeCapabilities, NAMES_LATE_WARNING, reportNodeCapabilities, sessionNamesLate } from '../tls/known-capabilities.ts';
import type { Logger } from 'pino';
import type { ServerThreadData } from './messages.ts';
import { workerSettings } from '../runtime/worker-settings.ts';
import { ThreadHandle } from './thread-handle.ts';
import { DEFAULT_START_TIMEOUT_MS, rollingReload, type ReloadOptions, type ReloadResult } from './reload.ts';
import { MIGRATE_REQ_WARNING, tcpMigrateReq } from './migrate-req.ts';
import { unboundWarning } from '../runtime/certificate-binding.ts';
import { configForLog } from '../config/redact.ts';
import type { CacheConfig } from '../config/settings.ts';
import { warnOfUnknownSettings } from '../config/unknown-settings.ts';
import { freePort } from './free-port.ts';
import { InvalidOptionError, ReloadAbortedError, ReusePortUnsupportedError, WorkerStartError } from '../errors.ts';
import type { SharedCounters } from '../operations/counters.ts';
import type { SessionHookCounters } from '../tls/session-hooks.ts';
import { CachePrimary, type FlushResult } from '../runtime/cache-primary.ts';
import { SerialRuns } from '../runtime/serial-runs.ts';
import { checkClusterOptions, type ThreadClusterOptions } from './cluster-options.ts';
import { probeReusePort } from './reuse-port.ts';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { describe, summarize, type ErrorSummary } from '../describe.ts';
import type { SessionTable } from '../table/session-table.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';
import type { TicketCounters } from '../tickets/ticket-counters.ts';
import { renewalState } from '../tickets/ticket-links.ts';
import { dirname } from 'node:path';
import { socketPathOf } from '../owner/socket-path.ts';
import { listenForStatus, threadStatusPath, type StatusSocket } from '../owner/status-socket.ts';
import { warnOfOtherRuntimes } from '../owner/same-port.ts';

export type { FlushResult } from '../runtime/cache-primary.ts';
export type { ReloadOptions, ReloadResult, WorkerReplacement } from './reload.ts';
export type { ThreadClusterOptions } from './cluster-options.ts';

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

/** Events of a {@link ThreadCluster}. */
export interface ThreadClusterEvents {
  /** A worker thread (first, restarted, or a reload's new one as it takes over its slot) is listening. */
  workerListening: [WorkerInfo];
  /** A worker thread ended unexpectedly; it will be restarted. */
  workerExit: [WorkerExit];
}

/** One worker's place in the cluster, across restarts and reloads. */
class WorkerSlot {
  readonly workerId: number;
  /** The thread serving this slot now (a reload's new one once it committed), or `undefined` while it is down. */
  current: ThreadHandle | undefined;
  restarts = 0;
  /** Crashes in a row, each within `maxRestartDelay` of its start. */
  quickCrashes = 0;
  restartTimer: NodeJS.Timeout | undefined;

  constructor(workerId: number) {
    this.workerId = workerId;
  }

  info(): WorkerInfo {
    return {
      workerId: this.workerId,
      threadId: this.current?.threadId ?? -1,
      restarts: this.restarts,
      listening: this.current?.listening ?? false,
    };
  }
}

/** What {@link startThreadCluster} prepares for a {@link ThreadCluster} before its threads start. */
interface ClusterParts {
  port: number;
  primary: CachePrimary;
  threadData: Omit<ServerThreadData, 'workerId'>;
  execArgv: string[] | undefined;
  /** The deployment's socket, beside which the status socket goes (`owner/status-socket.ts`); `undefined`: none. */
  deploymentSocket: string | undefined;
}

/** Makes a cluster and starts its threads; set by {@link ThreadCluster}'s static block, so its constructor stays private. */
let launch: (parts: ClusterParts) => Promise<ThreadCluster>;

/**
 * A running cluster. Made by {@link startThreadCluster}; ended by {@link ThreadCluster.stop}.
 */
export class ThreadCluster extends EventEmitter<ThreadClusterEvents> {
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
  /** Every thread alive: the slots' current ones, and a reload's new or old ones. */
  readonly #threads = new Set<ThreadHandle>();
  readonly #threadData: Omit<ServerThreadData, 'workerId'>;
  readonly #execArgv: string[] | undefined;
  readonly #deploymentSocket: string | undefined;
  /** Where `tls-resumption status` finds this runtime, once it listens. */
  #statusSocket: StatusSocket | undefined;
  #started = false;
  #stopping: Promise<void> | undefined;
  readonly #reloads = new SerialRuns<ReloadResult>();
  readonly #warned = new Set<string>();

  private constructor({ port, primary, threadData, execArgv, deploymentSocket }: ClusterParts) {
    super();
    this.#deploymentSocket = deploymentSocket;
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
      for (const thread of this.#threads) thread.post({ type: 'ticket-keys' });
    });
  }

  static {
    launch = async (parts) => {
      const cluster = new ThreadCluster(parts);
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
    return { configured: this.#slots.length, listening: this.#slots.filter((slot) => slot.current?.listening === true).length };
  }

  /** The certificates of the threads listening now (during a reload, the old and the new ones). */
  #certificates(): string[] {
    return [...new Set([...this.#threads].flatMap((thread) => (thread.listening && thread.notes?.certificate !== undefined ? thread.notes.certificate.split(',') : [])))];
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
   * Replaces every worker thread, one at a time, by a new one that imports
   * the server module afresh (new code, new certificate files): each new
   * thread listens before any old one stops accepting, and the old ones
   * drain within `shutdownTimeout`. The session table and the ticket keys
   * stay. Fails as a whole: if a new thread fails, every new thread is
   * stopped and the old ones go on serving (see `threads/reload.ts`).
   *
   * Asked again while a reload runs, it starts one more reload once that
   * one ended (further calls meanwhile join that one), so that files
   * changed after the first began are loaded too.
   *
   * @throws ReloadFailedError (`ERR_TLS_CACHE_RELOAD_FAILED`) when a new thread failed; nothing changed.
   * @throws ReloadAbortedError (`ERR_TLS_CACHE_RELOAD_ABORTED`) when the cluster is stopping, or began to during the reload.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a bad option.
   */
  reload(options: ReloadOptions = {}): Promise<ReloadResult> {
    if (options === null || typeof options !== 'object') {
      return Promise.reject(new InvalidOptionError('options', `expected an object, got ${describe(options)}`));
    }
    const { startTimeout = DEFAULT_START_TIMEOUT_MS } = options;
    if (!Number.isInteger(startTimeout) || startTimeout < 1 || startTimeout > 2 ** 31 - 1) {
      return Promise.reject(new InvalidOptionError('startTimeout', `expected whole milliseconds from 1 to 2147483647, got ${describe(startTimeout)}`));
    }
    // Checked now, and again when a queued reload starts.
    const start = (): Promise<ReloadResult> => {
      if (this.#stopping === undefined) return this.#reload(startTimeout);
      this.#primary.countReload('aborted');
      return Promise.reject(new ReloadAbortedError('The cluster is stopping: no reload'));
    };
    if (this.#stopping !== undefined) return start();
    return this.#reloads.run(
      start,
      () => this.logger.info('reload requested during a reload: another one follows it'),
    );
  }

  async #reload(startTimeout: number): Promise<ReloadResult> {
    this.logger.info({ workers: this.#slots.length, startTimeoutMs: startTimeout }, 'reloading: starting a new thread per worker');
    this.#warnOfMigration();
    try {
      const result = await rollingReload(
        {
          logger: this.logger,
          workers: this.#slots.length,
          shutdownTimeout: this.config.shutdownTimeout,
          stopping: () => this.#stopping !== undefined,
          launch: (workerId) => this.#launch(workerId),
          swap: (workerId, thread) => this.#swap(this.#slots[workerId - 1], thread),
        },
        startTimeout,
      );
      this.#primary.countReload('succeeded');
      return result;
    } catch (error) {
      if (error instanceof ReloadAbortedError) {
        this.#primary.countReload('aborted');
        this.logger.warn({ err: summarize(error) }, 'reload aborted: the cluster is stopping');
      } else {
        this.#primary.countReload('failed');
        const workerId = (error as { workerId?: unknown }).workerId;
        // The new thread's own failure, with the server module's stack: what a person needs to fix it.
        const start = (error as { cause?: unknown }).cause;
        const thread = start instanceof WorkerStartError ? (start.cause as ErrorSummary | undefined) : undefined;
        this.logger.error({ err: summarize(error), workerId, thread }, 'reload failed: the running workers go on serving');
      }
      throw error;
    }
  }

  /** Once per cluster: a reload closes listening sockets, whose queued connections the kernel resets unless it migrates them. */
  #warnOfMigration(): void {
    const migrate = tcpMigrateReq();
    if (migrate === 'on' || migrate === 'unknown' || this.#warned.has('migrate')) return;
    this.#warned.add('migrate');
    this.logger.warn({ tcpMigrateReq: migrate }, MIGRATE_REQ_WARNING[migrate]);
  }

  /** Makes `thread` the slot's current thread (a reload's commit); returns the one it replaces. */
  #swap(slot: WorkerSlot, thread: ThreadHandle): ThreadHandle | undefined {
    const previous = slot.current;
    clearTimeout(slot.restartTimer);
    slot.restartTimer = undefined;
    slot.current = thread;
    slot.quickCrashes = 0;
    this.emit('workerListening', slot.info());
    return previous;
  }

  /**
   * Stops gracefully: every worker stops accepting, open connections get
   * `shutdownTimeout` ms to finish (idle HTTP keep-alive connections and
   * HTTP/2 sessions are closed at once), then remaining threads are
   * terminated. A reload under way ends as aborted. Resolves when every
   * thread has ended. Calling it again returns the same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#primary.stopTimers();
    await this.#statusSocket?.close();
    const live = [...this.#threads];
    for (const slot of this.#slots) clearTimeout(slot.restartTimer);
    this.logger.info(
      { workers: live.length, shutdownTimeoutMs: this.config.shutdownTimeout },
      'stopping: accepting no new connections, letting open ones finish',
    );
    for (const thread of live) thread.stop();
    const allExited = Promise.all(live.map((thread) => thread.exited));
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      allExited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.config.shutdownTimeout);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      const remaining = live.filter((thread) => !thread.ended);
      this.logger.warn({ workers: remaining.map((thread) => thread.workerId) }, 'shutdown timeout: closing the connections still open');
    }
    // Whatever is left, and any thread a reload started meanwhile: none outlives the stop.
    await Promise.all([...this.#threads].map((thread) => thread.terminate()));
    await this.#reloads.running?.catch(() => undefined);
    await this.#primary.close();
    this.logger.info('stopped');
  }

  async #startAll(): Promise<void> {
    await this.#primary.start({ workers: () => this.#workerCounts(), certificates: () => this.#certificates(), ports: () => [this.port] });
    const ready = this.#slots.map((slot) => this.#run(slot));
    const failures = (await Promise.allSettled(ready)).filter((r) => r.status === 'rejected');
    if (failures.length > 0) {
      this.#stopping = Promise.resolve();
      await Promise.all([...this.#threads].map((thread) => thread.terminate()));
      await this.#primary.close();
      throw (failures[0] as PromiseRejectedResult).reason;
    }
    this.#started = true;
    await this.#listenForStatus();
    this.logger.info({ port: this.port, workers: this.#slots.length, statusSocket: this.#statusSocket?.path }, 'listening');
    if (this.#deploymentSocket !== undefined) void warnOfOtherRuntimes(this.logger, this.port, dirname(this.#deploymentSocket), this.#statusSocket?.path);
  }

  /** The status socket (`owner/status-socket.ts`); one that cannot be had is a warning, not a failure. */
  async #listenForStatus(): Promise<void> {
    if (this.#deploymentSocket === undefined) return;
    const path = threadStatusPath(this.#deploymentSocket);
    try {
      const socket = await listenForStatus(path, () =>
        this.#primary.status(
          'threads',
          path,
          this.workers().map(({ workerId, threadId, listening }) => ({ pid: process.pid, workerId, threadId, listening })),
        ),
      );
      // Stopped meanwhile (a signal while starting).
      if (this.#stopping !== undefined) await socket.close();
      else this.#statusSocket = socket;
    } catch (error) {
      const { code, message } = summarize(error);
      this.logger.warn({ err: { code, message } }, 'no status socket: tls-resumption status will not find this runtime');
    }
  }

  /** Starts a thread for a slot, tracked until it ends (not yet any slot's current one). */
  #launch(workerId: number): ThreadHandle {
    const thread = new ThreadHandle({ ...this.#threadData, workerId }, this.#execArgv);
    this.#threads.add(thread);
    this.logger.debug({ workerId, threadId: thread.threadId }, 'worker starting');
    void thread.ready.then(() => this.#warnOfNotes(thread), () => undefined);
    void thread.exited.then((exitCode) => this.#onExit(thread, exitCode));
    return thread;
  }

  /** Starts the slot's current thread; resolves when it listens, rejects if it ends first. */
  #run(slot: WorkerSlot): Promise<void> {
    const thread = this.#launch(slot.workerId);
    slot.current = thread;
    return thread.ready.then(() => {
      if (slot.current !== thread) return;
      this.logger.info({ workerId: slot.workerId, threadId: thread.threadId, port: thread.notes?.port, restarts: slot.restarts }, 'worker listening');
      this.emit('workerListening', slot.info());
    });
  }

  /** The unbound-certificate warning, once per cluster (see `runtime/certificate-binding.ts`). */
  #warnOfNotes(thread: ThreadHandle): void {
    const { unbound, sni } = thread.notes ?? {};
    // 'internals': the start-up report said so already (certificate_binding off).
    if (unbound !== undefined && unbound !== 'internals' && !this.#warned.has(unbound)) {
      this.#warned.add(unbound);
      this.logger.warn({ workerId: thread.workerId, certificate: unbound }, unboundWarning(unbound));
    }
    if (sni !== undefined && sessionNamesLate(knownNodeCapabilities()) && !this.#warned.has('names-late')) {
      this.#warned.add('names-late');
      this.logger.warn({ workerId: thread.workerId, sni, node: process.version }, NAMES_LATE_WARNING);
    }
  }

  #onExit(thread: ThreadHandle, exitCode: number): void {
    this.#threads.delete(thread);
    // A thread that died inside a write holds its shard's lock: free and repair it.
    const released = this.table.releaseOwner(thread.threadId + 1);
    const slot = this.#slots[thread.workerId - 1];
    const ranForMs = Date.now() - thread.startedAt;
    const fields = { workerId: slot.workerId, threadId: thread.threadId, exitCode, ranForMs, releasedShards: released, err: failureOf(thread.failure) };
    if (slot.current !== thread) {
      // A reload's: an old thread that drained, or a new one that failed or was stopped.
      this.logger.debug(fields, thread.stopping ? 'worker stopped' : 'worker ended');
      return;
    }
    slot.current = undefined;
    if (this.#stopping !== undefined) {
      this.logger.debug(fields, 'worker stopped');
      return;
    }
    if (!this.#started) {
      // The start fails with this (the first failure) as its error, which the caller reports once: here, a detail.
      this.logger.debug(fields, 'worker failed to start');
      return;
    }
    if (ranForMs >= this.config.maxRestartDelay) slot.quickCrashes = 0;
    const restartInMs = Math.min(this.config.restartDelay * 2 ** Math.min(slot.quickCrashes, 30), this.config.maxRestartDelay);
    slot.quickCrashes++;
    this.logger.error({ ...fields, restartInMs }, 'worker exited unexpectedly; restarting it');
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      // Stopping, or a reload gave the slot a new thread meanwhile.
      if (this.#stopping !== undefined || slot.current !== undefined) return;
      slot.restarts++;
      this.counters.add('workerRestarts');
      this.#run(slot).catch(() => {
        // Its exit was logged and another restart scheduled by #onExit.
      });
    }, restartInMs);
    this.emit('workerExit', { workerId: slot.workerId, threadId: thread.threadId, exitCode, error: thread.failure, restartInMs });
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
 * @throws TicketKeyFileError (`ERR_TLS_CACHE_TICKET_KEY_FILE`) when `ticketKeyFile` is set and a file cannot be read.
 */
export async function startThreadCluster(options: ThreadClusterOptions): Promise<ThreadCluster> {
  const { env, config, applicationVariables, port: requestedPort, host, ticketMode, module } = checkClusterOptions(options);
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
    // What this Node supports (and TLS 1.3 ticket renewal): checked once here, for every server thread (same Node, same OpenSSL).
    const capabilities = await probeNodeCapabilities();
    reportNodeCapabilities(logger, capabilities);
    const renewal = ticketKeys !== undefined && ticketMode === 'auto' ? await settledRenewal() : undefined;
    const threadData = {
      buffer: table.buffer,
      module,
      port,
      host,
      settings: workerSettings(primary.config, ticketMode),
      data: options.data,
      ticketKeys: ticketKeys?.buffer,
      counters: counters.buffer,
      log,
      renewal,
      capabilities,
    };
    let deploymentSocket: string | undefined;
    try {
      deploymentSocket = socketPathOf(config, env);
    } catch (error) {
      logger.warn({ err: summarize(error) }, 'no status socket: tls-resumption status will not find this runtime');
    }
    return await launch({ port, primary, threadData, execArgv: options.execArgv, deploymentSocket });
  } catch (error) {
    await primary.close();
    // Thrown to the caller, who reports it (runThreadCluster: once, on standard error): here, a detail.
    logger.debug({ err: summarize(error) }, 'start failed; every worker was ended');
    throw error;
  }
}

/** The renewal self-test's result in this thread (run here if it has not). */
async function settledRenewal(): Promise<{ state: 'on' | 'off'; reason: string | undefined }> {
  const { renewalSelfTest } = await import('../tickets/renewal-self-test.ts');
  await renewalSelfTest();
  const { state, reason } = renewalState();
  return { state: state === 'on' ? 'on' : 'off', reason };
}

/**
 * A thread's failure for a log line: its code and message, which name the
 * cause already ("failed to load: ENOENT: ..."), and its stack, without
 * the cause chained again (pino's error serializer would append the
 * cause's message to the message a second time).
 */
function failureOf(failure: ErrorSummary | undefined): ErrorSummary | undefined {
  if (failure === undefined) return undefined;
  const { cause: _cause, ...rest } = failure;
  return rest;
}
