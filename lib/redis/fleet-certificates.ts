/**
 * Which certificate each host of a deployment serves, so that a fleet that
 * shares nothing says why. A session resumes only under the certificate it
 * was made under (`runtime/certificate-binding.ts`, as nginx does): two
 * hosts on one Redis that serve different certificates resume none of each
 * other's sessions, by session ID or by ticket, and nothing else would tell.
 *
 * Every host's primary announces the SHA-256 fingerprints of the leaf
 * certificates its servers serve now in the hash `{<ns>}:hosts` (hash-tagged
 * like the fleet's other keys): the field is a random host ID made at
 * start, the value is sealed (`sealed.ts`, purpose `fleet-host`, the host ID
 * as associated data) over `{ certificates, at }`, so only a host holding
 * the deployment's secret can announce. It does so every `interval` ms and
 * reads every other announcement at the same time. An announcement older
 * than {@link STALE_MS} is a host that is gone; one older than
 * {@link FORGET_MS} is deleted by whoever reads it; a stopping host deletes
 * its own.
 *
 * A host whose certificates are not this host's counts as "with another
 * certificate" ({@link FleetCertificates.hostsWithOtherCertificate}, the
 * metric `fleet_hosts_other_certificate`). For each fingerprint it had not
 * warned of, this host logs one warning naming its own fingerprints and
 * that one (fingerprints are of public certificates: no secret), and, once
 * every host serves the same certificates again, one info line. A renewed
 * certificate rolled out host by host passes through this state: the
 * warning says so.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorCode, isReady } from './connection.ts';
import { createSealer, type Sealer } from './sealed.ts';
import type { RedisCounterSink } from './session-store.ts';
import type { RedisClient } from './topology.ts';

/** An announcement older than this (on the reader's clock) is a host that stopped or lost Redis. */
const STALE_MS = 15_000;
/** An announcement older than this is deleted by the host that reads it. */
const FORGET_MS = 5 * 60_000;

/**
 * Internal, for tests only; not exported from `lib/index.ts`, and nothing in
 * the library changes it. The interval of a {@link FleetCertificates} made
 * without `interval` (the runtime's), read when it is made: 2000 ms. The
 * hosts of test/redis-fleet-certificates.ts (separate processes) shorten it
 * through their fixture, so that "a few rounds" take a second, not six.
 */
export const fleetCertificatesDefaults = { interval: 2000 };

/** Options of {@link FleetCertificates}. */
export interface FleetCertificatesOptions {
  /** The primary's Redis connection, of any mode; not closed here. */
  redis: RedisClient;
  /** The deployment's secret, and the one before it during a change of secrets. */
  secret: string;
  previousSecret?: string;
  /** Prefix of every Redis key of the deployment. */
  namespace: string;
  /** The fingerprints of the certificates this host's servers serve now (read at each announcement). */
  certificates: () => readonly string[];
  /** How often to announce and compare, in ms. @defaultValue 2000 ({@link fleetCertificatesDefaults}) */
  interval?: number;
  /** Counts `redisRejected` (announcements that do not open) and `redisErrors`. @defaultValue none */
  counters?: RedisCounterSink;
  logger?: Logger;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
}

/** The hash of a namespace's host announcements. */
export function hostsKey(namespace: string): string {
  return `{${namespace}}:hosts`;
}

/** The warning logged once per certificate another host serves and this one does not. */
export function otherCertificateWarning(): string {
  return (
    'another host of this deployment serves another certificate: sessions made there do not resume here, nor ours there ' +
    '(a session resumes only under its certificate). Serve one certificate on every host (the same files, e.g. ' +
    'TLS_CACHE_CERT / TLS_CACHE_KEY for the bundled example). While a renewed certificate is rolled out host by host ' +
    'this is expected, and it stops once every host serves the same one'
  );
}

/** Announces this host's certificates to the fleet and compares them with the other hosts'; see the module's documentation. */
export class FleetCertificates {
  /** This host's field in the hash: random, new at each start. */
  readonly hostId = randomBytes(8).toString('hex');
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #sealer: Sealer;
  readonly #certificates: () => readonly string[];
  readonly #interval: number;
  readonly #counters: RedisCounterSink | undefined;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;
  /** Other certificates already warned of, until every host serves the same ones again. */
  readonly #warned = new Set<string>();
  #others = 0;
  #hosts = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #failed = false;

