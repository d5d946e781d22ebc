/**
 * The cache's side of a worker process: one per process, made by the
 * first `attachSharedCache()`. It finds the owner of the table and the
 * ticket key ring and connects to it over the owner's Unix socket
 * (`owner/socket-channel.ts`):
 *
 * - a `node:cluster` worker asks its primary where the primary's socket is,
 *   over the cluster's IPC channel, when the primary runs
 *   `startClusterCache()`. Unanswered within `helloTimeout`, it uses a
 *   daemon that runs at the deployment's socket (starting none), keeps
 *   asking now and then, and moves to the primary's socket once it answers;
 * - any other process (a PM2 instance, whose primary is PM2's; a systemd
 *   unit; a plain process) connects to the deployment's socket
 *   (`TLS_CACHE_SOCKET`), where the cache daemon answers, and starts the
 *   daemon when none does.
 *
 * The owner's hello gives the settings every process must use
 * (`runtime/worker-settings.ts`) and the ring. If no hello comes within
 * `helloTimeout`, the process serves anyway, never stalled: with its own
 * settings (its environment), a ticket key of its own and its local copy;
 * it keeps looking for the owner and takes its ring when it answers. The
 * same happens when the owner goes away and comes back (a restarted
 * daemon has new keys: the process takes them).
 *
 * It then keeps what the owner pushes (new ticket keys, flushes, sessions
 * ended by a fatal alert, the session IDs its table holds:
 * `owner/id-filter.ts`), gives its servers one store of levels (its local
 * copy, the owner's table, and Redis over a connection of its own when the
 * deployment shares sessions through it) and ships this process's counts
 * to the owner. Every message is checked (`owner/messages.ts`); one
 * that fails is counted (`ownerMalformed`) and dropped.
 *
 * @module
 */
import { probeNodeCapabilities } from '../tls/node-capabilities.ts';
import { knownNodeCapabilities, NAMES_LATE_WARNING, reportNodeCapabilities, sessionNamesLate } from '../tls/known-capabilities.ts';
import cluster from 'node:cluster';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { COUNTER_NAMES, SharedCounters } from '../operations/counters.ts';
import { loadConfig } from '../config/load.ts';
import type { CacheConfig } from '../config/settings.ts';
import {
  O_COUNTS,
  O_DELETE,
  O_FILTER,
  O_FLUSH,
  O_GOT,
  O_HELLO,
  O_KEYS,
  O_OWNER,
  O_SET_DONE,
  O_STORED,
  W_COUNTS,
  W_CERTIFICATE,
  MAX_CERTIFICATES,
  W_HELLO,
  W_PROCESS,
  type ToOwner,
  type ToWorker,
} from '../owner/messages.ts';
import { OwnerLevel } from '../owner/owner-level.ts';
import { FilterCopy } from '../owner/id-filter.ts';
import { SocketChannel } from '../owner/socket-channel.ts';
import { ownerAt, socketPathOf } from '../owner/socket-path.ts';
import type { LevelledStore } from '../store/levelled-store.ts';
import { localCopyLevel } from '../store/memory-levels.ts';
import { LocalSessions } from '../store/local-sessions.ts';
import { askPrimary } from './ask-primary.ts';
import { attachRuntime, type RuntimeBinding } from '../runtime/attach-runtime.ts';
import { createStore, type RuntimeStore } from '../runtime/create-store.ts';
import type { WorkerSettings } from '../runtime/worker-settings.ts';
import { unboundWarning } from '../runtime/certificate-binding.ts';
import { TicketKeyRing } from '../tickets/key-ring.ts';
import { readNginxKeyFiles } from '../tickets/nginx-keys.ts';
import type { TicketKeyRingState } from '../tickets/ring-state.ts';
import type { TicketKeyBinding } from '../tickets/attach-ticket-keys.ts';

/** How often this process's counts go to the owner, in ms (and whenever the owner asks). */
const COUNTS_INTERVAL_MS = 1000;
/** The owner's absence is logged at most this often (a busy owner may miss the bound now and then). */
const ABSENCE_LOG_INTERVAL_MS = 60_000;
/** How long the first attach waits for an owner's hello while none is connected (one being started), in ms. */
const NO_OWNER_WAIT_MS = 1000;
/** How often this process's own ring is ticked while no owner gave it keys (its key rotates as the owner's would). */
const OWN_RING_TICK_MS = 1000;

