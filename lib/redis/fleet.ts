/**
 * What the hosts of one deployment share through Redis besides sessions:
 * the session ticket keys, and flushes. Run by each host's primary.
 *
 * **Ticket keys.** Redis holds numbered key records, `{<ns>}:tk:<n>`, each
 * sealed (`sealed.ts`, purpose `ticket-key`, associated data `tk:<n>`):
 * the 48 key bytes, when the key started encrypting (the creating host's
 * clock), and the flush generation it was made in. A hash `{<ns>}:fleet`
 * holds `head` (the number of the key that encrypts), `flush` (the flush
 * generation) and `id` (random, set with the first key: a new one means
 * Redis lost the state and the numbering started again). A new key is made by exactly one host: a Lua script sets
 * `tk:<head+1>` and advances `head` only if `head` and `flush` are still
 * what that host read (compare-and-set); every other host that tried at the
 * same moment loses and loads the winner's key. Every host builds its ring
 * from the same records, so every ring holds the same keys with the same
 * windows: key n encrypts from its creation until key n+1's creation, then
 * decrypts for `timeout` more, as in a single host's ring.
 *
 * A host rotates when the head key has encrypted for `rotate` ms on its own
 * clock, or when told to (`rotateNow`, SIGUSR1); it learns of other hosts'
 * changes at once through pub/sub (`{<ns>}:fleet` channel) and, should a
 * message be lost, by polling `head` every `pollInterval` ms.
 *
 * **Hash tags.** `{<ns>}` in every fleet key puts them all in one slot of a
 * Redis Cluster, so that the compare-and-set script and the reading of
 * several records at once (MGET) work there too; sessions have keys of
 * their own, spread over the masters (`session-store.ts`).
 *
 * **A previous secret.** A record that opens only under the previous
 * secret (made by a host not yet on the new one) is sealed again under both
 * by the first host that has both, if it is still the same record (a
 * compare-and-set): once every host runs on both secrets, every live record
 * opens under the new one alone, and the previous secret can go.
 *
 * **Flush.** `flush()` increments `flush`: every host's primary sees the new
 * generation (pub/sub or poll) and clears its table; key records of an older
 * generation no longer load, so the first host to see the flush makes a
 * new key (the flushing host does at once); and the sessions of the
 * namespace are deleted from Redis.
 *
 * **Sessions ended by a fatal alert.** The same subscriber listens on
 * `<ns>:ended` (`ended-sessions.ts`): a message that opens under this
 * deployment's secret names a session another host saw end in a fatal
 * alert, and the fleet emits `sessionEnded` (the runtime deletes this
 * host's copy); one that does not is counted (`redisRejected`).
 *
 * **Redis unavailable.** Nothing waits for it: the host keeps the keys it
 * has, its current key keeps encrypting (no host-local rotation, so hosts
 * never diverge), keys whose window ends stop decrypting on time, and the
 * first sync after Redis is back rotates if one is due. If Redis comes back
 * empty (restarted without persistence), the keys the host held stay as
 * decrypt-only keys for the rest of their window next to the fleet's new
 * key, so tickets issued before the outage still resume. Likewise the keys
 * a host made on its own (started while Redis was away, or flushed then)
 * stay as decrypt-only keys once it loads the fleet's.
 *
 * **Clocks.** Creation times come from the creating host's clock, and each
 * host checks windows on its own: a host whose clock is s ms off ends a
 * window s ms early or late, and may rotate s ms early (the compare-and-set
 * still makes one key per rotation). Keep hosts NTP-synchronised; skew well
 * under the session timeout only shifts windows by that skew.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { randomBytes, randomFillSync } from 'node:crypto';
import { InvalidOptionError } from '../errors.ts';
import { errorCode, isReady, watchOutages } from './connection.ts';
import { deleteRedisSessions, type RedisCounterSink } from './session-store.ts';
import { createSealer, type Sealer } from './sealed.ts';
import { endedChannel, endedSealer, openEndedMessage } from './ended-sessions.ts';
import { duplicateClient, type RedisClient } from './topology.ts';
import { TICKET_KEY_BYTES } from '../tickets/ticket-key.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';
import type { TicketKeyRingState, TicketKeyState } from '../tickets/ring-state.ts';

/** Options of {@link RedisFleet}. */
export interface RedisFleetOptions {
  /** The primary's Redis connection (`connectRedis`), of any mode; the fleet does not close it. */
  redis: RedisClient;
  /** The deployment's secret (at least 32 characters). */
  secret: string;
  /** The secret before it (`TLS_CACHE_REDIS_SECRET_PREVIOUS`). @defaultValue none */
  previousSecret?: string;
  /** Prefix of every Redis key and channel of the deployment. */
  namespace: string;
  /**
   * The ring to fill with the fleet's keys, or `undefined` when this host
   * shares no ticket keys (tickets off, or fixed keys from files): flushes
   * still reach it.
   */
  ring: TicketKeyRing | undefined;
  /** Session lifetime in whole seconds. */
  timeout: number;
  /** How long a key encrypts, in ms. */
  rotate: number;
  /** How often `head` and `flush` are polled when no message came, in ms. @defaultValue 1000 */
  pollInterval?: number;
  /** Counts `redisRejected`, `redisErrors`, `ticketKeyRotations`. @defaultValue none */
  counters?: RedisCounterSink;
  logger?: Logger;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
}

