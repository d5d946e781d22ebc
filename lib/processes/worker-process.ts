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
 * One owner per concern: the connection, its hello and whether the owner
 * was accepted (`owner/socket-channel.ts`); the store of levels
 * (`runtime/create-store.ts`); the copy of the ticket keys
 * (`ticket-keys-copy.ts`); the counts shipped (`counts-report.ts`). This
 * module finds the owner ({@link findOwner}), waits for its first hello
 * ({@link FirstHello}), and makes the {@link ProcessWorker} that acts on
 * what the owner sends.
 *
 * @module
 */
import { probeNodeCapabilities } from '../tls/node-capabilities.ts';
import { knownNodeCapabilities, NAMES_LATE_WARNING, reportNodeCapabilities, sessionNamesLate } from '../tls/known-capabilities.ts';
import cluster from 'node:cluster';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { SharedCounters } from '../operations/counters.ts';
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
  W_CERTIFICATE,
  W_LISTENING,
  MAX_CERTIFICATES,
  type ToWorker,
} from '../owner/messages.ts';
import { OwnerLevel, type OwnerLevelOptions } from '../owner/owner-level.ts';
import { FilterCopy } from '../owner/id-filter.ts';
import { SocketChannel, type SocketChannelHandler } from '../owner/socket-channel.ts';
import { ownerAt, socketPathOf } from '../owner/socket-path.ts';
import type { LevelledStore } from '../store/levelled-store.ts';
import { LocalSessions } from '../store/local-sessions.ts';
import { askPrimary } from './ask-primary.ts';
import { CountsReport } from './counts-report.ts';
import { TicketKeysCopy } from './ticket-keys-copy.ts';
import { attachRuntime, type RuntimeBinding } from '../runtime/attach-runtime.ts';
import { createStore, type RuntimeStore } from '../runtime/create-store.ts';
import type { WorkerSettings } from '../runtime/worker-settings.ts';
import { unboundWarning } from '../runtime/certificate-binding.ts';
import { TicketKeyRing } from '../tickets/key-ring.ts';
import { readNginxKeyFiles } from '../tickets/nginx-keys.ts';
import { wipeRingState, type TicketKeyRingState } from '../tickets/ring-state.ts';

/** The owner's absence is logged at most this often (a busy owner may miss the bound now and then). */
const ABSENCE_LOG_INTERVAL_MS = 60_000;
/** How long the first attach waits for an owner's hello while none is connected (one being started), in ms. */
const NO_OWNER_WAIT_MS = 1000;

/** Options of {@link ProcessWorker.connect}. */
export interface ProcessWorkerOptions {
  /** How long to wait for the primary's answer over IPC, and then for the owner's hello, in ms. */
  helloTimeout: number;
  /** The logger; @defaultValue pino to standard output at the `logLevel` in force. */
  logger: Logger | undefined;
  /** This process's settings, used until an owner answers. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
}

/** An owner's hello: its settings and ring. */
interface Hello {
  settings: WorkerSettings;
  keys: TicketKeyRingState | undefined;
}

/** What {@link start} found before the worker is made. */
interface Found {
  /** The owner's hello, accepted: its settings and ring are this process's. */
  accepted: boolean;
  /** The first hello, when it was not accepted (refused, or come after the wait): answered once the worker is made. */
  later: Hello | undefined;
  /** The owner's filter and the IDs it stored, sent after its first hello while the worker was being made. */
  early: ToWorker[];
}

let connecting: Promise<ProcessWorker> | undefined;

/** Whether this process runs under PM2 (it sets `pm_id` for every process it starts): its primary is PM2's own. */
function underPm2(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.pm_id !== undefined && env.pm_id !== '';
}

/** See the module's documentation. */
export class ProcessWorker implements SocketChannelHandler {
  /** The settings in force: the owner's, or this process's own when no owner answered in time. */
  readonly settings: WorkerSettings;
  /** The owner's table over its socket: the store's second level. */
  readonly ownerLevel: OwnerLevel;
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

  /** Every attached server, and those that have listened: once all have listened and closed, the process is shutting down. */
  readonly #servers: TlsServer[] = [];
  readonly #listened = new WeakSet<TlsServer>();
  #left = false;
  /** Per attached server: the fingerprints of the certificates it serves (announced to each owner this process connects to). */
  readonly #certificates: Array<RuntimeBinding['certificates']> = [];
  readonly #keys: TicketKeysCopy;
  readonly #counts: CountsReport;
  /** The last hello was refused (said once per refusal, not at every reconnection). */
  #refusedLogged = false;
  /** The store as made, with Redis: this process's own connection. */
  readonly #made: RuntimeStore<LevelledStore>;
  /** The connection to the owner; it says hello, and sends only once this process accepted the owner's hello. */
  readonly #channel: SocketChannel;
  /** The owner's filter of stored IDs, arriving after its hello; the complete one goes to {@link ipc}. */
  readonly #filterCopy = new FilterCopy();