/** Options of {@link ProcessWorker.connect}. */
export interface ProcessWorkerOptions {
  /** How long to wait for the primary's answer over IPC, and then for the owner's hello, in ms. */
  helloTimeout: number;
  /** The logger; @defaultValue pino to standard output at the `logLevel` in force. */
  logger: Logger | undefined;
  /** This process's settings, used until an owner answers. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
}

let connecting: Promise<ProcessWorker> | undefined;
/** Finds the owner and makes the process's worker; set by {@link ProcessWorker}'s static block, so its constructor stays private. */
let start: (options: ProcessWorkerOptions) => Promise<ProcessWorker>;

/** Whether this process runs under PM2 (it sets `pm_id` for every process it starts): its primary is PM2's own. */
function underPm2(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.pm_id !== undefined && env.pm_id !== '';
}

/** See the module's documentation. */
export class ProcessWorker {
  /** The settings in force: the owner's, or this process's own when no owner answered in time. */
  readonly settings: WorkerSettings;
  /** The owner's table over its socket: the store's second level. */
  readonly ipc: OwnerLevel;
  /**
   * The store behind every server of this process, three levels each
   * bounded in time: the local copy (synchronous), the owner's table
   * (within `TLS_CACHE_OWNER_TIMEOUT`, skipped at once while the owner is
   * absent), and Redis over this process's own connection when the
   * deployment has one (within `TLS_CACHE_REDIS_TIMEOUT`). A session found
   * below the local copy is copied into the faster levels; a new one goes
   * to all; one ended by a fatal alert leaves all, and every host.
   */
  readonly store: LevelledStore;
  /** This process's local copy of sessions. */
  readonly local: LocalSessions;
  /** This process's copy of the owner's ticket key ring; `undefined` when tickets are off. */
  readonly ticketKeys: TicketKeyRing | undefined;
  /** This process's counts (shipped to the owner as deltas). */
  readonly counters: SharedCounters;
  readonly logger: Logger;
  /** The owner's socket. */
  readonly socketPath: string;

  #shipped: number[] = COUNTER_NAMES.map(() => 0);
  /** Every attached server, and those that have listened: once all have listened and closed, the process is shutting down. */
  readonly #servers: TlsServer[] = [];
  readonly #listened = new WeakSet<TlsServer>();
  #left = false;
  readonly #tickets: TicketKeyBinding[] = [];
  /** Every attached server's certificate binding: announced to each owner this process connects to. */
  /** Per attached server: the fingerprints of the certificates it serves. */
  readonly #certificates: Array<RuntimeBinding['certificates']> = [];
  #absenceLoggedAt = -Infinity;
  #absenceLogged = false;
  readonly #timer: NodeJS.Timeout;
  /** While no owner gave keys: ticks this process's own ring. */
  #ownRingTimer: NodeJS.Timeout | undefined;
  /**
   * The owner connected now said hello with this process's settings: only
   * then do lookups, sessions, counts and certificates go to it. False
   * until its hello, after it disconnects, and for an owner whose settings
   * are not this process's (refused: this process serves on its own, and
   * asks again when it reconnects, to a restarted daemon say).
   */
  #accepted = false;
  /** The last hello was refused (said once per refusal, not at every reconnection). */
  #refusedLogged = false;
  /** The store as made, with Redis: this process's own connection. */
  readonly #made: RuntimeStore<LevelledStore>;
  readonly #channel: SocketChannel;
  /** The owner's filter of stored IDs, arriving after its hello; the complete one goes to {@link ipc}. */
  readonly #filterCopy = new FilterCopy();

