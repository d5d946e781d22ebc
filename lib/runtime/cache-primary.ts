/**
 * What the primary of any runtime owns, whatever runs its servers (worker
 * threads, `node:cluster` processes): the session table, the ticket key
 * ring and its schedule, the shared counters, the metrics and their
 * endpoint, and the periodic log lines.
 *
 * The runtime around it starts the servers and reacts to the
 * `'ticketKeys'` event (e.g. tells fallback workers, or pushes keys to
 * processes).
 *
 * @module
 */
import { probeNodeCapabilities } from '../tls/node-capabilities.ts';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { CacheConfig } from '../config/settings.ts';
import { SharedCounters } from '../operations/counters.ts';
import { TicketKeyFileError } from '../errors.ts';
import { createMetrics, type CacheMetrics } from '../operations/metrics.ts';
import { startMetricsServer, type MetricsServer } from '../operations/metrics-server.ts';
import { connectRedis, errorCode } from '../redis/connection.ts';
import { hugePageSupport } from '../table/huge-pages.ts';
import { RedisFleet } from '../redis/fleet.ts';
import { FleetCertificates } from '../redis/fleet-certificates.ts';
import { redisTargetOf, type RedisClient } from '../redis/topology.ts';
import { SessionTable } from '../table/session-table.ts';
import { TicketKeyRing } from '../tickets/key-ring.ts';
import { readNginxKeyFiles } from '../tickets/nginx-keys.ts';
import { countsOf, MAX_ATTACHED, StatusHistory, type AttachedWorker, type OwnerStatus, type StatusCounts } from './owner-status.ts';
import { isReady } from '../redis/connection.ts';
import { redactUrl } from '../config/redact.ts';

/** What {@link CachePrimary.flush} removed. */
export interface FlushResult {
  /** Sessions removed from the table. */
  sessions: number;
  /** Whether ticket keys were replaced (false when tickets are off). */
  ticketKeys: boolean;
}

/** How a reload of the workers ended: `reloads_total{result}`. */
export type ReloadOutcome = 'succeeded' | 'failed' | 'aborted';

/** How many servers are configured and how many listen, for `/health` and the metrics. */
export type WorkerCounts = () => { configured: number; listening: number };

/** The SHA-256 fingerprints of the certificates this host's servers serve now (see `runtime/certificate-binding.ts`). */
export type ServedCertificates = () => readonly string[];

/** Events of a {@link CachePrimary}. */
export interface PrimaryEvents {
  /** The ring changed: a rotation, an erasure, a rotation now, a flush or a replacement. */
  ticketKeys: [];
  /** Another host flushed the fleet (through Redis): this host's table is cleared; copies elsewhere must go too. */
  flushedByFleet: [];
  /** Another host saw this session end in a fatal alert (through Redis): it is gone from the table; copies elsewhere must go too. */
  sessionEnded: [id: Buffer];
}

/** Node.js timers hold at most 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The primary's shared state and its timers. Made by
 * {@link CachePrimary.create}, started by {@link CachePrimary.start}, ended
 * by {@link CachePrimary.close}.
 */
export class CachePrimary extends EventEmitter<PrimaryEvents> {
  /** The resolved configuration (frozen). */
  readonly config: Readonly<CacheConfig>;
  /** The shared session table, owned here. */
  readonly table: SessionTable;
  /** The ticket key ring, owned here; `undefined` when tickets are off. */
  readonly ticketKeys: TicketKeyRing | undefined;
  /** The counters every server adds to (hooks, tickets, handshakes, restarts, IPC, Redis). */
  readonly counters: SharedCounters;
  readonly logger: Logger;
  /** When it was made (clock milliseconds). */
  readonly startedAt = Date.now();

