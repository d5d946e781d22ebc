/**
 * A bounded hash table of TLS sessions in one SharedArrayBuffer, shared by
 * every thread that opens it: the public class, {@link SessionTable}.
 *
 * - Shards, each with a ring of records (FIFO: the oldest record is the first
 *   to expire, since every entry lives the same absolute time) and an index
 *   of 16-slot buckets. Each key may live in one of two buckets (two-choice
 *   hashing under a random per-table HalfSipHash-1-3 key), so a lookup reads
 *   at most 32 slots.
 * - Memory, not arithmetic, is what a lookup in a large table costs: its
 *   bucket and its record are each a cache miss (and usually a TLB miss).
 *   What can be fetched in parallel is: a lookup touches both buckets' cache
 *   lines before scanning either, then all the lines of the record before
 *   reading it, so a hit waits for two memory accesses one after the other
 *   (the bucket tells where the record is), and a miss for one. A write
 *   likewise touches its key's buckets and the record it will evict before
 *   taking the lock. Keys are hashed and compared a 32-bit word at a time
 *   (records keep them 4-byte aligned), and sessions are copied out a word
 *   at a time (into Node's Buffer pool, as `Buffer.allocUnsafe` does).
 * - Reads take no lock. A reader checks the slot's version word before and
 *   after copying the record (with a full fence between): writers clear a
 *   slot before its record's bytes can be reused, so an unchanged version
 *   proves the copy whole. A changed one is retried a bounded number of
 *   times, then answered as a miss.
 * - Writers take a per-shard lock tagged with their thread's owner id, for a
 *   bounded time; a busy shard refuses the write rather than blocking. When a
 *   thread dies holding a lock, the creating thread calls
 *   {@link SessionTable.releaseOwner}, which checks and repairs the shard and
 *   frees it, as nginx's master does for a dead worker.
 *
 * The class checks arguments, takes the locks and counts; the work is in
 * the modules beside it, each a set of functions over a {@link TableMemory}:
 *
 * - `layout.ts`: the memory layout (header, counters, shards, slots, records).
 * - `memory.ts`: one thread's view of that memory, and how to address it.
 * - `lookup.ts`: the lock-free lookup behind lookUp() (and get(), getInto()).
 * - `write.ts`: storing a record, and the evictions that make room for it.
 * - `locks.ts`: the owner-tagged shard locks.
 * - `repair.ts`: emptying, checking and repairing a shard.
 *
 * @module
 */
import { describe } from '../describe.ts';
import { InvalidOptionError, InvalidSessionError, InvalidSessionIdError } from '../errors.ts';
import {
  C,
  MAX_KEY_BYTES,
  MAX_RING_BYTES,
  MAX_TIME_MS,
  S,
  planGeometry,
  readHeader,
  recordBytes,
  writeHeader,
  type Geometry,
} from './layout.ts';
import { lock, lockWait, tryLock, unlock } from './locks.ts';
import { lookup } from './lookup.ts';
import { TableMemory } from './memory.ts';
import { problemsOf, repair, reset } from './repair.ts';
import { dropSlot, evictExpired, findSlot, insert, touchForInsert } from './write.ts';

/** Options of {@link SessionTable.create}. */
export interface SessionTableOptions {
  /**
   * Byte budget of the whole table, metadata included; the buffer is
   * allocated once at this size (or a few bytes under) and never grows.
   * From 64 KiB to 2 GiB.
   * @defaultValue 32 MiB (about 160,000 typical TLS 1.2 sessions)
   */
  size?: number;
  /**
   * Largest session blob accepted, in bytes; larger ones are refused with
   * `ERR_TLS_CACHE_INVALID_SESSION`. From 1 to 65536.
   * @defaultValue 8192 (as nginx)
   */
  maxSessionSize?: number;
  /**
   * Absolute lifetime of an entry in whole seconds, from the moment it is
   * stored. A lookup never extends it. From 1 to 604800 (7 days, the longest
   * ticket lifetime RFC 8446 allows).
   * @defaultValue 300 (Node's own `sessionTimeout`)
   */
  timeout?: number;
  /**
   * Current time in milliseconds. Inject one to test expiry without sleeping.
   * @defaultValue `Date.now`
   */
  clock?: () => number;
  /**
   * How often, in milliseconds, the creating thread removes expired entries;
   * 0 turns the sweep off. The timer does not keep the process alive.
   * @defaultValue 10000
   */
  sweepInterval?: number;
}