/** Events of a {@link RedisFleet}. */
export interface RedisFleetEvents {
  /** The ring now holds other keys (the runtime tells its servers). */
  ticketKeys: [];
  /** Another host flushed the fleet: clear this host's table. */
  flush: [];
  /** Another host saw this session end in a fatal alert: delete this host's copy. */
  sessionEnded: [id: Buffer];
}

/** What {@link RedisFleet.flush} did. */
export interface FleetFlushResult {
  /** The new flush generation, or `undefined` when Redis could not be reached. */
  generation: number | undefined;
  /** Sessions deleted from Redis. */
  redisSessions: number;
}

/** A key record once opened. */
interface KeyRecord {
  n: number;
  flush: number;
  createdAt: number;
  key: Buffer;
}

const RECORD_VERSION = 1;
/** version (1) | flush generation (4) | created at (float64, 8) | key (48). */
const RECORD_BYTES = 1 + 4 + 8 + TICKET_KEY_BYTES;
/** Records stay in Redis this long after their key's last possible use. */
const SLACK_MS = 60_000;
/** Shortest wait between two syncs planned by the timer. */
const MIN_WAIT_MS = 10;
/** Node.js timers hold at most 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Compare-and-set of a new key: KEYS = fleet hash, new record, previous
 * record; ARGV = expected head, expected flush, sealed record, its TTL, the
 * previous record's TTL from now, channel, an identity for a new fleet state.
 * Returns {won, head, flush}.
 */
const ADVANCE = `
local head = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
local flush = tonumber(redis.call('HGET', KEYS[1], 'flush') or '0')
if head ~= tonumber(ARGV[1]) or flush ~= tonumber(ARGV[2]) then return {0, head, flush} end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
if head > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end
redis.call('HSET', KEYS[1], 'head', head + 1)
redis.call('HSETNX', KEYS[1], 'id', ARGV[7])
redis.call('PUBLISH', ARGV[6], 'keys')
return {1, head + 1, flush}
`;

