/**
 * Redis as the last level of a session store (`store/levelled-store.ts`),
 * for deployments on several hosts: a lookup that the host's own levels
 * missed asks Redis, bounded by a few milliseconds, after which the
 * handshake goes on as a miss. A new session's write is never awaited by a
 * handshake, but it is sent before the handshake finishes: a client that
 * goes straight to another host finds its session there.
 *
 * In Redis a session is sealed (`sealed.ts`: AES-256-GCM under a key
 * derived from the deployment's secret, the session ID as associated data),
 * together with its absolute expiry: `<namespace>:s:<session ID in hex>`
 * holds `seal(id, expiresAt (float64, ms) | session DER)` and expires in
 * Redis at that same moment (`PX`). The session ID is not hashed: it is not
 * secret (it crosses the network in clear in every ClientHello), and plain
 * hex lets an operator find an entry with `redis-cli`. The key has no hash
 * tag: in a Redis Cluster sessions spread over every master, as a sharded
 * Redis is meant to (each lookup and write is one key; only the flush
 * visits every master).
 *
 * A session found in Redis is copied by the store into the faster levels
 * with its sealed absolute expiry ({@link RedisSessionLevel.expiryOf}), so
 * the next lookup of it on this host is local, and it never outlives its
 * first full handshake's lifetime, however many hosts it visits.
 *
 * A session whose connection ended in a fatal alert ({@link
 * RedisSessionLevel.delete}) is deleted from Redis and announced to the
 * other hosts, which delete their copies (`ended-sessions.ts`).
 *
 * Nothing is lost to an outage: a write or an end that could not reach
 * Redis (not connected, or the command failed) is kept
 * (`deferred-writes.ts`) and sent once Redis is back (its `ready` event,
 * and every {@link RETRY_DEFERRED_MS} ms while any wait), a write only if
 * the session is still live and was not ended or forgotten meanwhile.
 *
 * @module
 */
import { ioredis } from './ioredis.ts';
import type { Logger } from 'pino';
import type { CounterName } from '../operations/counters.ts';
import { InvalidOptionError } from '../errors.ts';
import type { LookupMiss } from '../tls/session-hooks.ts';
import type { SessionLevel } from '../store/levelled-store.ts';
import { isReady } from './connection.ts';
import { DEFAULT_MAX_DEFERRED, DeferredWrites, type DeferredWrite } from './deferred-writes.ts';
import { endedChannel, endedMessage, endedSealer } from './ended-sessions.ts';
import { createSealer, type Sealer } from './sealed.ts';
import { dataNodes, type RedisClient } from './topology.ts';

/** Where the store counts: `SharedCounters` is one. */
export interface RedisCounterSink {
  add(name: CounterName, n?: number): void;
}

/** Options of {@link RedisSessionLevel}. */
export interface RedisSessionLevelOptions {
  /** An ioredis connection of any mode (see `connectRedis`); the store does not close it. */
  redis: RedisClient;
  /** The deployment's secret (`TLS_CACHE_REDIS_SECRET`, at least 32 characters). */
  secret: string;
  /**
   * The secret before it (`TLS_CACHE_REDIS_SECRET_PREVIOUS`): sessions it
   * sealed still open, and new ones are sealed under both.
   * @defaultValue none
   */
  previousSecret?: string;
  /** Prefix of every key (`TLS_CACHE_REDIS_NAMESPACE`). */
  namespace: string;
  /** How long a lookup may wait for Redis, in ms (`TLS_CACHE_REDIS_TIMEOUT`). @defaultValue 5 */
  timeout?: number;
  /**
   * Most writes and ends kept while Redis is unavailable, to be sent once it
   * is back (`deferred-writes.ts`). @defaultValue 10000
   */
  maxDeferred?: number;
  /**
   * Counts `redisLookups`, `redisHits`, `redisTimeouts`, `redisErrors`,
   * `redisRejected`, `redisWrites`, `redisDeferred`, `redisDeferredDropped`.
   * @defaultValue none
   */
  counters?: RedisCounterSink;
  /** Where refused entries are reported (at most one line a minute). @defaultValue none */
  logger?: Logger;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
  /**
   * Whether a session is still held on this host: a write deferred by an
   * outage is sent afterwards only if it is (so that a session another
   * thread saw end in a fatal alert meanwhile is not brought back to
   * Redis). A worker thread passes its table's lookup.
   * @defaultValue always held
   */
  stillHeld?: (id: Buffer) => boolean;
}