/** Options of {@link SessionTable.open}. */
export interface OpenTableOptions {
  /** Current time in milliseconds. @defaultValue `Date.now` */
  clock?: () => number;
}

/** Totals across every thread, read from the shared counters. */
export interface TableStats {
  /** Live entries (expired ones count until swept or evicted). */
  entries: number;
  /** Bytes of live records (header, ID and session, padded to 8). */
  bytesInUse: number;
  /** Bytes available for records. */
  capacityBytes: number;
  /** Most entries the index admits at once. */
  capacityEntries: number;
  /** Size of the SharedArrayBuffer. */
  bufferBytes: number;
  hits: number;
  misses: number;
  inserts: number;
  deletes: number;
  evictions: {
    /** Expired entries removed to make room or by the sweep. */
    expired: number;
    /** Live entries removed because the table was full (oldest first). */
    capacity: number;
    /** Live entries removed because both buckets of a new key were full. */
    overflow: number;
    /** Entries dropped while repairing a shard left by a dead thread. */
    repair: number;
    /** Entries removed by {@link SessionTable.clear}. */
    cleared: number;
  };
  refusals: {
    /** Session IDs that were not 1 to 32 bytes. */
    sessionId: number;
    /** Session blobs that were empty or not bytes. */
    session: number;
    /** Session blobs over `maxSessionSize`. */
    tooLarge: number;
    /** Writes that gave up because their shard stayed locked. */
    busy: number;
  };
  /** Lookups that raced a writer and read again. */
  readRetries: number;
}

const DEFAULTS = {
  size: 32 * 1024 * 1024,
  maxSessionSize: 8192,
  timeout: 300,
  sweepInterval: 10_000,
};
const MIN_SIZE = 64 * 1024;
/** What {@link SessionTable.getInto} answers for a session that is there but expired (`'expired'` from {@link SessionTable.lookUp}). */
export const EXPIRED_LENGTH = -2;
const MAX_SIZE = 2 * 1024 * 1024 * 1024;
const MAX_SESSION_SIZE = 65536;
const MAX_TIMEOUT = 604_800;

/**
 * A session table. Create it once (in the primary) with
 * {@link SessionTable.create}, pass `table.buffer` to other threads, and open
 * it there with {@link SessionTable.open}. All methods may be called from any
 * thread at any time.
 */
export class SessionTable {
  /** The shared memory; post it to worker threads to share the table. */
  readonly buffer: SharedArrayBuffer;
  /** Absolute lifetime of entries, in seconds. */
  readonly timeout: number;
  /** Largest session accepted, in bytes. */
  readonly maxSessionSize: number;

  /** This thread's view of the buffer, which the modules beside this one work on. */
  readonly #m: TableMemory;
  #sweeper: NodeJS.Timeout | undefined;

  private constructor(buffer: SharedArrayBuffer, g: Geometry, clock: () => number) {
    this.buffer = buffer;
    this.#m = new TableMemory(buffer, g, clock);
    this.timeout = g.timeoutSeconds;
    this.maxSessionSize = g.maxSessionSize;
  }

