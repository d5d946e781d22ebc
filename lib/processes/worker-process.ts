/**
 * The cache's side of a `node:cluster` worker process: one per process,
 * made by the first `attachClusterCache()`. It asks the primary for the
 * deployment's settings and ticket keys (the hello), then keeps them:
 * answers the primary's pushes (new ticket keys, flushes, sessions ended
 * by a fatal alert), gives its servers one store of levels (its local
 * copy, the primary's table over IPC and, when the deployment shares
 * sessions through Redis, Redis over a connection of its own:
 * `process-redis.ts`), and ships this process's counts to the primary.
 *
 * Every message from the channel is checked (`ipc-messages.ts`); one that
 * fails is counted (`ipcMalformed`) and dropped, and nothing thrown while
 * handling one leaves the handler.
 *
 * @module
 */
import cluster from 'node:cluster';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { COUNTER_NAMES, SharedCounters } from '../operations/counters.ts';
import { PrimaryUnavailableError, SessionTimeoutMismatchError } from '../errors.ts';
import {
  decodeToWorker,
  encodeToPrimary,
  isTagged,
  P_COUNTS,
  P_DELETE,
  P_FLUSH,
  P_GOT,
  P_HELLO,
  P_KEYS,
  W_COUNTS,
  W_CERTIFICATE,
  W_HELLO,
  type ClusterSettings,
  type ToPrimary,
  type ToWorker,
  type WorkerRedisSettings,
} from './ipc-messages.ts';
import { OwnerLevel } from './ipc-store.ts';
import { connectProcessRedis } from './process-redis.ts';
import { LevelledStore, type SessionLevel } from '../store/levelled-store.ts';
import { localCopyLevel } from '../store/memory-levels.ts';
import { RedisSessionLevel } from '../redis/session-store.ts';
import type { RedisClient } from '../redis/topology.ts';
import { waitUntilReady } from '../redis/connection.ts';
import { LocalSessions } from './local-sessions.ts';
import { attachRuntime, type RuntimeBinding } from '../runtime/attach-runtime.ts';
import { SNI_WARNING, unboundWarning } from '../runtime/certificate-binding.ts';
import { TicketKeyRing } from '../tickets/key-ring.ts';
import type { TicketKeyBinding } from '../tickets/attach-ticket-keys.ts';

/** How often this process's counts go to the primary, in ms (and whenever the primary asks). */
export const COUNTS_INTERVAL_MS = 1000;
/** The primary's absence is logged at most this often (a busy primary may miss the bound now and then). */
const ABSENCE_LOG_INTERVAL_MS = 60_000;
/** How often the hello is sent again while the primary has not answered. */
const HELLO_RETRY_MS = 250;
/** How long the first attach waits for this process's Redis connection (with Redis) before it resolves anyway. */
const REDIS_START_WAIT_MS = 2000;
/** Largest session accepted from the channel before the hello says the deployment's. */
const MAX_SESSION_BEFORE_HELLO = 65536;

/** Options of {@link ProcessWorker.connect}. */
export interface ProcessWorkerOptions {
  /** How long to wait for the primary's hello, in ms. */
  helloTimeout: number;
  /** The logger; @defaultValue pino to standard output at the primary's `logLevel`. */
  logger: Logger | undefined;
}

let connecting: Promise<ProcessWorker> | undefined;
/** Sends the hello and makes the process's worker; set by {@link ProcessWorker}'s static block, so its constructor stays private. */
let hello: (options: ProcessWorkerOptions) => Promise<ProcessWorker>;