  private constructor(
    settings: WorkerSettings,
    ring: TicketKeyRing | undefined,
    counters: SharedCounters,
    logger: Logger,
    channel: SocketChannel,
    socketPath: string,
  ) {
    const { config } = settings;
    this.settings = settings;
    this.ticketKeys = ring;
    this.counters = counters;
    this.logger = logger;
    this.socketPath = socketPath;
    this.#channel = channel;
    this.local = new LocalSessions(config.localSize);
    this.ipc = new OwnerLevel({
      ownerTimeout: config.ownerTimeout,
      counters,
      send: (message) => this.#send(message),
      onAbsent: () => {
        // Once per absence, and at most once a minute when a busy owner keeps coming and going.
        const now = Date.now();
        if (now - this.#absenceLoggedAt < ABSENCE_LOG_INTERVAL_MS) return;
        this.#absenceLoggedAt = now;
        this.#absenceLogged = true;
        this.logger.warn(
          { ownerTimeoutMs: config.ownerTimeout, ownerTimeouts: counters.get('ownerTimeouts') },
          'the cache owner did not answer a session lookup in time: lookups are misses (full handshakes) until it answers again',
        );
      },
      onBack: () => {
        if (!this.#absenceLogged) return;
        this.#absenceLogged = false;
        this.logger.info({ ownerTimeouts: counters.get('ownerTimeouts') }, 'the cache owner answers session lookups again');
      },
    });
    this.#made = createStore({ host: [localCopyLevel(this.local, () => counters.add('localHits')), this.ipc], config, counters, logger });
    this.store = this.#made.store;
    this.#timer = setInterval(() => this.#shipCounts(0), COUNTS_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * The process's worker, made on the first call: finds the owner and
   * waits for its hello, at most `helloTimeout` ms for each step (see the
   * module's documentation); never fails for want of an owner.
   * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a bad `TLS_CACHE_*` variable.
   * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the default socket path is too long.
   */
  static connect(options: ProcessWorkerOptions): Promise<ProcessWorker> {
    connecting ??= start(options).catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  }

  /**
   * Attaches the store and this process's ticket key ring to `server`,
   * counting its handshakes (see `runtime/attach-runtime.ts`).
   * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`) when the server's `sessionTimeout` is not the deployment's timeout.
   * @throws SessionIdContextMismatchError (`ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH`) when its `sessionIdContext` is not the deployment's.
   * @throws TicketsNotDisabledError (`ERR_TLS_CACHE_TICKETS_NOT_DISABLED`) when tickets are off and the server would issue its own.
   */
  attach(server: TlsServer): RuntimeBinding {
    const { config, ticketMode } = this.settings;
    const attached = attachRuntime(server, {
      store: this.store,
      ticketKeys: this.ticketKeys,
      ticketMode,
      counters: this.counters,
      logger: this.logger,
      sessionIdContext: config.sessionIdContext,
      onCertificates: () => this.#sendCertificates(),
    });
    this.#servers.push(server);
    if (server.listening) this.#listened.add(server);
    else server.once('listening', () => this.#listened.add(server));
    this.#certificates.push(attached.certificates);
    this.#sendCertificates();
    if (attached.tickets !== undefined) this.#tickets.push(attached.tickets);
    warnOnce(this.logger, attached);
    return attached;
  }

  /**
   * Whether this process is shutting down: it is leaving its `node:cluster`
   * primary, or every server attached has listened and closed since. Such
   * a process never starts a cache daemon (it would outlive it).
   */
  get shuttingDown(): boolean {
    return this.#left || (this.#servers.length > 0 && this.#servers.every((server) => this.#listened.has(server) && !server.listening));
  }

  /** Acts on one checked message from the owner. Never throws: a ring that does not fit counts as malformed. */
  handle(message: ToWorker): void {
    try {
      switch (message.op) {
        case O_GOT:
          if (this.ipc.answer(message.request, message.session, message.expired) === 'unknown') this.counters.add('ownerMalformed');
          return;
        case O_KEYS:
          this.#loadKeys(message.keys);
          this.logger.debug({ ticketKeys: this.ticketKeys?.stats() }, 'ticket keys updated by the owner');
          return;
        case O_FLUSH:
          this.logger.debug({ sessions: this.local.clear() }, 'local copy flushed by the owner');
          return;
        case O_DELETE:
          // A session another process saw end in a fatal alert: this process's copy and waiting write go.
          this.store.forget(message.id);
          return;
        case O_COUNTS:
          this.#shipCounts(message.request);
          return;
        case O_HELLO:
          this.#hello(message.settings, message.keys);
          return;
        case O_OWNER:
          // Only ever sent over IPC.
          this.counters.add('ownerMalformed');
          return;
        case O_FILTER: {
          const filter = this.#filterCopy.push(message.offset, message.total, message.bits, this.settings.config.sessionTimeout * 1000);
          if (filter === 'malformed') this.counters.add('ownerMalformed');
          else if (filter !== undefined && this.#accepted) this.ipc.filter = filter;
          return;
        }
        case O_STORED:
          for (const id of message.ids) this.ipc.filter?.add(id);
          return;
        case O_SET_DONE:
          this.ipc.handled(message.ids);
          return;
      }
    } catch {
      // A state that does not fit (TicketKeyRing.load refuses it whole): the keys in use stay.
      this.counters.add('ownerMalformed');
    } finally {
      for (const key of message.op === O_KEYS || message.op === O_HELLO ? (message.keys?.keys ?? []) : []) key.key.fill(0);
    }
  }

  /** A connection to the owner opened: say hello (its answer gives the settings, to check, and the ring). */
  connected(): void {
    this.#accepted = false;
    this.#forgetFilter();
    this.#channel.send({ op: W_HELLO });
    this.#channel.send({ op: W_PROCESS, pid: process.pid });
  }

  /**
   * This process is going away (its `node:cluster` channel closed: a
   * restart, PM2's reload or stop): the connection to the owner and to
   * Redis close, so that nothing of the cache keeps the process alive.
   */
  leave(): void {
    this.#left = true;
    clearInterval(this.#timer);
    clearInterval(this.#ownRingTimer);
    this.#shipCounts(0);
    this.#channel.close();
    this.ipc.abandon();
    this.#made.close();
    if (cluster.worker?.exitedAfterDisconnect === true || underPm2()) {
      this.logger.debug('the IPC channel to the primary closed: this worker is disconnecting; its connections to the cache closed');
      return;
    }
    this.logger.warn(
      "the IPC channel to the primary closed: lookups are misses and the local copy serves; Node's cluster module ends a worker process whose primary went away unless it is disconnecting on purpose",
    );
  }

  /** The connection to the owner closed: waiting lookups end as misses now. */
  disconnected(): void {
    this.#accepted = false;
    this.#forgetFilter();
    this.ipc.abandon();
    if (cluster.worker?.exitedAfterDisconnect === true) return;
    this.logger.warn({ socket: this.socketPath }, 'the connection to the cache owner closed: lookups are misses and the local copy serves until it is back');
  }

  /** The owner's hello after a (re)connection: its settings must be this process's; its ring replaces this one's. */
  #hello(settings: WorkerSettings, keys: TicketKeyRingState | undefined): void {
    const ours = this.settings.config;
    const theirs = settings.config;
    if (!agree(ours, theirs)) {
      this.#accepted = false;
      if (this.#refusedLogged) return;
      this.#refusedLogged = true;
      this.logger.error(
        { socket: this.socketPath, ours: { sessionTimeout: ours.sessionTimeout, sessionIdContext: ours.sessionIdContext, tickets: ours.tickets }, owner: { sessionTimeout: theirs.sessionTimeout, sessionIdContext: theirs.sessionIdContext, tickets: theirs.tickets } },
        "the cache owner's settings are not this process's: not using it, serving on this process's own (give every process of the deployment the same TLS_CACHE_SESSION_TIMEOUT, TLS_CACHE_SESSION_ID_CONTEXT and TLS_CACHE_TICKETS; the default socket follows them, but with TLS_CACHE_SOCKET set a deploy that changes them must stop the old daemon: tls-resumption daemon --stop)",
      );
      return;
    }
    this.#accepted = true;
    this.#refusedLogged = false;
    if (keys !== undefined) this.#loadKeys(keys);
    // Certificates announced before this connection are announced again, to this owner.
    this.#sendCertificates();
    logAttached(this.logger, this.#channel.socketPath);
  }

  /** Until the (next) owner's filter is complete, every lookup goes to it. */
  #forgetFilter(): void {
    this.ipc.filter = undefined;
    this.#filterCopy.reset();
  }

  #loadKeys(keys: TicketKeyRingState): void {
    if (this.ticketKeys === undefined) {
      this.counters.add('ownerMalformed');
      return;
    }
    this.ticketKeys.load(keys);
    // The owner's ring rotates: this process's own stops ticking.
    clearInterval(this.#ownRingTimer);
    this.#ownRingTimer = undefined;
    // Fallback servers (one key at a time) take the new key now rather than at their next poll.
    for (const tickets of this.#tickets) tickets.refresh();
  }

  /** Sends the counts since the last shipment (when any, or when asked). */
  #shipCounts(request: number): void {
    const values = this.counters.values();
    const now = COUNTER_NAMES.map((name) => values[name]);
    const deltas = now.map((value, i) => value - this.#shipped[i]);
    if (request === 0 && deltas.every((d) => d === 0)) return;
    if (this.#send({ op: W_COUNTS, request, deltas })) this.#shipped = now;
  }

  /** Tells the owner every certificate this process's servers serve (announced to the other hosts with Redis). */
  #sendCertificates(): void {
    const fingerprints = [...new Set(this.#certificates.flatMap((certificates) => certificates()))];
    this.#send({ op: W_CERTIFICATE, fingerprint: fingerprints.slice(0, MAX_CERTIFICATES).join(',') });
  }

  /** Sends to the owner once it accepted it; false otherwise (a lookup then misses at once). */
  #send(message: ToOwner): boolean {
    return this.#accepted && this.#channel.send(message);
  }

  static {
    start = async (options) => {
      const env = options.env ?? process.env;
      const own = loadConfig({}, env);
      const counters = SharedCounters.create();
      // The format is this process's own (its standard output may be a terminal).
      const logger = options.logger ?? createLogger({ level: own.logLevel, ...resolveLogFormat(own) });
      // What this Node supports, checked while the owner is asked (once per process; said once).
      const capabilities = probeNodeCapabilities().then((found) => reportNodeCapabilities(logger, found));
      let socketPath: string;
      let startDaemon: boolean;
      // A primary that answers after helloTimeout (it started its cache after forking, slowly): its socket from then on.
      let late: ((socket: string) => void) | undefined;
      let lateSocket: string | undefined;
      const clusterWorker = cluster.isWorker && typeof process.send === 'function' && !underPm2(env);
      const onLate = (socket: string): void => (late === undefined ? void (lateSocket = socket) : late(socket));
      const primary = clusterWorker ? await askPrimary(options.helloTimeout, counters, onLate) : undefined;
      if (primary !== undefined) {
        socketPath = primary;
        startDaemon = false;
      } else {
        socketPath = socketPathOf(own, env);
        // A cluster worker uses a daemon that runs (an operator's), but starts none: its primary may still answer.
        startDaemon = !clusterWorker;
        if (clusterWorker) {
          logger.warn(
            { helloTimeoutMs: options.helloTimeout, socket: socketPath },
            "the node:cluster primary did not answer: serving with the host's cache daemon if one runs, else on this process's own, until it does (call startClusterCache() in the primary, before forking)",
          );
        }
      }
      let worker: ProcessWorker | undefined;
      let first: { settings: WorkerSettings; keys: TicketKeyRingState | undefined } | undefined;
      // The owner's filter and the IDs it stored, sent after its first hello while the worker is being made.
      const early: ToWorker[] = [];
      let answered: () => void = () => {};
      const gotHello = new Promise<void>((resolve) => {
        answered = resolve;
      });
      const channel = new SocketChannel({
        socketPath,
        startDaemon,
        mayStartDaemon: () => worker === undefined || !worker.shuttingDown,
        env,
        maxSessionSize: () => worker?.settings.config.maxSessionSize ?? own.maxSessionSize,
        counters,
        logger,
        onConnected: () => {
          if (worker !== undefined) worker.connected();
          else {
            channel.send({ op: W_HELLO });
            // Who this is, for `tls-resumption status`.
            channel.send({ op: W_PROCESS, pid: process.pid });
          }
        },
        onDisconnected: () => worker?.disconnected(),
        onMessage: (message) => {
          if (worker !== undefined) {
            worker.handle(message);
          } else if (message.op === O_HELLO && first === undefined) {
            first = { settings: message.settings, keys: message.keys };
            answered();
          } else if ((message.op === O_FILTER || message.op === O_STORED) && first !== undefined) {
            early.push(message);
          } else {
            // Before the worker is made only the hello is expected; the owner pushes what changes again later.
            for (const key of message.op === O_KEYS || message.op === O_HELLO ? (message.keys?.keys ?? []) : []) key.key.fill(0);
          }
        },
      });
      // An owner that accepted the connection answers within milliseconds: wait for it up to helloTimeout. With none
      // connected (a daemon being started), wait no more than NO_OWNER_WAIT_MS: the process listens with keys of
      // its own meanwhile, and takes the owner's as soon as it answers.
      const deadline = Date.now() + options.helloTimeout;
      const waitFor = (ms: number): Promise<unknown> => {
        let timer: NodeJS.Timeout | undefined;
        return Promise.race([gotHello, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
      };
      await waitFor(Math.min(options.helloTimeout, NO_OWNER_WAIT_MS));
      while (first === undefined && channel.connected && Date.now() < deadline) await waitFor(Math.min(50, deadline - Date.now()));
      let hello = first;
      // The daemon serves processes that each bring their settings (a deploy may change them): an owner whose settings
      // are not this process's is not used. A node:cluster primary's settings win (its workers inherit its environment).
      const refused = hello !== undefined && startDaemon && !agree(own, hello.settings.config);
      if (refused) hello = undefined;
      let ring: TicketKeyRing | undefined;
      let settings: WorkerSettings;
      if (hello !== undefined) {
        settings = hello.settings;
        try {
          ring = hello.keys === undefined ? undefined : TicketKeyRing.restore(hello.keys);
        } finally {
          for (const key of hello.keys?.keys ?? []) key.key.fill(0);
        }
      } else {
        settings = { config: Object.freeze(own), ticketMode: 'auto' };
        // With nginx key files, this process's keys are the deployment's already (the files were checked by loadConfig).
        const keys = own.ticketKeyFile === '' ? undefined : readNginxKeyFiles(own.ticketKeyFile.split(','));
        ring = own.tickets === 'on' ? TicketKeyRing.create({ timeout: own.sessionTimeout, rotate: own.ticketRotate, keys }) : undefined;
        if (!refused) logger.warn(
          { helloTimeoutMs: options.helloTimeout, socket: socketPath },
          'no cache owner answered in time: serving with this process\'s own ticket key and local copy (full handshakes across processes) until it does; still looking for it',
        );
      }
      const made = new ProcessWorker(settings, ring, counters, logger, channel, socketPath);
      if (hello === undefined && ring !== undefined) {
        made.#ownRingTimer = setInterval(() => ring.tick(), OWN_RING_TICK_MS);
        made.#ownRingTimer.unref();
      }
      worker = made;
      made.#accepted = hello !== undefined && made.#channel.connected;
      for (const message of early.splice(0)) made.handle(message);
      late = (socket) => {
        if (socket === channel.socketPath) return;
        logger.info({ socket }, 'the node:cluster primary answered: using its cache from now on');
        channel.moveTo(socket);
      };
      if (lateSocket !== undefined) late(lateSocket);
      // A node:cluster worker (PM2's instances too) whose channel closes is leaving: let it. Before Node's own
      // handler, which ends a worker whose primary went away.
      if (cluster.isWorker) process.prependOnceListener('disconnect', () => made.leave());
      // The hello may have come while the worker was made (it is made from the first one), or was refused: said now.
      if (hello === undefined && first !== undefined) {
        made.#hello(first.settings, first.keys);
        for (const key of first.keys?.keys ?? []) key.key.fill(0);
      }
      // The first handshakes should find Redis (its connection, or a Redis Cluster's masters, still opening); not for long.
      await made.#made.ready();
      // One line: which owner this process uses (the warnings above said when none). The settings hold secrets: only whether there is a Redis, and its mode.
      if (hello !== undefined) logAttached(logger, socketPath, { ticketKeys: ring?.stats(), redis: settings.config.redisUrl === '' ? undefined : settings.config.redisMode });
      // Servers are attached only once this Node's capabilities are known: nothing is used that does not work.
      await capabilities;
      return made;
    };
  }
}

/** The one info line of an attach: the owner this process uses, and its pid. */
function logAttached(logger: Logger, socketPath: string, more: Record<string, unknown> = {}): void {
  const { owner, pid } = ownerAt(socketPath);
  const name = owner === 'daemon' ? 'the cache daemon' : 'the node:cluster primary';
  logger.info({ owner, ownerPid: pid, socket: socketPath, ...more }, `attached to ${name}${pid === undefined ? '' : ` (pid ${pid})`}`);
}

const warned = new Set<string>();

/** The unbound-certificate warning, once per process (see `runtime/certificate-binding.ts`). */
function warnOnce(logger: Logger, { certificate, sni }: RuntimeBinding): void {
  const { unbound } = certificate;
  // 'internals': the start-up report said so already (certificate_binding off).
  if (unbound !== undefined && unbound !== 'internals' && !warned.has(unbound)) {
    warned.add(unbound);
    logger.warn({ certificate: unbound }, unboundWarning(unbound));
  }
  if (sni !== undefined && sessionNamesLate(knownNodeCapabilities()) && !warned.has('names-late')) {
    warned.add('names-late');
    logger.warn({ sni, node: process.version }, NAMES_LATE_WARNING);
  }
}

/** Whether an owner's settings are this process's where they must be: what its servers were created with, and tickets. */
function agree(ours: Readonly<CacheConfig>, theirs: Readonly<CacheConfig>): boolean {
  return theirs.sessionTimeout === ours.sessionTimeout && theirs.sessionIdContext === ours.sessionIdContext && theirs.tickets === ours.tickets;
}