  /**
   * Allocates a new table. The calling thread becomes its keeper: it runs the
   * sweep timer and should call {@link releaseOwner} when a thread using the
   * table dies.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for an option of the wrong type or range.
   */
  static create(options: SessionTableOptions = {}): SessionTable {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
    }
    const size = integerOption(options, 'size', DEFAULTS.size, MIN_SIZE, MAX_SIZE);
    const maxSessionSize = integerOption(options, 'maxSessionSize', DEFAULTS.maxSessionSize, 1, MAX_SESSION_SIZE);
    const timeout = integerOption(options, 'timeout', DEFAULTS.timeout, 1, MAX_TIMEOUT);
    const sweepInterval = integerOption(options, 'sweepInterval', DEFAULTS.sweepInterval, 0, 2 ** 31 - 1);
    const clock = clockOption(options.clock);
    const g = planGeometry(size, maxSessionSize, timeout);
    if (g.ringBytes < 2 * recordBytes(MAX_KEY_BYTES, maxSessionSize) || g.ringBytes > MAX_RING_BYTES) {
      throw new InvalidOptionError(
        'size',
        `${size} bytes leave ${g.ringBytes} bytes per shard, too little for sessions of up to ${maxSessionSize} bytes; raise size or lower maxSessionSize`,
      );
    }
    const buffer = new SharedArrayBuffer(g.byteLength);
    writeHeader(new Int32Array(buffer), g);
    const table = new SessionTable(buffer, g, clock);
    if (sweepInterval > 0) {
      table.#sweeper = setInterval(() => table.sweep(), sweepInterval);
      table.#sweeper.unref();
    }
    return table;
  }

  /**
   * Opens a table created elsewhere (usually in another thread) from its buffer.
   * @throws InvalidTableBufferError (`ERR_TLS_CACHE_INVALID_BUFFER`) when the buffer is not a table.
   */
  static open(buffer: SharedArrayBuffer, options: OpenTableOptions = {}): SessionTable {
    const g = readHeader(buffer);
    return new SessionTable(buffer, g, clockOption(options?.clock));
  }

  /**
   * Looks up a session by ID: the one way to (the others are forms of it).
   * Answers the session, or why there is none: `'not_found'`, or
   * `'expired'` (an entry past its lifetime, not yet swept or evicted),
   * the `Lookup` a `SessionStore`'s `lookUp` answers. Never blocks and
   * never extends a lifetime.
   *
   * Without `target`, the session is a copy of its own. With `target` (at
   * least {@link maxSessionSize} bytes, outside the table's buffer), it is
   * copied there and answered as `target.subarray(0, length)`: no memory
   * for the session is allocated, so a thread doing many lookups makes no
   * garbage; the view is valid until `target` is used again. How the store
   * levels and the TLS hooks look up.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`, option `target`) for a `target` that is not a Uint8Array of at least {@link maxSessionSize} bytes outside the table's buffer.
   */
  lookUp(id: Uint8Array): Buffer | 'not_found' | 'expired';
  lookUp(id: Uint8Array, target: Buffer): Buffer | 'not_found' | 'expired';
  lookUp(id: Uint8Array, target: Uint8Array): Uint8Array | 'not_found' | 'expired';
  lookUp(id: Uint8Array, target?: Uint8Array): Uint8Array | 'not_found' | 'expired' {
    if (target !== undefined) {
      const length = this.#into(id, target);
      return length >= 0 ? target.subarray(0, length) : length === EXPIRED_LENGTH ? 'expired' : 'not_found';
    }
    this.#checkId(id);
    const m = this.#m;
    return (lookup(m, id) as Buffer | undefined) ?? (m.expired ? 'expired' : 'not_found');
  }

  /**
   * {@link lookUp} without the reason, the form a `SessionStore` must
   * have: a copy of the session, or `undefined` when it is absent or
   * expired.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   */
  get(id: Uint8Array): Buffer | undefined {
    this.#checkId(id);
    return lookup(this.#m, id) as Buffer | undefined;
  }

  /**
   * {@link lookUp} into `target`, answered as a length: the session is
   * `target.subarray(0, length)`; -1 when it is absent, {@link
   * EXPIRED_LENGTH} (-2) when it is there but expired (`target`'s contents
   * are then unspecified).
   * @deprecated Use `lookUp(id, target)`, which answers the session or why there is none. Kept while the TLS hooks (`tls/session-hooks.ts`) still call it.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`, option `target`) unless `target` is a Uint8Array of at least {@link maxSessionSize} bytes outside the table's buffer.
   */
  getInto(id: Uint8Array, target: Uint8Array): number {
    return this.#into(id, target);
  }

  /** The copy into `target` behind {@link lookUp} and {@link getInto}: the session's length, -1, or {@link EXPIRED_LENGTH}. */
  #into(id: Uint8Array, target: Uint8Array): number {
    this.#checkId(id);
    if (!(target instanceof Uint8Array) || target.length < this.maxSessionSize || target.buffer === this.buffer) {
      throw new InvalidOptionError(
        'target',
        !(target instanceof Uint8Array)
          ? `expected a Uint8Array, got ${describe(target)}`
          : target.buffer === this.buffer
            ? 'expected memory of its own, got a view of the table\'s own buffer'
            : `expected room for the largest session (${this.maxSessionSize} bytes), got ${target.length} bytes`,
      );
    }
    const m = this.#m;
    m.target = target;
    try {
      return lookup(m, id) !== undefined ? m.copied : m.expired ? EXPIRED_LENGTH : -1;
    } finally {
      m.target = undefined;
    }
  }

  /**
   * Stores a session under its ID, replacing any entry with that ID. It
   * expires `timeout` seconds from now, or at `expiresAt` (clock
   * milliseconds) when that is sooner. Returns `false` when nothing was
   * stored: the entry would already be expired, or its shard stayed locked
   * for 5 ms (counted as a `busy` refusal).
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   * @throws InvalidSessionError (`ERR_TLS_CACHE_INVALID_SESSION`) for an empty or oversize session.
   */
  set(id: Uint8Array, session: Uint8Array, expiresAt?: number): boolean {
    const m = this.#m;
    this.#checkId(id);
    if (!(session instanceof Uint8Array) || session.length === 0) {
      m.count(C.refusedSession);
      throw new InvalidSessionError(`A session must be a non-empty Uint8Array, got ${describe(session)}`);
    }
    if (session.length > m.maxSessionSize) {
      m.count(C.refusedTooLarge);
      throw new InvalidSessionError(
        `A session of ${session.length} bytes exceeds maxSessionSize (${m.maxSessionSize} bytes)`,
      );
    }
    const now = m.now();
    let expiresMs = now + this.timeout * 1000;
    if (expiresAt !== undefined) {
      if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) {
        throw new InvalidOptionError('expiresAt', `expected a time in milliseconds, got ${describe(expiresAt)}`);
      }
      expiresMs = Math.min(expiresMs, expiresAt);
    }
    expiresMs = Math.min(Math.floor(expiresMs), MAX_TIME_MS);
    if (expiresMs <= now) return false;
    m.locate(id);
    const shard = m.shard;
    touchForInsert(m, shard);
    if (!lock(m, shard)) {
      m.count(C.refusedBusy);
      return false;
    }
    try {
      insert(m, shard, id, session, expiresMs, now);
    } finally {
      unlock(m, shard);
    }
    m.count(C.inserts);
    return true;
  }

  /**
   * Removes a session. Returns whether one was there (expired or not).
   * Returns `false` too when its shard stayed locked for 5 ms.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   */
  delete(id: Uint8Array): boolean {
    const m = this.#m;
    this.#checkId(id);
    m.locate(id);
    const shard = m.shard;
    if (!lock(m, shard)) return false;
    try {
      const slot = findSlot(m, shard, id);
      if (slot < 0) return false;
      dropSlot(m, shard, slot);
    } finally {
      unlock(m, shard);
    }
    m.count(C.deletes);
    return true;
  }

  /**
   * Removes every entry (counted as `cleared` evictions). Returns how many
   * were removed.
   */
  clear(): number {
    const m = this.#m;
    let removed = 0;
    for (let shard = 0; shard < m.shardCount; shard++) {
      lockWait(m, shard);
      try {
        removed += reset(m, shard);
      } finally {
        unlock(m, shard);
      }
    }
    m.count(C.evictedCleared, removed);
    return removed;
  }

  /**
   * Removes expired entries from every shard that is not busy. Runs on a
   * timer in the creating thread (see `sweepInterval`). Returns how many were
   * removed.
   */
  sweep(): number {
    const m = this.#m;
    const now = m.now();
    let removed = 0;
    for (let shard = 0; shard < m.shardCount; shard++) {
      if (!tryLock(m, shard)) continue;
      try {
        removed += evictExpired(m, shard, now);
      } finally {
        unlock(m, shard);
      }
    }
    return removed;
  }

  /**
   * Frees every shard lock held by `owner` (a thread's `threadId + 1`), after
   * checking the shard and repairing what a write cut short. Call it when a
   * thread that used the table has exited; the cluster runtime does. Returns
   * the number of shards it freed.
   */
  releaseOwner(owner: number): number {
    const m = this.#m;
    let released = 0;
    for (let shard = 0; shard < m.shardCount; shard++) {
      // Take the dead owner's lock over, so that no writer enters the shard while it is repaired.
      const lockAt = m.shardBase(shard) + S.lock;
      if (Atomics.compareExchange(m.i32, lockAt, owner, m.owner) !== owner) continue;
      try {
        repair(m, shard);
      } finally {
        unlock(m, shard);
      }
      released++;
    }
    return released;
  }

  /**
   * Checks every shard's invariants, taking each shard's lock in turn: the
   * ring parses from tail to head, every live slot points at a whole record
   * of its own key, and the entry and byte counters match the live slots.
   * Returns what is wrong, one line per problem; an empty list means
   * consistent. For tests and diagnostics: it reads the whole table.
   * @throws TableBusyError (`ERR_TLS_CACHE_BUSY`) when a shard stays locked for a second.
   */
  verify(): string[] {
    const m = this.#m;
    const problems: string[] = [];
    for (let shard = 0; shard < m.shardCount; shard++) {
      lockWait(m, shard);
      try {
        problems.push(...problemsOf(m, shard));
      } finally {
        unlock(m, shard);
      }
    }
    return problems;
  }

  /** Owner id this thread's writes tag shard locks with (`threadId + 1`). */
  get owner(): number {
    return this.#m.owner;
  }

  /** Reads the shared counters: totals across every thread. */
  stats(): TableStats {
    const m = this.#m;
    let entries = 0;
    let bytesInUse = 0;
    for (let shard = 0; shard < m.shardCount; shard++) {
      const base = m.shardBase(shard);
      entries += Atomics.load(m.i32, base + S.entries);
      bytesInUse += Atomics.load(m.i32, base + S.bytes);
    }
    return {
      entries,
      bytesInUse,
      capacityBytes: m.shardCount * m.ringBytes,
      capacityEntries: m.shardCount * m.maxEntriesPerShard,
      bufferBytes: this.buffer.byteLength,
      hits: m.total(C.hits),
      misses: m.total(C.misses),
      inserts: m.total(C.inserts),
      deletes: m.total(C.deletes),
      evictions: {
        expired: m.total(C.evictedExpired),
        capacity: m.total(C.evictedCapacity),
        overflow: m.total(C.evictedOverflow),
        repair: m.total(C.evictedRepair),
        cleared: m.total(C.evictedCleared),
      },
      refusals: {
        sessionId: m.total(C.refusedSessionId),
        session: m.total(C.refusedSession),
        tooLarge: m.total(C.refusedTooLarge),
        busy: m.total(C.refusedBusy),
      },
      readRetries: m.total(C.readRetries),
    };
  }

  /** Stops the sweep timer, if this thread runs one. The memory stays usable. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #checkId(id: Uint8Array): void {
    if (!(id instanceof Uint8Array) || id.length === 0 || id.length > MAX_KEY_BYTES) {
      this.#m.count(C.refusedSessionId);
      throw new InvalidSessionIdError(
        id instanceof Uint8Array
          ? `A session ID must be 1 to ${MAX_KEY_BYTES} bytes, got ${id.length}`
          : `A session ID must be a Uint8Array, got ${describe(id)}`,
      );
    }
  }
}

function integerOption(
  options: SessionTableOptions,
  name: 'size' | 'maxSessionSize' | 'timeout' | 'sweepInterval',
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(name, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function clockOption(clock: unknown): () => number {
  if (clock === undefined) return Date.now;
  if (typeof clock !== 'function') {
    throw new InvalidOptionError('clock', `expected a function returning milliseconds, got ${describe(clock)}`);
  }
  return clock as () => number;
}