/** See the module's documentation. */
export class ProcessWorker {
  /** What the primary said every worker must use. */
  readonly settings: Readonly<ClusterSettings>;
  /** The primary's table over IPC: the store's second level. */
  readonly ipc: OwnerLevel;
  /**
   * The store behind every server of this process, three levels each
   * bounded in time: the local copy (synchronous), the primary's table
   * over IPC (within `TLS_CACHE_IPC_TIMEOUT`, skipped at once while the
   * primary counts as absent), and Redis over this process's own
   * connection when the deployment has one (within
   * `TLS_CACHE_REDIS_TIMEOUT`). A session found below the local copy is
   * copied into the faster levels; a new one goes to all; one ended by a
   * fatal alert leaves all, and every host.
   */
  readonly store: LevelledStore;
  /** This process's local copy of sessions. */
  readonly local: LocalSessions;
  /** This process's copy of the primary's ticket key ring; `undefined` when tickets are off. */
  readonly ticketKeys: TicketKeyRing | undefined;
  /** This process's counts (shipped to the primary as deltas). */
  readonly counters: SharedCounters;
  readonly logger: Logger;

  #shipped: number[] = COUNTER_NAMES.map(() => 0);
  readonly #tickets: TicketKeyBinding[] = [];
  #absenceLoggedAt = -Infinity;
  #absenceLogged = false;
  readonly #timer: NodeJS.Timeout;
  /** With Redis: this process's own connection. */
  readonly #redis: RedisClient | undefined;