  /**
   * Made by {@link connect} (one per process), once the owner answered or
   * the wait ended: from then on it handles the channel.
   */
  constructor(settings: WorkerSettings, keys: TicketKeysCopy, counters: SharedCounters, logger: Logger, channel: SocketChannel, found: Found) {
    const { config } = settings;
    this.settings = settings;
    this.#keys = keys;
    this.ticketKeys = keys.ring;
    this.counters = counters;
    this.logger = logger;
    this.socketPath = channel.socketPath;
    this.#channel = channel;
    this.local = new LocalSessions(config.localSize, Date.now, () => counters.add('localHits'));
    // The level sends with the channel's own send: nothing goes to an owner this process did not accept.
    this.ownerLevel = new OwnerLevel({ ownerTimeout: config.ownerTimeout, counters, send: channel.send, ...absenceLog(logger, config, counters) });
    this.#made = createStore({ host: [this.local, this.ownerLevel], config, counters, logger });
    this.store = this.#made.store;
    this.#counts = new CountsReport(counters, channel.send);
    channel.maxSessionSize = config.maxSessionSize;
    channel.accept(found.accepted);
    channel.handleWith(this);
    for (const message of found.early) this.onMessage(message);
    // The hello may have come while the worker was made (it is made from the first one), or was refused: said now.
    if (found.later !== undefined) {
      this.#hello(found.later);
      wipeRingState(found.later.keys);
    }
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
    const listened = (): void => {
      this.#listened.add(server);
      this.#sendPorts([server]);
    };
    if (server.listening) listened();
    // Each time: a server closed and listening again (on another port) is told again.
    server.on('listening', listened);
    this.#certificates.push(attached.certificates);
    this.#sendCertificates();
    if (attached.tickets !== undefined) this.#keys.add(attached.tickets);
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

  /** Resolves once the store's Redis connection is ready, or after a short bound; at once without Redis. Never rejects. */
  ready(): Promise<void> {
    return this.#made.ready();
  }

  /** Acts on one checked message from the owner. Never throws: a ring that does not fit counts as malformed. */
  onMessage(message: ToWorker): void {
    try {
      switch (message.op) {
        case O_GOT:
          if (this.ownerLevel.answer(message.request, message.session, message.expired) === 'unknown') this.counters.add('ownerMalformed');
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
          this.#counts.ship(message.request);
          return;
        case O_HELLO:
          this.#hello(message);
          return;
        case O_OWNER:
          // Only ever sent over IPC.
          this.counters.add('ownerMalformed');
          return;
        case O_FILTER: {
          const filter = this.#filterCopy.push(message.offset, message.total, message.bits, this.settings.config.sessionTimeout * 1000);
          if (filter === 'malformed') this.counters.add('ownerMalformed');
          else if (filter !== undefined && this.#channel.accepted) this.ownerLevel.filter = filter;
          return;
        }
        case O_STORED:
          for (const id of message.ids) this.ownerLevel.filter?.add(id);
          return;
        case O_SET_DONE:
          this.ownerLevel.handled(message.ids);
          return;
      }
    } catch {
      // A state that does not fit (TicketKeyRing.load refuses it whole): the keys in use stay.
      this.counters.add('ownerMalformed');
    } finally {
      if (message.op === O_KEYS || message.op === O_HELLO) wipeRingState(message.keys);
    }
  }

  /**
   * This process is going away (its `node:cluster` channel closed: a
   * restart, PM2's reload or stop): the connection to the owner and to
   * Redis close, so that nothing of the cache keeps the process alive.
   */
  leave(): void {
    this.#left = true;
    this.#counts.stop();
    this.#keys.stop();
    this.#counts.ship(0);
    this.#channel.close();
    this.ownerLevel.abandon();
    this.#made.close();
    if (cluster.worker?.exitedAfterDisconnect === true || underPm2()) {
      this.logger.debug('the IPC channel to the primary closed: this worker is disconnecting; its connections to the cache closed');
      return;
    }
    this.logger.warn(
      "the IPC channel to the primary closed: lookups are misses and the local copy serves; Node's cluster module ends a worker process whose primary went away unless it is disconnecting on purpose",
    );
  }

  /** The connection to the owner closed: waiting lookups end as misses now; the next owner's filter is awaited. */
  onDisconnected(): void {
    this.ownerLevel.filter = undefined;
    this.#filterCopy.reset();
    this.ownerLevel.abandon();
    if (cluster.worker?.exitedAfterDisconnect === true) return;
    this.logger.warn({ socket: this.socketPath }, 'the connection to the cache owner closed: lookups are misses and the local copy serves until it is back');
  }

  /** The owner's hello after a (re)connection: its settings must be this process's; its ring replaces this one's. */
  #hello({ settings, keys }: Hello): void {
    const ours = this.settings.config;
    const theirs = settings.config;
    if (!agree(ours, theirs)) {
      this.#channel.accept(false);
      if (this.#refusedLogged) return;
      this.#refusedLogged = true;
      this.logger.error(
        { socket: this.socketPath, ours: { sessionTimeout: ours.sessionTimeout, sessionIdContext: ours.sessionIdContext, tickets: ours.tickets }, owner: { sessionTimeout: theirs.sessionTimeout, sessionIdContext: theirs.sessionIdContext, tickets: theirs.tickets } },
        "the cache owner's settings are not this process's: not using it, serving on this process's own (give every process of the deployment the same TLS_CACHE_SESSION_TIMEOUT, TLS_CACHE_SESSION_ID_CONTEXT and TLS_CACHE_TICKETS; the default socket follows them, but with TLS_CACHE_SOCKET set a deploy that changes them must stop the old daemon: tls-resumption daemon --stop)",
      );
      return;
    }
    this.#channel.accept(true);
    this.#refusedLogged = false;
    if (keys !== undefined) this.#loadKeys(keys);
    // Certificates and ports announced before this connection are announced again, to this owner.
    this.#sendCertificates();
    this.#sendPorts(this.#servers);
    logAttached(this.logger, this.#channel.socketPath);
  }

  #loadKeys(keys: TicketKeyRingState): void {
    if (!this.#keys.load(keys)) this.counters.add('ownerMalformed');
  }

  /**
   * Tells the owner the ports `servers` listen on, for `tls-resumption
   * status` and the same-port check of a runtime started later
   * (`owner/same-port.ts`): an owner cannot see a listener bound here.
   */
  #sendPorts(servers: readonly TlsServer[]): void {
    for (const server of servers) {
      const address = server.address();
      if (server.listening && address !== null && typeof address === 'object' && address.port > 0) this.#channel.send({ op: W_LISTENING, port: address.port });
    }
  }

  /** Tells the owner every certificate this process's servers serve (announced to the other hosts with Redis). */
  #sendCertificates(): void {
    const fingerprints = [...new Set(this.#certificates.flatMap((certificates) => certificates()))];
    this.#channel.send({ op: W_CERTIFICATE, fingerprint: fingerprints.slice(0, MAX_CERTIFICATES).join(',') });
  }
}

/** The owner level's absence lines: once per absence, and at most once a minute when a busy owner keeps coming and going. */
function absenceLog(logger: Logger, config: Readonly<CacheConfig>, counters: SharedCounters): Pick<OwnerLevelOptions, 'onAbsent' | 'onBack'> {
  let loggedAt = -Infinity;
  let logged = false;
  return {
    onAbsent: () => {
      const now = Date.now();
      if (now - loggedAt < ABSENCE_LOG_INTERVAL_MS) return;
      loggedAt = now;
      logged = true;
      logger.warn(
        { ownerTimeoutMs: config.ownerTimeout, ownerTimeouts: counters.get('ownerTimeouts') },
        'the cache owner did not answer a session lookup in time: lookups are misses (full handshakes) until it answers again',
      );
    },
    onBack: () => {
      if (!logged) return;
      logged = false;
      logger.info({ ownerTimeouts: counters.get('ownerTimeouts') }, 'the cache owner answers session lookups again');
    },
  };
}

/** Where the owner is: a `node:cluster` primary's socket, or the deployment's (the daemon's). */
interface OwnerPlace {
  socketPath: string;
  /** Whether this process starts the daemon when none answers (it has no primary of its own). */
  startDaemon: boolean;
  /** From now on, calls `move` with the socket of a primary that answers after the wait (at once if one did meanwhile). */
  followLate(move: (socket: string) => void): void;
}

/**
 * Finds the owner: a `node:cluster` worker asks its primary over IPC
 * (`ask-primary.ts`); any other process, or a worker whose primary did not
 * answer within `helloTimeout`, uses the deployment's socket.
 */
async function findOwner(helloTimeout: number, env: NodeJS.ProcessEnv, own: CacheConfig, counters: SharedCounters, logger: Logger): Promise<OwnerPlace> {
  // A primary that answers after helloTimeout (it started its cache after forking, slowly): its socket from then on.
  let move: ((socket: string) => void) | undefined;
  let lateSocket: string | undefined;
  const followLate = (follow: (socket: string) => void): void => {
    move = follow;
    if (lateSocket !== undefined) follow(lateSocket);
  };
  const clusterWorker = cluster.isWorker && typeof process.send === 'function' && !underPm2(env);
  const primary = clusterWorker ? await askPrimary(helloTimeout, counters, (socket) => (move === undefined ? void (lateSocket = socket) : move(socket))) : undefined;
  if (primary !== undefined) return { socketPath: primary, startDaemon: false, followLate };
  const socketPath = socketPathOf(own, env);
  if (clusterWorker) {
    logger.warn(
      { helloTimeoutMs: helloTimeout, socket: socketPath },
      "the node:cluster primary did not answer: serving with the host's cache daemon if one runs, else on this process's own, until it does (call startClusterCache() in the primary, before forking)",
    );
  }
  // A cluster worker uses a daemon that runs (an operator's), but starts none: its primary may still answer.
  return { socketPath, startDaemon: !clusterWorker, followLate };
}

/**
 * The channel's handler until the worker is made: keeps the owner's first
 * hello, and the filter and stored IDs that follow it; anything else is
 * dropped (the owner pushes what changes again later).
 */
class FirstHello implements SocketChannelHandler {
  first: Hello | undefined;
  readonly early: ToWorker[] = [];
  #answered: () => void = () => {};
  readonly #got = new Promise<void>((resolve) => {
    this.#answered = resolve;
  });

  onMessage(message: ToWorker): void {
    if (message.op === O_HELLO && this.first === undefined) {
      this.first = { settings: message.settings, keys: message.keys };
      this.#answered();
    } else if ((message.op === O_FILTER || message.op === O_STORED) && this.first !== undefined) {
      this.early.push(message);
    } else {
      if (message.op === O_KEYS || message.op === O_HELLO) wipeRingState(message.keys);
    }
  }

  onDisconnected(): void {}

  /**
   * Waits for the hello: an owner that accepted the connection answers
   * within milliseconds, so up to `helloTimeout`; with none connected (a
   * daemon being started), no more than {@link NO_OWNER_WAIT_MS} (the
   * process listens with keys of its own meanwhile, and takes the owner's
   * as soon as it answers).
   */
  async wait(channel: SocketChannel, helloTimeout: number): Promise<Hello | undefined> {
    const deadline = Date.now() + helloTimeout;
    await this.#within(Math.min(helloTimeout, NO_OWNER_WAIT_MS));
    while (this.first === undefined && channel.connected && Date.now() < deadline) await this.#within(Math.min(50, deadline - Date.now()));
    return this.first;
  }

  #within(ms: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([this.#got, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer));
  }
}

/** Finds the owner, waits for its hello, and makes the worker; see {@link ProcessWorker.connect}. */
async function start(options: ProcessWorkerOptions): Promise<ProcessWorker> {
  const env = options.env ?? process.env;
  const own = loadConfig({}, env);
  const counters = SharedCounters.create();
  // The format is this process's own (its standard output may be a terminal).
  const logger = options.logger ?? createLogger({ level: own.logLevel, ...resolveLogFormat(own) });
  // What this Node supports, checked while the owner is asked (once per process; said once).
  const capabilities = probeNodeCapabilities().then((found) => reportNodeCapabilities(logger, found));
  const { socketPath, startDaemon, followLate } = await findOwner(options.helloTimeout, env, own, counters, logger);
  let worker: ProcessWorker | undefined;
  const waiting = new FirstHello();
  const channel = new SocketChannel(
    { socketPath, startDaemon, mayStartDaemon: () => worker === undefined || !worker.shuttingDown, env, maxSessionSize: own.maxSessionSize, counters, logger },
    waiting,
  );
  let hello = await waiting.wait(channel, options.helloTimeout);
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
      wipeRingState(hello.keys);
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
  const made = new ProcessWorker(settings, new TicketKeysCopy(ring, hello !== undefined), counters, logger, channel, {
    accepted: hello !== undefined,
    later: hello === undefined ? waiting.first : undefined,
    early: waiting.early,
  });
  worker = made;
  followLate((socket) => {
    if (socket === channel.socketPath) return;
    logger.info({ socket }, 'the node:cluster primary answered: using its cache from now on');
    channel.moveTo(socket);
  });
  // A node:cluster worker (PM2's instances too) whose channel closes is leaving: let it. Before Node's own
  // handler, which ends a worker whose primary went away.
  if (cluster.isWorker) process.prependOnceListener('disconnect', () => made.leave());
  // The first handshakes should find Redis (its connection, or a Redis Cluster's masters, still opening); not for long.
  await made.ready();
  // One line: which owner this process uses (the warnings above said when none). The settings hold secrets: only whether there is a Redis, and its mode.
  if (hello !== undefined) logAttached(logger, socketPath, { ticketKeys: ring?.stats(), redis: settings.config.redisUrl === '' ? undefined : settings.config.redisMode });
  // Servers are attached only once this Node's capabilities are known: nothing is used that does not work.
  await capabilities;
  return made;
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