  readonly #metrics: CacheMetrics;
  /** Samples of the counts for the last minute's figures of {@link status}; from {@link start}. */
  #history: StatusHistory | undefined;
  #workers: WorkerCounts = () => ({ configured: 0, listening: 0 });
  #metricsServer: MetricsServer | undefined;
  #ticketTimer: NodeJS.Timeout | undefined;
  #statsTimer: NodeJS.Timeout | undefined;
  #summaryTimer: NodeJS.Timeout | undefined;
  #lastSummary = { full: 0, resumed: 0, evictions: 0 };
  /** Reloads by outcome; only the primary counts them, so they need no shared memory. */
  readonly #reloads: Record<ReloadOutcome, number> = { succeeded: 0, failed: 0, aborted: 0 };
  #closed = false;
  /** With `redisUrl`: the connection and the fleet-wide ticket keys and flushes (issue 7). */
  #redis: RedisClient | undefined;
  #fleet: RedisFleet | undefined;
  /** With `redisUrl`: this host's certificates announced to the fleet, and the other hosts' compared (issue 21). */
  #fleetCertificates: FleetCertificates | undefined;
  #certificates: ServedCertificates = () => [];
  #ports: () => number[] = () => [];

  private constructor(config: CacheConfig, logger: Logger, table: SessionTable, ticketKeys: TicketKeyRing | undefined) {
    super();
    this.config = Object.freeze({ ...config });
    this.logger = logger;
    this.table = table;
    this.ticketKeys = ticketKeys;
    this.counters = SharedCounters.create();
    this.#metrics = createMetrics({
      table,
      counters: this.counters,
      ticketKeys,
      workers: () => this.#workers(),
      reloads: () => ({ ...this.#reloads }),
      hostsWithOtherCertificate: config.redisUrl === '' ? undefined : () => this.#fleetCertificates?.hostsWithOtherCertificate ?? 0,
      otherHosts: config.redisUrl === '' ? undefined : () => this.#fleetCertificates?.otherHosts ?? 0,
    });
    // The node_capability metric: this Node, checked once per process (the thread runtime has it checked already).
    void probeNodeCapabilities();
  }

  /**
   * Makes the table, the ring (reading `ticketKeyFile` when set) and the
   * counters. Nothing runs until {@link start}.
   * @throws TicketKeyFileError (`ERR_TLS_CACHE_TICKET_KEY_FILE`) when a key file cannot be read.
   */
  static create(config: CacheConfig, logger: Logger): CachePrimary {
    const ticketKeys =
      config.tickets === 'on'
        ? TicketKeyRing.create({
            timeout: config.sessionTimeout,
            rotate: config.ticketRotate,
            keys: config.ticketKeyFile === '' ? undefined : readKeyFiles(config.ticketKeyFile),
          })
        : undefined;
    const table = SessionTable.create({
      size: config.size,
      maxSessionSize: config.maxSessionSize,
      timeout: config.sessionTimeout,
      sweepInterval: config.sweepInterval,
    });
    const hugePages = hugePageSupport();
    if (hugePages.advice !== undefined) {
      logger.debug({ transparentHugePages: hugePages.policy }, `the session table is on 4 KiB pages; ${hugePages.advice}`);
    }
    return new CachePrimary(config, logger, table, ticketKeys);
  }

  /**
   * Starts the metrics endpoint (when `metricsPort` is set), the ticket key
   * schedule and the log timers.
   * @param workers - counts the servers, for `/health` and the metrics.
   * @param certificates - the fingerprints of the certificates the servers serve now, announced to the other hosts with `redisUrl`. @defaultValue none announced
   * @param ports - the ports the servers listen on now, for `tls-resumption status` and the same-port check (`owner/same-port.ts`). @defaultValue none
   * @throws MetricsListenError (`ERR_TLS_CACHE_METRICS_LISTEN`) when the metrics port cannot be listened on.
   */
  async start({ workers, certificates, ports }: { workers: WorkerCounts; certificates?: ServedCertificates; ports?: () => number[] }): Promise<void> {
    this.#workers = workers;
    if (ports !== undefined) this.#ports = ports;
    this.#history ??= new StatusHistory(() => this.#counts());
    if (certificates !== undefined) this.#certificates = certificates;
    if (this.config.metricsPort > 0) {
      this.#metricsServer = await startMetricsServer({
        port: this.config.metricsPort,
        host: this.config.metricsHost,
        metrics: this.#metrics,
        workers,
      });
      this.logger.info({ metricsHost: this.config.metricsHost, metricsPort: this.#metricsServer.port }, 'metrics endpoint listening');
    }
    if (this.config.redisUrl !== '') await this.#startFleet();
    this.#scheduleTicketKeys();
    if (this.config.statsInterval > 0) {
      this.#statsTimer = setInterval(() => this.#logStats(), this.config.statsInterval);
      this.#statsTimer.unref();
    }
    if (this.config.summaryInterval > 0) {
      this.#summaryTimer = setInterval(() => this.#logSummary(), this.config.summaryInterval);
      this.#summaryTimer.unref();
    }
  }