  private constructor(
    settings: ClusterSettings,
    ring: TicketKeyRing | undefined,
    counters: SharedCounters,
    logger: Logger,
    redis: WorkerRedisSettings | undefined,
  ) {
    this.settings = Object.freeze({ ...settings });
    this.ticketKeys = ring;
    this.counters = counters;
    this.logger = logger;
    this.local = new LocalSessions(settings.localSize);
    this.ipc = new OwnerLevel({
      ipcTimeout: settings.ipcTimeout,
      counters,
      send: (message) => send(message),
      onAbsent: () => {
        // Once per absence, and at most once a minute when a busy primary keeps coming and going.
        const now = Date.now();
        if (now - this.#absenceLoggedAt < ABSENCE_LOG_INTERVAL_MS) return;
        this.#absenceLoggedAt = now;
        this.#absenceLogged = true;
        this.logger.warn(
          { ipcTimeoutMs: settings.ipcTimeout, ipcTimeouts: counters.get('ipcTimeouts') },
          'the primary did not answer a session lookup in time: lookups are misses (full handshakes) until it answers again',
        );
      },
      onBack: () => {
        if (!this.#absenceLogged) return;
        this.#absenceLogged = false;
        this.logger.info({ ipcTimeouts: counters.get('ipcTimeouts') }, 'the primary answers session lookups again');
      },
    });
    this.#redis = redis === undefined ? undefined : connectProcessRedis(redis, logger);
    if (redis !== undefined && this.#redis === undefined) counters.add('ipcMalformed');
    const levels: SessionLevel[] = [localCopyLevel(this.local, () => counters.add('localHits')), this.ipc];
    if (redis !== undefined && this.#redis !== undefined) {
      const { secret, previousSecret, namespace, timeout } = redis;
      levels.push(new RedisSessionLevel({ redis: this.#redis, secret, previousSecret, namespace, timeout, counters, logger }));
    }
    this.store = new LevelledStore({ levels, timeout: settings.timeout });
    this.#timer = setInterval(() => this.#shipCounts(0), COUNTS_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * The process's worker, made on the first call: sends the hello and waits
   * for the primary's settings and keys.
   * @throws PrimaryUnavailableError (`ERR_TLS_CACHE_PRIMARY_UNAVAILABLE`) when the primary does not answer within `helloTimeout` ms.
   */
  static connect(options: ProcessWorkerOptions): Promise<ProcessWorker> {
    connecting ??= hello(options).catch((error: unknown) => {
      connecting = undefined;
      throw error;
    });
    return connecting;
  }

  /**
   * Attaches the IPC store and this process's ticket key ring to `server`,
   * counting its handshakes (see `runtime/attach-runtime.ts`).
   * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`) when the server's `sessionTimeout` is not the primary's timeout.
   * @throws SessionIdContextMismatchError (`ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH`) when its `sessionIdContext` is not the primary's.
   * @throws TicketsNotDisabledError (`ERR_TLS_CACHE_TICKETS_NOT_DISABLED`) when tickets are off and the server would issue its own.
   */
  attach(server: TlsServer): RuntimeBinding {
    const timeout = (server as { sessionTimeout?: unknown }).sessionTimeout;
    if (timeout !== this.settings.timeout) {
      throw new SessionTimeoutMismatchError(
        typeof timeout === 'number' ? timeout : undefined,
        this.settings.timeout,
        `The server's sessionTimeout (${typeof timeout === 'number' ? `${timeout} s` : 'unset'}) is not the primary's timeout ` +
          `(${this.settings.timeout} s); create it with clusterServerOptions() spread into its options, and give the workers the primary's TLS_CACHE_TIMEOUT`,
      );
    }
    const attached = attachRuntime(server, {
      store: this.store,
      ticketKeys: this.ticketKeys,
      ticketMode: this.settings.ticketMode,
      counters: this.counters,
      logger: this.logger,
      sessionIdContext: this.settings.sessionIdContext,
      onCertificateReplaced: ({ fingerprint }) => send({ op: W_CERTIFICATE, fingerprint: fingerprint ?? '' }),
    });
    send({ op: W_CERTIFICATE, fingerprint: attached.certificate.fingerprint ?? '' });
    if (attached.tickets !== undefined) this.#tickets.push(attached.tickets);
    warnOnce(this.logger, attached);
    return attached;
  }

  /** Acts on one checked message from the primary. Never throws: a ring that does not fit counts as malformed. */
  handle(message: ToWorker): void {
    try {
      switch (message.op) {
        case P_GOT:
          if (this.ipc.answer(message.request, message.session, message.expired) === 'unknown') this.counters.add('ipcMalformed');
          return;
        case P_KEYS:
          if (this.ticketKeys === undefined) {
            this.counters.add('ipcMalformed');
            return;
          }
          this.ticketKeys.load(message.keys);
          // Fallback servers (one key at a time) take the new key now rather than at their next poll.
          for (const tickets of this.#tickets) tickets.refresh();
          this.logger.debug({ ticketKeys: this.ticketKeys.stats() }, 'ticket keys updated by the primary');
          return;
        case P_FLUSH:
          this.logger.debug({ sessions: this.local.clear() }, 'local copy flushed by the primary');
          return;
        case P_DELETE:
          // A session another worker saw end in a fatal alert: this process's copy and waiting write go.
          this.store.forget(message.id);
          return;
        case P_COUNTS:
          this.#shipCounts(message.request);
          return;
        case P_HELLO:
          // Only the first hello counts; settings never change under a running server.
          return;
      }
    } catch {
      // A state that does not fit (TicketKeyRing.load refuses it whole): the keys in use stay.
      this.counters.add('ipcMalformed');
    } finally {
      for (const key of message.op === P_KEYS || message.op === P_HELLO ? (message.keys?.keys ?? []) : []) key.key.fill(0);
    }
  }

  /** The channel closed: waiting lookups end as misses now, and it is said once (at debug level when the worker is disconnecting on purpose). */
  disconnected(): void {
    clearInterval(this.#timer);
    this.ipc.abandon();
    // An open connection would keep a disconnecting worker's process alive.
    this.#redis?.disconnect();
    if (cluster.worker?.exitedAfterDisconnect === true) {
      this.logger.debug('the IPC channel to the primary closed: this worker is disconnecting');
      return;
    }
    this.logger.warn(
      "the IPC channel to the primary closed: lookups are misses and the local copy serves; Node's cluster module ends a worker process whose primary went away unless it is disconnecting on purpose",
    );
  }

  /** Sends the counts since the last shipment (when any, or when asked). */
  #shipCounts(request: number): void {
    const values = this.counters.values();
    const now = COUNTER_NAMES.map((name) => values[name]);
    const deltas = now.map((value, i) => value - this.#shipped[i]);
    if (request === 0 && deltas.every((d) => d === 0)) return;
    if (send({ op: W_COUNTS, request, deltas })) this.#shipped = now;
  }

  static {
    hello = async (options) => {
      const counters = SharedCounters.create();
      let worker: ProcessWorker | undefined;
      let maxSessionSize = MAX_SESSION_BEFORE_HELLO;
      let accepted: { settings: ClusterSettings; ring: TicketKeyRing | undefined; redis: WorkerRedisSettings | undefined } | undefined;
      /** Messages after the accepted hello, while the worker is being made (a channel read may deliver several at once). */
      const early: ToWorker[] = [];
      let answered: () => void = () => {};
      const gotHello = new Promise<true>((resolve) => {
        answered = () => resolve(true);
      });
      const onMessage = (raw: unknown): void => {
        if (!isTagged(raw)) return;
        const message = decodeToWorker(raw, maxSessionSize);
        if (message === undefined) {
          counters.add('ipcMalformed');
        } else if (worker !== undefined) {
          worker.handle(message);
        } else if (accepted !== undefined) {
          early.push(message);
        } else if (message.op === P_HELLO) {
          try {
            accepted = {
              settings: message.settings,
              ring: message.keys === undefined ? undefined : TicketKeyRing.restore(message.keys),
              redis: message.redis,
            };
            maxSessionSize = message.settings.maxSessionSize;
            answered();
          } catch {
            // A ring that does not fit: wait for the next hello.
            counters.add('ipcMalformed');
          } finally {
            for (const key of message.keys?.keys ?? []) key.key.fill(0);
          }
        } else {
          // The primary sends nothing else before its hello.
          counters.add('ipcMalformed');
        }
      };
      const onDisconnect = (): void => worker?.disconnected();
      process.on('message', onMessage);
      process.prependListener('disconnect', onDisconnect);

      const retry = setInterval(() => send({ op: W_HELLO }), HELLO_RETRY_MS);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), options.helloTimeout);
      });
      send({ op: W_HELLO });
      await Promise.race([gotHello, timedOut]);
      clearInterval(retry);
      clearTimeout(timer);
      if (accepted === undefined) {
        process.off('message', onMessage);
        process.off('disconnect', onDisconnect);
        throw new PrimaryUnavailableError(
          `The cluster primary did not answer within ${options.helloTimeout} ms: call startClusterCache() in the primary ` +
            '(before or after forking), and make sure it is running',
        );
      }
      const { settings, ring, redis } = accepted;
      // The format is this process's own (its standard output may be a terminal); the primary set the variable.
      const variable = process.env.TLS_CACHE_LOG_FORMAT?.trim().toLowerCase();
      const format = resolveLogFormat({ logFormat: variable === 'json' || variable === 'pretty' ? variable : 'auto' });
      // pino puts the pid in every line already.
      const logger = options.logger ?? createLogger({ level: settings.logLevel, ...format });
      worker = new ProcessWorker(settings, ring, counters, logger, redis);
      for (const message of early.splice(0)) worker.handle(message);
      // The first handshakes should find Redis (its connection, or a Redis Cluster's masters, still opening); not for long.
      if (worker.#redis !== undefined) await waitUntilReady(worker.#redis, REDIS_START_WAIT_MS);
      // The Redis settings hold secrets: only whether there is a Redis, and its mode.
      logger.debug({ settings, ticketKeys: ring?.stats(), redis: redis?.mode }, 'attached to the cluster primary');
      return worker;
    };
  }
}

const warned = new Set<string>();

/** The SNI and unbound-certificate warnings, each once per process (see `runtime/certificate-binding.ts`). */
function warnOnce(logger: Logger, { sni, certificate }: RuntimeBinding): void {
  if (sni !== undefined && !warned.has('sni')) {
    warned.add('sni');
    logger.warn({ sni }, SNI_WARNING);
  }
  const { unbound } = certificate;
  if (unbound !== undefined && !warned.has(unbound)) {
    warned.add(unbound);
    logger.warn({ certificate: unbound }, unboundWarning(unbound));
  }
}

/** Sends to the primary; false (never a throw, never an 'error' event) when the channel is closed. */
function send(message: ToPrimary): boolean {
  if (process.send === undefined || !process.connected) return false;
  try {
    process.send(encodeToPrimary(message), undefined, undefined, ignore);
    return true;
  } catch {
    return false;
  }
}

function ignore(): void {}