/** Bytes of the expiry in front of the session inside a sealed value. */
const EXPIRY_BYTES = 8;
/** At most one `redis entry refused` line per this many ms. */
const REFUSAL_LOG_INTERVAL = 60_000;
/** While writes wait for Redis, how often to try them again, in ms (and at once when the connection is ready). */
const RETRY_DEFERRED_MS = 250;
/** Session IDs ended through this store that are remembered, so that a write of one failing late is not retried. */
const REMEMBERED_ENDS = 1024;

/** The Redis key of a session. */
export function sessionKey(namespace: string, id: Uint8Array): string {
  return `${namespace}:s:${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')}`;
}

/** A SCAN pattern matching exactly the keys that start with `prefix`. */
function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}

/**
 * The Redis level; see the module's documentation. A lookup settles within
 * `timeout` ms, or at once while Redis is unavailable; it never rejects.
 */
export class RedisSessionLevel implements SessionLevel {
  readonly name = 'redis';
  readonly #redis: RedisClient;
  readonly #namespace: string;
  readonly #sealer: Sealer;
  readonly #endedSealer: Sealer;
  readonly #wait: number;
  readonly #counters: RedisCounterSink | undefined;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;
  #lastRefusalLog = -Infinity;
  #refusedSinceLog = 0;
  readonly #deferred: DeferredWrites;
  /** Session IDs (hex) ended through this store, newest last. */
  readonly #ends = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #stillHeld: ((id: Buffer) => boolean) | undefined;
  /** The sealed expiry of each session a lookup returned (see {@link expiryOf}). */
  readonly #expiries = new WeakMap<Uint8Array, number>();