/** Replaces a record only if it is still the value read: KEYS = record; ARGV = value read, value sealed again. */
const RESEAL = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') return 1 end
return 0
`;

/** A new flush generation: KEYS = fleet hash; ARGV = channel. Returns {head, flush}. */
const FLUSH = `
local flush = redis.call('HINCRBY', KEYS[1], 'flush', 1)
local head = tonumber(redis.call('HGET', KEYS[1], 'head') or '0')
redis.call('PUBLISH', ARGV[1], 'flush')
return {head, flush}
`;

/** The Redis key of ticket key record `n` (hash-tagged: every fleet key is in one Redis Cluster slot). */
export function ticketKeyRecordKey(namespace: string, n: number): string {
  return `{${namespace}}:tk:${n}`;
}

/** The fleet's hash (`head`, `flush`) and pub/sub channel (hash-tagged like the records). */
export function fleetKey(namespace: string): string {
  return `{${namespace}}:fleet`;
}

/** Fleet-wide ticket keys and flushes for one host; see the module's documentation. */
export class RedisFleet extends EventEmitter<RedisFleetEvents> {
  readonly #redis: RedisClient;
  readonly #subscriber: RedisClient;
  readonly #namespace: string;
  readonly #sealer: Sealer;
  /** Opens the messages of sessions ended by a fatal alert. */
  readonly #endedSealer: Sealer;
  readonly #ring: TicketKeyRing | undefined;
  readonly #timeoutMs: number;
  readonly #rotate: number;
  readonly #poll: number;
  readonly #counters: RedisCounterSink | undefined;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;
  /** Syncs, rotations and flushes run one at a time, in order. */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** What this host last read, -1 before the first read. */
  #head = -1;
  #flush = -1;
  /**
   * The fleet state's identity (random, set with the first key), as last
   * read: `undefined` before the first read, `null` while Redis has none. A
   * different one means Redis lost the state (restarted empty) and the
   * numbering started again.
   */
  #id: string | null | undefined;
  /** Flush generations this host made (already applied locally). */
  readonly #ownFlushes = new Set<number>();
  /** The keys last loaded into the ring, newest first. */
  #loaded: TicketKeyState[] = [];
  #loadedSignature = '';
  /** After Redis lost the fleet's state: the keys this host held then, decrypting until their window ends. */
  #orphans: TicketKeyState[] = [];
  /** Record numbers already reported as refused (reported once each). */
  readonly #refusedRecords = new Set<number>();
  #syncFailures = 0;
  /** Set once {@link start} returned: from then on, keys the ring holds that Redis never had were in use. */
  #started = false;

  /** @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a bad secret, namespace, timeout or rotation. */
  constructor(options: RedisFleetOptions) {
    super();
    const { redis, secret, previousSecret, namespace, ring, timeout, rotate, pollInterval = 1000, counters, logger, clock = Date.now } = options;
    if (!Number.isInteger(timeout) || timeout < 1) throw new InvalidOptionError('timeout', 'expected whole seconds of at least 1');
    if (!Number.isInteger(rotate) || rotate < 1) throw new InvalidOptionError('ticketRotate', 'expected whole milliseconds of at least 1');
    if (!Number.isInteger(pollInterval) || pollInterval < 1) throw new InvalidOptionError('pollInterval', 'expected whole milliseconds of at least 1');
    if (ring?.fixed) throw new InvalidOptionError('ring', 'a ring of fixed keys (from files) is not shared through Redis');
    this.#sealer = createSealer({ secret, previousSecret, namespace, purpose: 'ticket-key' });
    this.#redis = redis;
    this.#namespace = namespace;
    this.#ring = ring;
    this.#timeoutMs = timeout * 1000;
    this.#rotate = rotate;
    this.#poll = pollInterval;
    this.#counters = counters;
    this.#logger = logger;
    this.#clock = clock;
    this.#endedSealer = endedSealer(secret, namespace, previousSecret);
    this.#subscriber = duplicateClient(redis);
    watchOutages(this.#subscriber, undefined, { role: 'fleet messages', outageLevel: 'debug', connectedLevel: 'debug' });
    const ended = endedChannel(namespace);
    this.#subscriber.on('ready', () => {
      this.#subscriber.subscribe(fleetKey(namespace), ended).catch(() => {
        // Polling still converges; the next 'ready' subscribes again.
      });
    });
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === ended) this.#ended(message);
      else this.#enqueueSync();
    });
    // Back from an outage: catch up at once rather than at the next poll.
    redis.on('ready', this.#onReady);
  }

  readonly #onReady = (): void => this.#enqueueSync();

  /** A session another host saw end in a fatal alert, if the message opens. */
  #ended(message: string): void {
    if (this.#closed) return;
    const id = openEndedMessage(this.#endedSealer, message);
    if (id === undefined) this.#counters?.add('redisRejected');
    else this.emit('sessionEnded', id);
  }

  /** Whether this fleet fills a ring (else it only carries flushes). */
  get sharesTicketKeys(): boolean {
    return this.#ring !== undefined;
  }

  /**
   * Waits up to `wait` ms for Redis, loads the fleet's keys into the ring
   * (making the first key if there is none), and starts polling. Resolves
   * even when Redis cannot be reached: the host then runs on its own keys
   * and syncs once Redis answers.
   */
  async start(wait = 2000): Promise<void> {
    if (!isReady(this.#redis)) {
      const redis = this.#redis;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        redis.once('ready', done);
      });
    }
    await this.#enqueue(() => this.#sync());
    this.#started = true;
  }

  /**
   * Makes a new fleet key now (every host loads it within moments); the
   * previous ones keep decrypting for their window. Resolves to false when
   * Redis cannot be reached (the keys stay as they are).
   */
  rotateNow(): Promise<boolean> {
    return this.#enqueue(async () => {
      if (this.#ring === undefined || !isReady(this.#redis)) return false;
      await this.#read();
      await this.#advance(this.#head, this.#flush);
      await this.#sync();
      return true;
    });
  }

  /**
   * Flushes the fleet: every session of the namespace deleted from Redis, a
   * new flush generation (every other host clears its table and drops its
   * keys), a new key, and the sessions deleted again. The caller clears
   * this host's table.
   *
   * The sessions go before the other hosts hear of the flush: a host that
   * cleared its table and then looked a session up in Redis would copy it
   * back (seen under load in `test/long/redis-processes.ts`). The second pass
   * takes what hosts wrote in between, before they heard.
   */
  flush(): Promise<FleetFlushResult> {
    return this.#enqueue(async () => {
      if (!isReady(this.#redis)) return { generation: undefined, redisSessions: 0 };
      let redisSessions = await deleteRedisSessions(this.#redis, this.#namespace);
      const [, flush] = (await this.#redis.eval(FLUSH, 1, fleetKey(this.#namespace), fleetKey(this.#namespace))) as [number, number];
      this.#ownFlushes.add(flush);
      await this.#sync();
      redisSessions += await deleteRedisSessions(this.#redis, this.#namespace);
      return { generation: flush, redisSessions };
    });
  }

  /** Stops polling and closes the subscriber connection (not the main one). Zeroes the key copies. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#redis.off('ready', this.#onReady);
    this.#subscriber.disconnect();
    for (const entry of [...this.#loaded, ...this.#orphans]) entry.key.fill(0);
    this.#loaded = [];
    this.#orphans = [];
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #enqueueSync(): void {
    if (this.#closed) return;
    this.#enqueue(() => this.#sync()).catch(() => {
      // #sync reports its own failures.
    });
  }

  /** Reads the fleet's state, makes a key when one is due or missing, loads the ring, plans the next sync. */
  async #sync(): Promise<void> {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    // While Redis is away nothing is tried (the connection logs the outage); the next 'ready' syncs at once.
    if (isReady(this.#redis)) {
      try {
        await this.#syncNow();
        if (this.#syncFailures > 0) this.#logger?.info({ failures: this.#syncFailures }, 'fleet sync recovered');
        this.#syncFailures = 0;
      } catch (error) {
        this.#counters?.add('redisErrors');
        if (this.#syncFailures++ === 0) this.#logger?.warn({ reason: errorCode(error) }, 'fleet sync failed; keeping the current keys');
      }
    }
    this.#plan();
  }

  async #syncNow(): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      await this.#read();
      if (this.#ring === undefined) return;
      const records = await this.#records();
      const now = this.#clock();
      const head = records[0];
      if (head === undefined || head.n !== this.#head || head.createdAt + this.#rotate <= now) {
        if (attempt < 3) {
          await this.#advance(this.#head, this.#flush);
          continue;
        }
      }
      this.#load(records, now);
      return;
    }
  }

  /**
   * Reads `head` and `flush`; emits `flush` for another host's flush.
   * Returns whether Redis lost the fleet's state (it went back).
   */
  async #read(): Promise<boolean> {
    const [headText, flushText, id] = await this.#redis.hmget(fleetKey(this.#namespace), 'head', 'flush', 'id');
    const head = Number(headText ?? 0);
    const flush = Number(flushText ?? 0);
    const dataLoss = typeof this.#id === 'string' && id !== this.#id;
    if (this.#flush >= 0 && flush > this.#flush && !dataLoss) {
      this.#orphans = [];
      const remote = [...range(this.#flush + 1, flush)].some((generation) => !this.#ownFlushes.has(generation));
      if (remote) {
        this.#logger?.info({ generation: flush }, 'fleet flushed by another host: every session and ticket key of this host is gone');
        this.emit('flush');
      }
    }
    if (dataLoss) {
      // Keep what this host held (not flushed) as decrypt-only keys for the rest of their window.
      const now = this.#clock();
      this.#orphans = this.#loaded.map((entry) => ({
        ...entry,
        key: Buffer.from(entry.key),
        retired: entry.retired === 0 ? now : entry.retired,
        until: entry.retired === 0 ? now + this.#timeoutMs : entry.until,
      }));
      this.#logger?.warn({ head, flush }, 'redis lost the fleet state (restarted empty?): keeping this host\'s keys for their window');
      this.#refusedRecords.clear();
    }
    this.#head = head;
    this.#flush = flush;
    this.#id = id;
    return dataLoss;
  }

  /** The live chain of records from the head down, newest first: stops at a gap, a refusal or an older flush generation. */
  async #records(): Promise<KeyRecord[]> {
    const slots = this.#ring!.stats().slots;
    const numbers: number[] = [];
    for (let n = this.#head; n >= 1 && numbers.length < slots; n--) numbers.push(n);
    if (numbers.length === 0) return [];
    const values = await this.#redis.mgetBuffer(...numbers.map((n) => ticketKeyRecordKey(this.#namespace, n)));
    const records: KeyRecord[] = [];
    for (let i = 0; i < numbers.length; i++) {
      const value = values[i];
      if (value === null) break;
      const record = this.#open(numbers[i], value);
      if (record === undefined || record.flush < this.#flush) break;
      records.push(record);
    }
    return records;
  }

  #open(n: number, value: Buffer): KeyRecord | undefined {
    const id = Buffer.from(`tk:${n}`);
    const opened = this.#sealer.openChecked(id, value);
    const plain = opened?.plaintext;
    if (plain === undefined || plain.length !== RECORD_BYTES || plain[0] !== RECORD_VERSION) {
      plain?.fill(0);
      if (!this.#refusedRecords.has(n)) {
        this.#refusedRecords.add(n);
        this.#counters?.add('redisRejected');
        this.#logger?.warn({ record: n }, 'redis ticket key record refused: it does not authenticate (altered, or another secret or namespace)');
      }
      return undefined;
    }
    const record = { n, flush: plain.readUInt32BE(1), createdAt: plain.readDoubleBE(5), key: Buffer.from(plain.subarray(13)) };
    if (opened?.current === false) this.#reseal(n, value, this.#sealer.seal(id, plain));
    plain.fill(0);
    return record;
  }

  /** Seals a record made under the previous secret alone again, under both (in the background; another host may do it first). */
  #reseal(n: number, read: Buffer, sealed: Buffer): void {
    this.#redis.eval(RESEAL, 1, ticketKeyRecordKey(this.#namespace, n), read, sealed).then(
      (replaced) => {
        if (replaced === 1) this.#logger?.debug({ record: n }, 'ticket key record sealed again under the current and previous secrets');
      },
      () => {
        // The next sync tries again.
      },
    );
  }

  /** Tries to make key `head + 1` (compare-and-set); either way the caller reads again. */
  async #advance(head: number, flush: number): Promise<void> {
    const n = head + 1;
    const key = randomFillSync(Buffer.alloc(TICKET_KEY_BYTES));
    const plain = Buffer.alloc(RECORD_BYTES);
    plain[0] = RECORD_VERSION;
    plain.writeUInt32BE(flush, 1);
    plain.writeDoubleBE(this.#clock(), 5);
    key.copy(plain, 13);
    const sealed = this.#sealer.seal(Buffer.from(`tk:${n}`), plain);
    plain.fill(0);
    key.fill(0);
    const [won] = (await this.#redis.eval(
      ADVANCE,
      3,
      fleetKey(this.#namespace),
      ticketKeyRecordKey(this.#namespace, n),
      ticketKeyRecordKey(this.#namespace, head),
      head,
      flush,
      sealed,
      this.#rotate + this.#timeoutMs + SLACK_MS,
      this.#timeoutMs + SLACK_MS,
      fleetKey(this.#namespace),
      randomBytes(8).toString('hex'),
    )) as [number, number, number];
    if (won === 1) this.#logger?.debug({ record: n }, 'made the fleet\'s next ticket key');
  }

  /** Puts the chain's keys (and, after a data loss, this host's previous ones) into the ring when they changed. */
  #load(records: KeyRecord[], now: number): void {
    const ring = this.#ring!;
    const slots = ring.stats().slots;
    const entries: TicketKeyState[] = [];
    for (let i = 0; i < records.length; i++) {
      const retired = i === 0 ? 0 : records[i - 1].createdAt;
      const until = i === 0 ? Infinity : retired + this.#timeoutMs;
      if (until <= now) break;
      entries.push({ slot: entries.length, key: records[i].key, created: records[i].createdAt, retired, until });
    }
    if (entries.length === 0) return;
    if (this.#started) this.#adoptLocalKeys(now);
    this.#orphans = this.#orphans.filter((orphan) => orphan.until > now);
    const names = new Set(entries.map((e) => nameOf(e.key)));
    for (const orphan of this.#orphans) {
      if (entries.length >= slots || names.has(nameOf(orphan.key))) continue;
      entries.push({ ...orphan, slot: entries.length, key: Buffer.from(orphan.key) });
    }
    const signature = entries.map((e) => `${nameOf(e.key)}/${e.retired}/${e.until}`).join(',');
    if (signature === this.#loadedSignature) {
      for (const record of records) record.key.fill(0);
      return;
    }
    const state: TicketKeyRingState = { slots, fixed: false, current: 0, timeout: ring.timeout, rotate: ring.rotate, keys: entries };
    const rotated = this.#loaded.length > 0 && nameOf(this.#loaded[0].key) !== nameOf(entries[0].key);
    ring.load(state);
    for (const entry of this.#loaded) entry.key.fill(0);
    this.#loaded = entries;
    this.#loadedSignature = signature;
    for (const record of records) if (!entries.some((e) => e.key === record.key)) record.key.fill(0);
    if (rotated) this.#counters?.add('ticketKeyRotations');
    this.#logger?.debug({ head: this.#head, keys: entries.length, flush: this.#flush }, 'fleet ticket keys loaded');
    this.emit('ticketKeys');
  }

  /**
   * Keys in the ring that did not come from Redis (made by this host while
   * Redis was away at start, or by a flush while it was away) issued tickets:
   * they stay as decrypt-only keys for the rest of their window.
   */
  #adoptLocalKeys(now: number): void {
    const known = new Set([...this.#loaded, ...this.#orphans].map((entry) => nameOf(entry.key)));
    for (const local of this.#ring!.snapshot().keys) {
      const retired = local.retired === 0 ? now : local.retired;
      const until = local.retired === 0 ? now + this.#timeoutMs : local.until;
      if (known.has(nameOf(local.key)) || !(until > now)) {
        local.key.fill(0);
        continue;
      }
      this.#orphans.push({ ...local, retired, until });
    }
  }

  /** The next sync: at the next rotation, the next end of a window, or the next poll, whichever comes first. */
  #plan(): void {
    if (this.#closed) return;
    const now = this.#clock();
    let due = now + this.#poll;
    // Only times still ahead: a rotation overdue because Redis is away waits for the next poll.
    const head = this.#loaded[0];
    if (head !== undefined && head.created + this.#rotate > now) due = Math.min(due, head.created + this.#rotate);
    for (const entry of this.#loaded) if (entry.until > now) due = Math.min(due, entry.until);
    const wait = Math.min(Math.max(MIN_WAIT_MS, due - now), MAX_TIMER_MS);
    this.#timer = setTimeout(() => this.#enqueueSync(), wait);
    this.#timer.unref();
  }
}

function nameOf(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, 16).toString('hex');
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i <= to; i++) yield i;
}