  /**
   * What `tls-resumption status` shows (`owner-status.ts`), read now from
   * the sources of the metrics.
   * @param kind - which owner this primary is.
   * @param socket - the socket the status is asked on.
   * @param attached - the processes or threads attached (the first {@link MAX_ATTACHED} are kept).
   */
  status(kind: OwnerStatus['kind'], socket: string, attached: AttachedWorker[]): OwnerStatus {
    const now = Date.now();
    const stats = this.table.stats();
    const counts = countsOf(this.counters.values(), stats);
    const ring = this.ticketKeys?.stats();
    const fleet = this.#fleet?.sharesTicketKeys === true;
    const config = this.config;
    return {
      version: 1,
      kind,
      pid: process.pid,
      socket,
      node: process.version,
      startedAt: this.startedAt,
      now,
      workers: this.#workers(),
      ports: this.#ports(),
      attached: attached.slice(0, MAX_ATTACHED),
      table: { entries: stats.entries, capacityEntries: stats.capacityEntries, bytesInUse: stats.bytesInUse, capacityBytes: stats.capacityBytes },
      sinceStart: counts,
      lastMinute: this.#history?.lastMinute(counts) ?? { ...countsOf(this.counters.values(), stats), seconds: 0 },
      tickets:
        ring === undefined
          ? null
          : {
              keys: ring.keys,
              // As the metric ticket_key_age_seconds reads it.
              currentKeyAgeSeconds: ring.currentSince > 0 ? Math.max(0, now - ring.currentSince) / 1000 : 0,
              nextRotationSeconds: ring.fixed || ring.currentSince <= 0 ? null : Math.max(0, ring.currentSince + config.ticketRotate - now) / 1000,
              source: ring.fixed ? 'files' : fleet ? 'redis' : 'random',
            },
      redis:
        config.redisUrl === ''
          ? null
          : {
              mode: config.redisMode,
              url: redactUrl(config.redisUrl),
              namespace: config.redisNamespace,
              connected: this.#redis !== undefined && isReady(this.#redis),
              otherHosts: this.#fleetCertificates?.otherHosts ?? 0,
              hostsWithOtherCertificate: this.#fleetCertificates?.hostsWithOtherCertificate ?? 0,
            },
    };
  }