  /** @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a bad secret, namespace or timeout. */
  constructor(options: RedisSessionLevelOptions) {
    const { redis, secret, previousSecret, namespace, timeout = 5, maxDeferred = DEFAULT_MAX_DEFERRED, counters, logger, clock = Date.now, stillHeld } =
      options;
    this.#stillHeld = stillHeld;
    if (!Number.isInteger(timeout) || timeout < 1) {
      throw new InvalidOptionError('redisTimeout', `expected whole milliseconds of at least 1, got ${String(timeout)}`);
    }
    if (!Number.isInteger(maxDeferred) || maxDeferred < 0) {
      throw new InvalidOptionError('maxDeferred', `expected a whole number of at least 0, got ${String(maxDeferred)}`);
    }
    this.#deferred = new DeferredWrites(maxDeferred);
    this.#sealer = createSealer({ secret, previousSecret, namespace, purpose: 'session' });
    this.#endedSealer = endedSealer(secret, namespace, previousSecret);
    this.#redis = redis;
    this.#namespace = namespace;
    this.#wait = timeout;
    this.#counters = counters;
    this.#logger = logger;
    this.#clock = clock;
    // The first lookup on a connection runs cold code (ioredis's command and reply paths, this one): run it once
    // when the connection is ready, so that no handshake pays for it against the timeout.
    this.#sealer.open(Buffer.alloc(1), this.#sealer.seal(Buffer.alloc(1), Buffer.alloc(EXPIRY_BYTES + 1)));
    const warmUp = (): void => {
      redis.getBuffer(sessionKey(namespace, Buffer.alloc(1))).catch(() => {});
    };
    if (isReady(redis)) warmUp();
    else redis.once('ready', warmUp);
    redis.on('ready', () => this.#sendDeferred());
  }

  /** Writes and ends waiting for Redis (see {@link RedisSessionLevelOptions.maxDeferred}). */
  get deferred(): number {
    return this.#deferred.size;
  }

  /**
   * The session in Redis, or why not: `not_found`, `expired` (its sealed
   * expiry passed), `timeout` (no answer within `timeout` ms, plus at most
   * one turn of this thread's event loop, so that a reply that arrived
   * while the thread was busy is not counted as late), `unavailable` (Redis
   * not connected: not asked), `unreadable` (the entry did not
   * authenticate), `error` (the command failed).
   */
  lookUp(id: Uint8Array): Uint8Array | LookupMiss | Promise<Uint8Array | LookupMiss> {
    this.#count('redisLookups');
    if (!isReady(this.#redis)) {
      this.#count('redisErrors');
      return 'unavailable';
    }
    return new Promise((resolve) => {
      let settled = false;
      // When the timer fires, a reply may already wait in the socket while this thread was busy (with
      // other handshakes): it is read in this event-loop turn's I/O phase, before setImmediate's. So the
      // bound is Redis's answer time, plus at most one turn of this thread's loop, not the loop's lag.
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return;
          settled = true;
          this.#count('redisTimeouts');
          resolve('timeout');
        });
      }, this.#wait);
      this.#redis.getBuffer(sessionKey(this.#namespace, id)).then(
        (value) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value === null ? 'not_found' : this.#accept(id, value));
        },
        () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          this.#count('redisErrors');
          resolve('error');
        },
      );
    });
  }

  /**
   * The expiry sealed beside a session this level's lookup returned (ms
   * since the epoch): the host that made the session wrote it, so a copy
   * kept on this host never outlives it, even when its DER cannot be read.
   */
  expiryOf(session: Uint8Array): number | undefined {
    return this.#expiries.get(session);
  }

  /**
   * Writes a session to Redis until `expiresAt` (ms since the epoch), in the
   * background but on the wire before this returns; deferred while Redis
   * is unavailable. Returns true.
   */
  put(id: Uint8Array, session: Uint8Array, expiresAt: number): boolean {
    this.#write(id, session, expiresAt);
    return true;
  }

  /**
   * Removes a session for good (its connection ended in a fatal alert):
   * from Redis, then from every other host's table (announced on the
   * `ended` channel), in the background.
   */
  delete(id: Uint8Array): void {
    this.forget(id);
    this.#end({ kind: 'end', id: Buffer.from(id) }, false);
  }

  /**
   * Session `id` ended on this host by another path (a `node:cluster`
   * worker process hears it from the primary): a write of it still waiting
   * for Redis is dropped, and one failing later is not retried.
   */
  forget(id: Uint8Array): void {
    const key = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
    this.#ends.delete(key);
    this.#ends.add(key);
    if (this.#ends.size > REMEMBERED_ENDS) this.#ends.delete(this.#ends.values().next().value as string);
    if (this.#deferred.forget(id)) this.#count('redisDeferredDropped');
  }

  /** Opens a value read from Redis: the session while it lives. */
  #accept(id: Uint8Array, value: Buffer): Uint8Array | 'unreadable' | 'expired' {
    const plain = this.#sealer.open(id, value);
    if (plain === undefined || plain.length <= EXPIRY_BYTES) {
      this.#refused();
      return 'unreadable';
    }
    const expiresAt = plain.readDoubleBE(0);
    const session = plain.subarray(EXPIRY_BYTES);
    if (!(expiresAt > this.#clock())) return 'expired';
    this.#count('redisHits');
    this.#expiries.set(session, expiresAt);
    return session;
  }

  #write(id: Uint8Array, session: Uint8Array, expiresAt: number): void {
    const plain = Buffer.allocUnsafe(EXPIRY_BYTES + session.byteLength);
    plain.writeDoubleBE(expiresAt, 0);
    plain.set(session, EXPIRY_BYTES);
    const sealed = this.#sealer.seal(id, plain);
    plain.fill(0);
    this.#set({ kind: 'set', id: Buffer.from(id), sealed, expiresAt }, false);
  }

  /**
   * Sends a session write, or defers it while Redis is unavailable or when
   * it fails. A `retry` (a deferred write sent again) does not count as a
   * new error, and does not replace a newer operation on the same session.
   */
  #set(write: DeferredWrite & { kind: 'set' }, retry: boolean): void {
    const ttl = Math.ceil(write.expiresAt - this.#clock());
    if (ttl < 1) {
      if (retry) this.#count('redisDeferredDropped');
      return;
    }
    if (!isReady(this.#redis)) {
      this.#defer(write, retry);
      return;
    }
    // Written to the socket now, not auto-pipelined: the pipeline would send it in a later turn of the
    // event loop, after the handshake had finished, and a client going straight to another host would
    // miss it there (how often, measured: docs/redis.md#how-it-works).
    const command = new (ioredis().Command)('set', [sessionKey(this.#namespace, write.id), write.sealed, 'PX', ttl], { keyPrefix: this.#redis.options.keyPrefix });
    this.#redis.sendCommand(command);
    command.promise.then(
      () => this.#count('redisWrites'),
      () => {
        // Ended meanwhile (this store deleted it): a late failure must not bring it back.
        if (!this.#ends.has(write.id.toString('hex'))) this.#defer(write, retry);
        else if (!retry) this.#count('redisErrors');
      },
    );
  }

  /** Deletes an ended session from Redis and announces it, or defers both while Redis is unavailable or when they fail. */
  #end(end: DeferredWrite & { kind: 'end' }, retry: boolean): void {
    if (!isReady(this.#redis)) {
      this.#defer(end, retry);
      return;
    }
    // Sent now and in this order: a host told of the end finds the session gone from Redis too.
    const prefix = { keyPrefix: this.#redis.options.keyPrefix };
    const { Command } = ioredis();
    const unlink = new Command('unlink', [sessionKey(this.#namespace, end.id)], prefix);
    const publish = new Command('publish', [endedChannel(this.#namespace), endedMessage(this.#endedSealer, end.id, this.#clock())], prefix);
    this.#redis.sendCommand(unlink);
    this.#redis.sendCommand(publish);
    Promise.all([unlink.promise, publish.promise]).catch(() => this.#defer(end, retry));
  }

  /**
   * Keeps a write or an end until Redis is back. Its first failure counts
   * as an error and as deferred, not its retries.
   */
  #defer(write: DeferredWrite, retry: boolean): void {
    if (!retry) this.#count('redisErrors');
    // 'superseded': the session ended meanwhile, and its end waits instead.
    const result = this.#deferred.add(write);
    if (result === 'kept, dropped one' || result === 'full') this.#count('redisDeferredDropped');
    if (!retry && (result === 'kept' || result === 'kept, dropped one')) this.#count('redisDeferred');
    if (this.#deferred.size > 0) this.#retryLater();
  }

  /** Tries the deferred writes again in {@link RETRY_DEFERRED_MS} ms (once Redis is ready). */
  #retryLater(): void {
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#sendDeferred();
    }, RETRY_DEFERRED_MS);
    this.#retryTimer.unref();
  }

  /** Sends what waits, once Redis is ready: ends, and writes of sessions still live and not ended. */
  #sendDeferred(): void {
    if (this.#deferred.size === 0) return;
    if (!isReady(this.#redis)) {
      // Not back yet: wait for 'ready', or the next try.
      this.#retryLater();
      return;
    }
    for (const write of this.#deferred.take()) {
      if (write.kind === 'end') {
        this.#end(write, true);
      } else if (this.#ends.has(write.id.toString('hex')) || !this.#holds(write.id)) {
        this.#count('redisDeferredDropped');
      } else {
        this.#set(write, true);
      }
    }
  }

  /** Whether this host still holds session `id` (see {@link RedisSessionLevelOptions.stillHeld}). */
  #holds(id: Buffer): boolean {
    try {
      return this.#stillHeld?.(id) ?? true;
    } catch {
      return false;
    }
  }

  #refused(): void {
    this.#count('redisRejected');
    this.#refusedSinceLog++;
    const now = this.#clock();
    if (now - this.#lastRefusalLog < REFUSAL_LOG_INTERVAL) return;
    this.#logger?.warn(
      { refused: this.#refusedSinceLog },
      'redis entry refused: it does not authenticate (altered in Redis, or written under another secret or namespace)',
    );
    this.#lastRefusalLog = now;
    this.#refusedSinceLog = 0;
  }

  #count(name: CounterName): void {
    this.#counters?.add(name);
  }
}

/**
 * Deletes every session of `namespace` from Redis (SCAN and UNLINK in
 * batches, on every master of a Redis Cluster: sessions are spread over
 * them); resolves to how many were deleted. Used by a fleet-wide flush.
 * Keys go one per UNLINK, pipelined: in a Redis Cluster a multi-key UNLINK
 * across slots fails.
 */
export async function deleteRedisSessions(redis: RedisClient, namespace: string): Promise<number> {
  const pattern = prefixPattern(`${namespace}:s:`);
  let deleted = 0;
  for (const node of dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const pipeline = node.pipeline();
      for (const key of keys) pipeline.unlink(key);
      for (const [error, count] of (await pipeline.exec()) ?? []) if (error === null) deleted += Number(count);
    } while (cursor !== '0');
  }
  return deleted;
}