  constructor(options: FleetCertificatesOptions) {
    const { redis, secret, previousSecret, namespace, certificates, interval = fleetCertificatesDefaults.interval, counters, logger, clock = Date.now } = options;
    this.#redis = redis;
    this.#key = hostsKey(namespace);
    this.#sealer = createSealer({ secret, previousSecret, namespace, purpose: 'fleet-host' });
    this.#certificates = certificates;
    this.#interval = interval;
    this.#counters = counters;
    this.#logger = logger;
    this.#clock = clock;
  }

  /** Hosts seen serving certificates other than this host's at the last comparison. */
  get hostsWithOtherCertificate(): number {
    return this.#others;
  }

  /** Other hosts seen announcing (in the last {@link STALE_MS} ms) at the last comparison. */
  get otherHosts(): number {
    return this.#hosts;
  }

  /** Announces and compares now, then every `interval` ms. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.#interval);
    this.#timer.unref();
    void this.check();
  }

  /**
   * One announcement and comparison (the timer's; callable at once, e.g.
   * after a reload). Skipped while Redis is unavailable or this host serves
   * nothing yet. Never rejects.
   */
  check(): Promise<void> {
    this.#running ??= this.#check().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops announcing and deletes this host's announcement (best effort). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#running;
    if (isReady(this.#redis)) await this.#redis.hdel(this.#key, this.hostId).catch(() => undefined);
  }

  async #check(): Promise<void> {
    const mine = [...new Set(this.#certificates())].sort();
    if (this.#closed || mine.length === 0 || !isReady(this.#redis)) return;
    try {
      const now = this.#clock();
      const id = Buffer.from(this.hostId);
      const announcement = this.#sealer.seal(id, Buffer.from(JSON.stringify({ certificates: mine, at: now }))).toString('base64');
      await this.#redis.hset(this.#key, this.hostId, announcement);
      // The hash goes once no host has announced for a while (every host gone).
      await this.#redis.pexpire(this.#key, FORGET_MS);
      const hosts = await this.#redis.hgetall(this.#key);
      const forget: string[] = [];
      let others = 0;
      let seenHosts = 0;
      const otherCertificates = new Set<string>();
      for (const [host, value] of Object.entries(hosts)) {
        if (host === this.hostId) continue;
        const seen = this.#open(host, value);
        if (seen === undefined) continue;
        if (seen.at < now - FORGET_MS) forget.push(host);
        if (seen.at < now - STALE_MS) continue;
        seenHosts++;
        if (seen.certificates.join() === mine.join()) continue;
        others++;
        for (const certificate of seen.certificates) if (!mine.includes(certificate)) otherCertificates.add(certificate);
      }
      if (forget.length > 0) await this.#redis.hdel(this.#key, ...forget);
      if (this.#closed) return;
      this.#hosts = seenHosts;
      this.#compared(mine, others, otherCertificates);
      if (this.#failed) this.#logger?.debug('fleet certificate check recovered');
      this.#failed = false;
    } catch (error) {
      this.#counters?.add('redisErrors');
      if (!this.#failed) this.#logger?.debug({ reason: errorCode(error) }, 'fleet certificate check failed; trying again later');
      this.#failed = true;
    }
  }

  /** Another host's announcement, or `undefined` (counted) when it does not open or parse. */
  #open(host: string, value: string): { certificates: string[]; at: number } | undefined {
    const opened = this.#sealer.open(Buffer.from(host), Buffer.from(value, 'base64'));
    let parsed: unknown;
    try {
      parsed = opened === undefined ? undefined : JSON.parse(opened.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const { certificates, at } = (parsed ?? {}) as { certificates?: unknown; at?: unknown };
    if (!Array.isArray(certificates) || !certificates.every((c) => typeof c === 'string') || typeof at !== 'number') {
      this.#counters?.add('redisRejected');
      return undefined;
    }
    return { certificates: [...certificates].sort(), at };
  }

  /** Logs what changed since the last comparison. */
  #compared(mine: string[], others: number, otherCertificates: Set<string>): void {
    this.#others = others;
    for (const certificate of otherCertificates) {
      if (this.#warned.has(certificate)) continue;
      this.#warned.add(certificate);
      this.#logger?.warn({ certificate: mine.join(' '), otherCertificate: certificate, hosts: others }, otherCertificateWarning());
    }
    if (others === 0 && this.#warned.size > 0) {
      this.#warned.clear();
      this.#logger?.info({ certificate: mine.join(' ') }, 'every host of this deployment serves the same certificate again: sessions resume across them');
    }
  }
}