  #counts(): StatusCounts {
    return countsOf(this.counters.values(), this.table.stats());
  }

  /** Counts a reload of the workers (threads or processes) by how it ended. */
  countReload(outcome: ReloadOutcome): void {
    this.#reloads[outcome]++;
  }

  /** Every metric in the Prometheus text format, read now from shared memory. */
  metrics(): Promise<string> {
    return this.#metrics.metrics();
  }

  /** The port of the metrics endpoint, or `undefined` when it is off. */
  get metricsPort(): number | undefined {
    return this.#metricsServer?.port;
  }

  /**
   * Rotates the ticket keys now: a new key encrypts, the previous one still
   * decrypts for the session timeout. With key files, reads them again
   * instead. With `redisUrl` (and keys not from files): the fleet's next
   * key, for every host, made in the background (see `redis/fleet.ts`).
   * Returns false when tickets are off or once closed.
   * @throws TicketKeyFileError when a key file cannot be read (the keys in use stay).
   */
  rotateTicketKeys(): boolean {
    const ring = this.ticketKeys;
    if (ring === undefined || this.#closed) return false;
    if (this.#fleet?.sharesTicketKeys) return this.#rotateFleet();
    if (ring.fixed) ring.replace(readKeyFiles(this.config.ticketKeyFile));
    else ring.rotateNow();
    this.counters.add('ticketKeyRotations');
    this.#ticketKeysChanged();
    this.logger.debug({ ticketKeys: ring.stats(), source: ring.fixed ? 'files' : 'random' }, 'ticket keys rotated');
    return true;
  }

  /**
   * Forgets every session and every ticket key: every client makes a full
   * handshake next time. With key files, the keys are read again. With
   * `redisUrl`: then every other host too, and the sessions in Redis, in
   * the background (see `redis/fleet.ts`).
   * @throws TicketKeyFileError when a key file cannot be read; nothing was flushed then.
   */
  flush(): FlushResult {
    if (this.#closed) return { sessions: 0, ticketKeys: false };
    const ring = this.ticketKeys;
    const keys = ring?.fixed ? readKeyFiles(this.config.ticketKeyFile) : undefined;
    const sessions = this.table.clear();
    if (ring !== undefined) {
      ring.flush(keys);
      this.#ticketKeysChanged();
    }
    const result = { sessions, ticketKeys: ring !== undefined };
    this.logger.info({ ...result, generation: ring?.generation }, 'flushed: every session and ticket key is gone');
    if (this.#fleet !== undefined) this.#flushFleet();
    return result;
  }

  /** Stops the timers and the metrics endpoint, then frees the table and the ring. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#ticketTimer);
    clearInterval(this.#statsTimer);
    clearInterval(this.#summaryTimer);
    this.#history?.close();
    this.#fleet?.close();
    await this.#fleetCertificates?.close();
    this.#redis?.disconnect();
    await this.#metricsServer?.close();
    this.table.close();
    this.ticketKeys?.close();
  }

  /** Stops the timers (rotation, logs) but keeps the table and the ring usable: the runtime is shutting down. */
  stopTimers(): void {
    clearTimeout(this.#ticketTimer);
    clearInterval(this.#statsTimer);
    clearInterval(this.#summaryTimer);
    this.#ticketTimer = undefined;
  }

  /** Announces a ring change and plans the next rotation or erasure. */
  #ticketKeysChanged(): void {
    this.emit('ticketKeys');
    this.#scheduleTicketKeys();
  }

  #scheduleTicketKeys(): void {
    clearTimeout(this.#ticketTimer);
    const ring = this.ticketKeys;
    // With Redis, the fleet rotates the ring (a key of this host alone would not resume elsewhere).
    if (ring === undefined || this.#closed || this.#fleet?.sharesTicketKeys) return;
    const due = ring.nextDueAt();
    if (due === Infinity) return;
    const wait = Math.min(Math.max(0, due - Date.now()), MAX_TIMER_MS);
    this.#ticketTimer = setTimeout(() => {
      const { rotated, erased } = ring.tick();
      if (rotated) this.counters.add('ticketKeyRotations');
      if (rotated || erased > 0) {
        this.logger.debug({ rotated, erased, ticketKeys: ring.stats() }, rotated ? 'ticket keys rotated' : 'ticket keys erased');
        this.#ticketKeysChanged();
      } else {
        this.#scheduleTicketKeys();
      }
    }, wait);
    this.#ticketTimer.unref();
  }

  /**
   * With `redisUrl`: connects (the `redis connected` line), then shares the
   * ring's keys with the other hosts (unless tickets are off or the keys come
   * from files: those stay as they are) and takes their flushes. Does not
   * fail when Redis is away: the host runs on its own until it answers.
   */
  async #startFleet(): Promise<void> {
    const { config, logger } = this;
    const redis = connectRedis(redisTargetOf(config), { logger, role: 'ticket keys and flushes' });
    this.#redis = redis;
    const ring = this.ticketKeys?.fixed === false ? this.ticketKeys : undefined;
    const fleet = new RedisFleet({
      redis,
      secret: config.redisSecret,
      previousSecret: config.redisSecretPrevious,
      namespace: config.redisNamespace,
      ring,
      timeout: config.sessionTimeout,
      rotate: config.ticketRotate,
      counters: this.counters,
      logger,
    });
    this.#fleet = fleet;
    fleet.on('ticketKeys', () => this.emit('ticketKeys'));
    fleet.on('flush', () => {
      if (this.#closed) return;
      logger.info({ sessions: this.table.clear() }, 'flushed by another host: every session of this host is gone');
      this.emit('flushedByFleet');
    });
    // Sessions another host saw end in a fatal alert: drop this host's copy too.
    fleet.on('sessionEnded', (id) => {
      if (this.#closed) return;
      this.table.delete(id);
      this.emit('sessionEnded', id);
    });
    await fleet.start();
    this.#fleetCertificates = new FleetCertificates({
      redis,
      secret: config.redisSecret,
      previousSecret: config.redisSecretPrevious,
      namespace: config.redisNamespace,
      certificates: () => this.#certificates(),
      counters: this.counters,
      logger,
    });
    this.#fleetCertificates.start();
    if (!fleet.sharesTicketKeys) return;
    const shared = (): void => {
      logger.info({ ticketKeys: this.ticketKeys?.stats(), namespace: config.redisNamespace }, 'ticket keys shared through redis');
    };
    if (isReady(redis)) shared();
    else {
      // Said when true: Redis answered no one yet (its outage line said why), the keys are this host's until it does.
      logger.info({ namespace: config.redisNamespace }, "ticket keys of this host alone until redis answers: the other hosts' tickets do not resume here meanwhile");
      redis.once('ready', () => {
        if (!this.#closed) shared();
      });
    }
  }

  /** Rotation now, fleet-wide: resolves in the background; false only when tickets are off. */
  #rotateFleet(): boolean {
    this.#fleet!.rotateNow().then(
      (rotated) => {
        if (rotated) this.logger.debug({ ticketKeys: this.ticketKeys?.stats() }, 'ticket keys rotated across the fleet');
        else this.logger.warn('ticket key rotation not possible while redis is unavailable: the keys stay as they are');
      },
      (error: unknown) => this.logger.error({ reason: errorCode(error) }, 'fleet ticket key rotation failed; the keys stay as they are'),
    );
    return true;
  }

  /** Takes a local flush to every host: a new flush generation and key, and no session left in Redis. */
  #flushFleet(): void {
    this.#fleet!.flush().then(
      ({ generation, redisSessions }) => {
        if (generation === undefined) this.logger.warn('redis unavailable: this host was flushed, the other hosts were not');
        else this.logger.info({ generation, redisSessions }, 'flushed every host: sessions deleted from redis, new ticket key');
      },
      (error: unknown) => this.logger.error({ reason: errorCode(error) }, 'fleet flush failed: this host was flushed, the others may not be'),
    );
  }

  /** The info-level summary line: what happened since the previous one, and the table now. */
  #logSummary(): void {
    const v = this.counters.values();
    const stats = this.table.stats();
    const full = v.fullTls12 + v.fullTls13 + v.fullOther;
    const resumed = v.resumedTls12 + v.resumedTls13 + v.resumedOther;
    const evictions = Object.values(stats.evictions).reduce((a, b) => a + b, 0) - stats.evictions.cleared;
    const last = this.#lastSummary;
    const handshakes = full - last.full + (resumed - last.resumed);
    this.#lastSummary = { full, resumed, evictions };
    this.logger.info(
      {
        handshakes,
        resumed: resumed - last.resumed,
        resumptionRatio: handshakes > 0 ? Math.round(((resumed - last.resumed) / handshakes) * 1000) / 1000 : null,
        entries: stats.entries,
        evictions: evictions - last.evictions,
        sinceMs: this.config.summaryInterval,
      },
      'summary',
    );
  }

  #logStats(): void {
    if (!this.logger.isLevelEnabled('debug')) return;
    this.logger.debug({ stats: this.table.stats(), hooks: this.counters.sessionHookCounters() }, 'cache statistics');
  }
}

/** Reads the comma-separated nginx key files of `ticketKeyFile`, naming the setting on failure. */
function readKeyFiles(list: string): Buffer[] {
  try {
    return readNginxKeyFiles(list.split(','));
  } catch (error) {
    if (!(error instanceof TicketKeyFileError)) throw error;
    throw new TicketKeyFileError(error.path, `${error.message} (TLS_CACHE_TICKET_KEY_FILE, option ticketKeyFile)`);
  }
}
