/**
 * A bounded hash table of TLS sessions in one SharedArrayBuffer, shared by
 * every thread that opens it. The memory layout is in `layout.ts`.
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
 * - Reads take no lock. A reader reads the slot's version word (an atomic
 *   load), then the position and the record with plain reads, copies the
 *   record, counts the answer (an atomic add: a full fence) and re-reads the
 *   version: writers clear a slot before its record's bytes can be reused, so
 *   an unchanged version proves the copy whole. A changed one takes the count
 *   back and is retried a bounded number of times, then answered as a miss.
 * - Writers take a per-shard lock tagged with their thread's owner id, for a
 *   bounded time; a busy shard refuses the write rather than blocking. When a
 *   thread dies holding a lock, the creating thread calls
 *   {@link SessionTable.releaseOwner}, which checks and repairs the shard and
 *   frees it, as nginx's master does for a dead worker.
 *
 * @module
 */
import { threadId } from 'node:worker_threads';
import { describe } from '../describe.ts';
import {
  InvalidOptionError,
  InvalidSessionError,
  InvalidSessionIdError,
  TableBusyError,
} from '../errors.ts';
import { halfSipHash13, leadingBytesMask } from './hash.ts';
import {
  C,
  H,
  MAX_KEY_BYTES,
  MAX_RING_BYTES,
  MAX_TIME_MS,
  RECORD_HEADER_BYTES,
  S,
  SHARD_WORDS,
  SLOT_WORDS,
  SLOTS_PER_BUCKET,
  STRIPES,
  STRIPE_WORDS,
  TAG_BITS,
  TAG_MASK,
  expiresOf,
  keyLengthOf,
  offsetsOf,
  packLengths,
  planGeometry,
  readHeader,
  recordBytes,
  valueLengthOf,
  writeHeader,
  type Geometry,
  type Offsets,
} from './layout.ts';

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
const MAX_SIZE = 2 * 1024 * 1024 * 1024;
const MAX_SESSION_SIZE = 65536;
const MAX_TIMEOUT = 604_800;
/** How long a writer waits for a shard lock before refusing the write. */
const LOCK_WAIT_MS = 5;
/** Attempts a reader makes before answering a contended lookup as a miss. */
const READ_ATTEMPTS = 8;
const SPINS_BEFORE_SLEEP = 64;
/** Sessions up to this size are copied out a word at a time (from Node's Buffer pool, up to 4 KiB). */
const MAX_WORD_COPY_BYTES = 4096;

// Written out: V8 does not always fold `2 ** n`, and calls pow() on the hot path.
/** 2 ** 32. */
const WORD_SPAN = 4294967296;
/** 2 ** (32 - TAG_BITS): the range of a hash word's bits above the tag. */
const TAG_SPAN = 4194304;
if (TAG_SPAN !== 2 ** (32 - TAG_BITS)) throw new Error('TAG_SPAN does not match TAG_BITS');
const MISS = 0;
const RETRY = -1;
const EXPIRED = 2;

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

  readonly #g: Geometry;
  readonly #o: Offsets;
  // Geometry the hot paths use, copied out of #g and #o.
  readonly #ringBytes: number;
  /** Byte offset of shard 0's ring. */
  readonly #rings: number;
  readonly #bucketsPerShard: number;
  readonly #shardMask: number;
  /** Word offset of shard 0's first bucket. */
  readonly #slots: number;
  readonly #slotWordsPerShard: number;
  readonly #i32: Int32Array;
  readonly #mem: Buffer;
  readonly #u8: Uint8Array;
  readonly #clock: () => number;
  readonly #owner: number;
  readonly #stripe: number;
  readonly #seed0: number;
  readonly #seed1: number;
  readonly #hash = new Uint32Array(2);
  /** The key being looked up, as words (so it hashes and compares a word at a time). */
  readonly #keyWords = new Int32Array(MAX_KEY_BYTES / 4);
  readonly #keyBytes = new Uint8Array(this.#keyWords.buffer);
  /** Where getInto() is copying the session it looks up; undefined in get(). */
  #target: Uint8Array | undefined;
  /** Length of the session the last hit copied out. */
  #copied = 0;
  /** The ArrayBuffer of the last session copied out (Node's Buffer pool, or a getInto() target), and a word view of it. */
  #outBuffer: ArrayBufferLike | undefined;
  #outWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
  #sweeper: NodeJS.Timeout | undefined;
  // Outputs of #locate(), kept in fields so the hot path allocates nothing.
  #shard = 0;
  #bucket1 = 0;
  #bucket2 = 0;
  #tag = 0;
  /** Set by the reads that only start cache misses early, so that they are not optimized away. */
  #touched = 0;

  private constructor(buffer: SharedArrayBuffer, g: Geometry, clock: () => number) {
    this.buffer = buffer;
    this.#g = g;
    this.#o = offsetsOf(g);
    this.#ringBytes = g.ringBytes;
    this.#rings = this.#o.rings;
    this.#bucketsPerShard = g.bucketsPerShard;
    this.#shardMask = g.shardCount - 1;
    this.#slots = this.#o.slots;
    this.#slotWordsPerShard = this.#o.slotWordsPerShard;
    this.#i32 = new Int32Array(buffer);
    this.#mem = Buffer.from(buffer);
    this.#u8 = new Uint8Array(buffer);
    this.#clock = clock;
    this.#owner = threadId + 1;
    this.#stripe = this.#o.stripes + (threadId % STRIPES) * STRIPE_WORDS;
    this.#seed0 = this.#i32[H.seed0];
    this.#seed1 = this.#i32[H.seed1];
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
   * Looks up a session by ID. Returns a copy of the session, or `undefined`
   * when it is absent or expired. Never blocks and never extends a lifetime.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   */
  get(id: Uint8Array): Buffer | undefined {
    this.#checkId(id);
    return this.#lookup(id) as Buffer | undefined;
  }

  /**
   * Looks up a session by ID like {@link get}, but copies it into `target`
   * instead of allocating a Buffer for it: nothing is allocated, so a thread
   * doing many lookups makes no garbage. The TLS hooks look up this way.
   * Returns the session's length in bytes (the session is
   * `target.subarray(0, length)`), or -1 when it is absent or expired, in
   * which case `target`'s contents are unspecified.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`, option `target`) unless `target` is a Uint8Array of at least {@link maxSessionSize} bytes outside the table's buffer.
   */
  getInto(id: Uint8Array, target: Uint8Array): number {
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
    this.#target = target;
    try {
      return this.#lookup(id) === undefined ? -1 : this.#copied;
    } finally {
      this.#target = undefined;
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
    this.#checkId(id);
    if (!(session instanceof Uint8Array) || session.length === 0) {
      this.#count(C.refusedSession);
      throw new InvalidSessionError(`A session must be a non-empty Uint8Array, got ${describe(session)}`);
    }
    if (session.length > this.#g.maxSessionSize) {
      this.#count(C.refusedTooLarge);
      throw new InvalidSessionError(
        `A session of ${session.length} bytes exceeds maxSessionSize (${this.#g.maxSessionSize} bytes)`,
      );
    }
    const now = this.#now();
    let expiresMs = now + this.#g.timeoutSeconds * 1000;
    if (expiresAt !== undefined) {
      if (typeof expiresAt !== 'number' || Number.isNaN(expiresAt)) {
        throw new InvalidOptionError('expiresAt', `expected a time in milliseconds, got ${describe(expiresAt)}`);
      }
      expiresMs = Math.min(expiresMs, expiresAt);
    }
    expiresMs = Math.min(Math.floor(expiresMs), MAX_TIME_MS);
    if (expiresMs <= now) return false;
    this.#locate(id);
    const shard = this.#shard;
    this.#touchForInsert(shard);
    if (!this.#lock(shard)) {
      this.#count(C.refusedBusy);
      return false;
    }
    try {
      this.#insert(shard, id, session, expiresMs, now);
    } finally {
      this.#unlock(shard);
    }
    this.#count(C.inserts);
    return true;
  }

  /**
   * Removes a session. Returns whether one was there (expired or not).
   * Returns `false` too when its shard stayed locked for 5 ms.
   * @throws InvalidSessionIdError (`ERR_TLS_CACHE_INVALID_SESSION_ID`) unless `id` is 1 to 32 bytes.
   */
  delete(id: Uint8Array): boolean {
    this.#checkId(id);
    this.#locate(id);
    const shard = this.#shard;
    if (!this.#lock(shard)) return false;
    try {
      const slot = this.#findSlot(shard, id);
      if (slot < 0) return false;
      this.#dropSlot(shard, slot);
    } finally {
      this.#unlock(shard);
    }
    this.#count(C.deletes);
    return true;
  }

  /**
   * Removes every entry (counted as `cleared` evictions). Returns how many
   * were removed.
   */
  clear(): number {
    let removed = 0;
    for (let shard = 0; shard < this.#g.shardCount; shard++) {
      this.#lockWait(shard);
      try {
        removed += this.#reset(shard);
      } finally {
        this.#unlock(shard);
      }
    }
    this.#count(C.evictedCleared, removed);
    return removed;
  }

  /**
   * Removes expired entries from every shard that is not busy. Runs on a
   * timer in the creating thread (see `sweepInterval`). Returns how many were
   * removed.
   */
  sweep(): number {
    const now = this.#now();
    let removed = 0;
    for (let shard = 0; shard < this.#g.shardCount; shard++) {
      if (!this.#tryLock(shard)) continue;
      try {
        const base = this.#shardBase(shard);
        const i32 = this.#i32;
        while (i32[base + S.used] > 0) {
          const wordAt = (this.#rings + shard * this.#ringBytes + i32[base + S.tail]) >> 2;
          const lengths = i32[wordAt + 1];
          if (valueLengthOf(lengths) !== 0 && expiresOf(i32[wordAt], lengths) > now) break;
          if (this.#evictTail(shard, now)) removed++;
        }
      } finally {
        this.#unlock(shard);
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
    let released = 0;
    for (let shard = 0; shard < this.#g.shardCount; shard++) {
      const lockAt = this.#shardBase(shard) + S.lock;
      if (Atomics.compareExchange(this.#i32, lockAt, owner, this.#owner) !== owner) continue;
      try {
        this.#repair(shard);
      } finally {
        this.#unlock(shard);
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
    const problems: string[] = [];
    for (let shard = 0; shard < this.#g.shardCount; shard++) {
      this.#lockWait(shard);
      try {
        const check = this.#inspect(shard);
        const base = this.#shardBase(shard);
        if (!check.sound) {
          problems.push(`shard ${shard}: the ring does not parse from tail to head`);
          continue;
        }
        if (check.strays.length > 0) problems.push(`shard ${shard}: ${check.strays.length} slots point at no record of their key`);
        const entries = this.#i32[base + S.entries];
        if (entries !== check.entries) problems.push(`shard ${shard}: entries counter ${entries}, live slots ${check.entries}`);
        const bytes = this.#i32[base + S.bytes];
        if (bytes !== check.bytes) problems.push(`shard ${shard}: bytes counter ${bytes}, live records ${check.bytes}`);
      } finally {
        this.#unlock(shard);
      }
    }
    return problems;
  }

  /** Owner id this thread's writes tag shard locks with (`threadId + 1`). */
  get owner(): number {
    return this.#owner;
  }

  /** Reads the shared counters: totals across every thread. */
  stats(): TableStats {
    const total = (c: number): number => {
      let sum = 0;
      for (let s = 0; s < STRIPES; s++) {
        const at = this.#o.stripes + s * STRIPE_WORDS + 2 * c;
        sum += Atomics.load(this.#i32, at + 1) * 2 ** 32 + (Atomics.load(this.#i32, at) >>> 0);
      }
      return sum;
    };
    let entries = 0;
    let bytesInUse = 0;
    for (let shard = 0; shard < this.#g.shardCount; shard++) {
      const base = this.#shardBase(shard);
      entries += Atomics.load(this.#i32, base + S.entries);
      bytesInUse += Atomics.load(this.#i32, base + S.bytes);
    }
    return {
      entries,
      bytesInUse,
      capacityBytes: this.#g.shardCount * this.#ringBytes,
      capacityEntries: this.#g.shardCount * this.#g.maxEntriesPerShard,
      bufferBytes: this.buffer.byteLength,
      hits: total(C.hits),
      misses: total(C.misses),
      inserts: total(C.inserts),
      deletes: total(C.deletes),
      evictions: {
        expired: total(C.evictedExpired),
        capacity: total(C.evictedCapacity),
        overflow: total(C.evictedOverflow),
        repair: total(C.evictedRepair),
        cleared: total(C.evictedCleared),
      },
      refusals: {
        sessionId: total(C.refusedSessionId),
        session: total(C.refusedSession),
        tooLarge: total(C.refusedTooLarge),
        busy: total(C.refusedBusy),
      },
      readRetries: total(C.readRetries),
    };
  }

  /** Stops the sweep timer, if this thread runs one. The memory stays usable. */
  close(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  // ---- lookup -------------------------------------------------------------

  #checkId(id: Uint8Array): void {
    if (!(id instanceof Uint8Array) || id.length === 0 || id.length > MAX_KEY_BYTES) {
      this.#count(C.refusedSessionId);
      throw new InvalidSessionIdError(
        id instanceof Uint8Array
          ? `A session ID must be 1 to ${MAX_KEY_BYTES} bytes, got ${id.length}`
          : `A session ID must be a Uint8Array, got ${describe(id)}`,
      );
    }
  }

  /**
   * The lookup of get() and getInto(): the session copied into #target, or
   * into a new Buffer when there is none (its length in #copied), or
   * undefined.
   */
  #lookup(id: Uint8Array): Uint8Array | undefined {
    this.#locate(id);
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const r = this.#probe(id);
      if (typeof r !== 'number') return r;
      if (r === EXPIRED) return undefined;
      if (r === MISS) break;
      this.#count(C.readRetries);
    }
    this.#count(C.misses);
    return undefined;
  }

  /** Hashes `key` into #shard, #bucket1, #bucket2 and #tag. */
  #locate(key: Uint8Array): void {
    const h = this.#hash;
    this.#keyBytes.set(key);
    halfSipHash13(this.#seed0, this.#seed1, this.#keyWords, 0, key.length, h);
    const buckets = this.#bucketsPerShard;
    this.#tag = h[0] & TAG_MASK;
    this.#bucket2 = Math.floor((h[0] >>> TAG_BITS) * buckets / TAG_SPAN);
    this.#shard = h[1] & this.#shardMask;
    this.#bucket1 = Math.floor(h[1] * buckets / WORD_SPAN);
  }

  /**
   * Looks for the key in both of its buckets of #shard without locking.
   * Returns a copy of the session (counted as a hit), EXPIRED (counted as a
   * miss), MISS (not counted) or RETRY when a writer changed a slot under
   * the read.
   */
  #probe(key: Uint8Array): Uint8Array | number {
    const i32 = this.#i32;
    const tag = this.#tag;
    const first1 = this.#bucketAt(this.#bucket1);
    const first2 = this.#bucket2 === this.#bucket1 ? -1 : this.#bucketAt(this.#bucket2);
    // Touch both buckets' two cache lines before reading either, so that
    // their cache misses overlap instead of following one another.
    const touched = i32[first1] ^ i32[first1 + SLOTS_PER_BUCKET] ^
      (first2 < 0 ? 0 : i32[first2] ^ i32[first2 + SLOTS_PER_BUCKET]);
    if (touched === 1) this.#touched = 1;
    for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
      // A plain read of the tag filters out most slots cheaply; #read()
      // then reads the version before the position it vouches for.
      if ((i32[first1 + SLOTS_PER_BUCKET + i] & TAG_MASK) === tag) {
        const r = this.#read(first1 + i, key);
        if (r !== MISS) return r;
      }
      if (first2 >= 0 && (i32[first2 + SLOTS_PER_BUCKET + i] & TAG_MASK) === tag) {
        const r = this.#read(first2 + i, key);
        if (r !== MISS) return r;
      }
    }
    return MISS;
  }

  /** Reads the slot at word `slotAt` of #shard whose tag matched; see #probe. */
  #read(slotAt: number, key: Uint8Array): Uint8Array | number {
    const i32 = this.#i32;
    const version = Atomics.load(i32, slotAt);
    if (version === 0) return MISS;
    // Everything below may be torn by a concurrent writer: the version was
    // read first (an acquire), each length is bounds-checked before use, and
    // the version check after a full fence decides.
    const pos = i32[slotAt + SLOTS_PER_BUCKET];
    if ((pos & TAG_MASK) !== this.#tag) return MISS;
    const ringBytes = this.#ringBytes;
    const offset = (pos >>> TAG_BITS) * 8;
    const keyLength = key.length;
    if (offset + RECORD_HEADER_BYTES + keyLength > ringBytes) return RETRY;
    const ring = this.#rings + this.#shard * ringBytes;
    const at = ring + offset;
    // Touch the lines a typical record spans so their misses overlap.
    const last = (ring + ringBytes - 4) >> 2;
    const touched = i32[Math.min((at + 64) >> 2, last)] ^ i32[Math.min((at + 128) >> 2, last)] ^
      i32[Math.min((at + 192) >> 2, last)];
    if (touched === 1) this.#touched = 1;
    const now = this.#now();
    const lengths = i32[(at >> 2) + 1];
    if (keyLengthOf(lengths) !== keyLength || !this.#keyIsAt(at, keyLength)) {
      return Atomics.load(i32, slotAt) === version ? MISS : RETRY;
    }
    const live = now < expiresOf(i32[at >> 2], lengths);
    let value: Uint8Array | undefined;
    if (live) {
      const valueLength = valueLengthOf(lengths);
      const start = at + RECORD_HEADER_BYTES + keyLength;
      if (valueLength === 0 || valueLength > this.maxSessionSize || offset + RECORD_HEADER_BYTES + keyLength + valueLength > ringBytes) {
        return RETRY;
      }
      value = this.#copyOut(start, valueLength);
    }
    // Counting the answer is a read-modify-write, a full fence: it orders the
    // copy before the check, on weakly ordered CPUs too. A failed check takes
    // the count back.
    const counter = live ? C.hits : C.misses;
    this.#count(counter);
    if (Atomics.load(i32, slotAt) !== version) {
      this.#uncount(counter);
      return RETRY;
    }
    return value ?? EXPIRED;
  }

  /** Whether the record at byte `at` holds #keyWords' key (of `keyLength` bytes, as the record's). */
  #keyIsAt(at: number, keyLength: number): boolean {
    const i32 = this.#i32;
    const words = this.#keyWords;
    const first = (at + RECORD_HEADER_BYTES) >> 2;
    const whole = keyLength >>> 2;
    for (let w = 0; w < whole; w++) if (i32[first + w] !== words[w]) return false;
    const left = keyLength & 3;
    return left === 0 || ((i32[first + whole] ^ words[whole]) & leadingBytesMask(left)) === 0;
  }

  /**
   * Copies `length` bytes of the table's buffer from byte `start` into
   * #target, or into a new Buffer when there is none, and returns it.
   */
  #copyOut(start: number, length: number): Uint8Array {
    const value = this.#target ?? Buffer.allocUnsafe(length);
    this.#copied = length;
    const to = value.byteOffset;
    if (((start | to) & 3) !== 0 || length > MAX_WORD_COPY_BYTES) {
      value.set(this.#u8.subarray(start, start + length));
      return value;
    }
    // A session ID of a multiple of 4 bytes leaves the session word-aligned,
    // and Node's Buffer pool hands out 8-aligned slices (a target is usually
    // a buffer of its own): copy words, then the last 1 to 3 bytes.
    const buffer = value.buffer;
    if (buffer !== this.#outBuffer) {
      this.#outBuffer = buffer;
      this.#outWords = new Int32Array(buffer, 0, buffer.byteLength >> 2);
    }
    const i32 = this.#i32;
    const out = this.#outWords;
    const whole = length >>> 2;
    const from = start >> 2;
    const into = to >> 2;
    for (let w = 0; w < whole; w++) out[into + w] = i32[from + w];
    const u8 = this.#u8;
    for (let k = whole * 4; k < length; k++) value[k] = u8[start + k];
    return value;
  }

  // ---- writing (shard lock held) -----------------------------------------

  #insert(shard: number, key: Uint8Array, value: Uint8Array, expiresMs: number, now: number): void {
    const i32 = this.#i32;
    const base = this.#shardBase(shard);
    const size = recordBytes(key.length, value.length);
    while (i32[base + S.entries] >= this.#g.maxEntriesPerShard && i32[base + S.used] > 0) this.#evictTail(shard, now);
    this.#makeRoom(shard, size, now);
    // Evictions may have moved things: look for the key only now.
    let slot = this.#findSlot(shard, key);
    const replacing = slot >= 0;
    if (replacing) {
      i32[base + S.bytes] -= this.#recordSizeAt(shard, i32[this.#posAt(shard, slot)]);
    } else {
      slot = this.#freeSlot(shard);
    }
    // Write the record at the head, then move the head past it, then publish.
    const head = i32[base + S.head];
    const at = this.#rings + shard * this.#ringBytes + head;
    i32[at >> 2] = expiresMs >>> 0;
    i32[(at >> 2) + 1] = packLengths(key.length, value.length, expiresMs);
    // The key a word at a time from #keyWords (#locate(key) ran); bytes of
    // its last word past the key land where the value or the padding goes.
    const words = this.#keyWords;
    const first = (at + RECORD_HEADER_BYTES) >> 2;
    for (let w = 0; w < (key.length + 3) >> 2; w++) i32[first + w] = words[w];
    this.#mem.set(value, at + RECORD_HEADER_BYTES + key.length);
    i32[base + S.used] += size;
    const next = head + size;
    i32[base + S.head] = next === this.#ringBytes ? 0 : next;
    let generation = (i32[base + S.generation] + 1) | 0;
    if (generation === 0) generation = 1;
    i32[base + S.generation] = generation;
    const slotAt = this.#slotAt(shard, slot);
    // A reader that read the old version must see it change before the new
    // position can reach it: clear, then move, then publish (a free slot is
    // already clear). Atomic stores keep the three in order on every CPU.
    if (replacing) Atomics.store(i32, slotAt, 0);
    Atomics.store(i32, slotAt + SLOTS_PER_BUCKET, ((head / 8) << TAG_BITS) | this.#tag);
    Atomics.store(i32, slotAt, generation);
    if (!replacing) i32[base + S.entries] += 1;
    i32[base + S.bytes] += size;
  }

  /**
   * Before a write takes its shard's lock: starts the cache misses of what
   * it will read under the lock (the key's two buckets, and the record at
   * the tail, which a full shard evicts), so that they overlap.
   */
  #touchForInsert(shard: number): void {
    const i32 = this.#i32;
    const first1 = this.#bucketAt(this.#bucket1);
    const first2 = this.#bucketAt(this.#bucket2);
    const ringBytes = this.#ringBytes;
    // Read without the lock: only a hint of where to touch, checked to stay in the ring.
    const tail = i32[this.#shardBase(shard) + S.tail];
    const at = this.#rings + shard * ringBytes + ((tail >>> 0) < ringBytes ? tail : 0);
    const touched = i32[first1] ^ i32[first1 + SLOTS_PER_BUCKET] ^ i32[first2] ^ i32[first2 + SLOTS_PER_BUCKET] ^ i32[at >> 2];
    if (touched === 1) this.#touched = 1;
  }

  /** Evicts from the tail until `size` contiguous bytes are free at the head. */
  #makeRoom(shard: number, size: number, now: number): void {
    const i32 = this.#i32;
    const base = this.#shardBase(shard);
    const ringBytes = this.#ringBytes;
    for (;;) {
      const used = i32[base + S.used];
      if (used === 0) {
        i32[base + S.head] = 0;
        i32[base + S.tail] = 0;
        return;
      }
      const head = i32[base + S.head];
      const tail = i32[base + S.tail];
      if (used < ringBytes && head >= tail) {
        if (ringBytes - head >= size) return;
        // Too little room before the end: pad it and continue from the start.
        const at = this.#rings + shard * ringBytes + head;
        i32[(at >> 2) + 1] = 0;
        i32[base + S.used] = used + (ringBytes - head);
        i32[base + S.head] = 0;
        continue;
      }
      if (used < ringBytes && tail - head >= size) return;
      this.#evictTail(shard, now);
    }
  }

  /**
   * Reclaims the record at the tail of a shard's ring, clearing its slot
   * first if it is live. Returns whether a live entry went.
   */
  #evictTail(shard: number, now: number): boolean {
    const i32 = this.#i32;
    const base = this.#shardBase(shard);
    const ringBytes = this.#ringBytes;
    const tail = i32[base + S.tail];
    const at = this.#rings + shard * ringBytes + tail;
    const lengths = i32[(at >> 2) + 1];
    const valueLength = valueLengthOf(lengths);
    let size = ringBytes - tail;
    let evicted = false;
    if (valueLength !== 0) {
      size = recordBytes(keyLengthOf(lengths), valueLength);
      const slot = this.#slotOfRecord(shard, tail, keyLengthOf(lengths));
      if (slot >= 0) {
        this.#dropSlot(shard, slot);
        this.#count(expiresOf(i32[at >> 2], lengths) <= now ? C.evictedExpired : C.evictedCapacity);
        evicted = true;
      }
    }
    const next = tail + size;
    i32[base + S.tail] = next === ringBytes ? 0 : next;
    i32[base + S.used] -= size;
    return evicted;
  }

  /** Clears a live slot; its record becomes dead space in the ring. */
  #dropSlot(shard: number, slot: number): void {
    const i32 = this.#i32;
    const base = this.#shardBase(shard);
    const slotAt = this.#slotAt(shard, slot);
    i32[base + S.bytes] -= this.#recordSizeAt(shard, Atomics.load(i32, slotAt + SLOTS_PER_BUCKET));
    Atomics.store(i32, slotAt, 0);
    i32[base + S.entries] -= 1;
  }

  /** Slot (index within the shard) holding `key`, or -1. #locate(key) must have run. */
  #findSlot(shard: number, key: Uint8Array): number {
    const i32 = this.#i32;
    const ring = this.#rings + shard * this.#ringBytes;
    for (let choice = 0; choice < 2; choice++) {
      const bucket = choice === 0 ? this.#bucket1 : this.#bucket2;
      if (choice === 1 && bucket === this.#bucket1) break;
      const first = this.#slotAt(shard, bucket * SLOTS_PER_BUCKET);
      for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
        const pos = i32[first + SLOTS_PER_BUCKET + i];
        if ((pos & TAG_MASK) !== this.#tag || i32[first + i] === 0) continue;
        const at = ring + (pos >>> TAG_BITS) * 8;
        if (keyLengthOf(i32[(at >> 2) + 1]) === key.length && this.#keyIsAt(at, key.length)) {
          return bucket * SLOTS_PER_BUCKET + i;
        }
      }
    }
    return -1;
  }

  /**
   * A free slot in the emptier of the key's two buckets. When both are full,
   * the oldest entry among their 32 slots is evicted for it.
   */
  #freeSlot(shard: number): number {
    const i32 = this.#i32;
    let best = -1;
    let bestFree = 0;
    for (let choice = 0; choice < 2; choice++) {
      const bucket = choice === 0 ? this.#bucket1 : this.#bucket2;
      const at = this.#slotAt(shard, bucket * SLOTS_PER_BUCKET);
      let free = 0;
      let first = -1;
      for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
        if (i32[at + i] === 0) {
          free++;
          if (first < 0) first = i;
        }
      }
      if (free > bestFree) {
        bestFree = free;
        best = bucket * SLOTS_PER_BUCKET + first;
      }
    }
    if (best >= 0) return best;
    // Both buckets full: evict the entry nearest the tail, the oldest.
    const base = this.#shardBase(shard);
    const tail = i32[base + S.tail];
    const ringBytes = this.#ringBytes;
    let oldest = -1;
    let oldestAge = Infinity;
    for (let choice = 0; choice < 2; choice++) {
      const bucket = choice === 0 ? this.#bucket1 : this.#bucket2;
      for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
        const slot = bucket * SLOTS_PER_BUCKET + i;
        const offset = (i32[this.#posAt(shard, slot)] >>> TAG_BITS) * 8;
        const age = (offset - tail + ringBytes) % ringBytes;
        if (age < oldestAge) {
          oldestAge = age;
          oldest = slot;
        }
      }
    }
    this.#dropSlot(shard, oldest);
    this.#count(C.evictedOverflow);
    return oldest;
  }

  /** The slot whose entry is the record at `offset`, or -1 if that record is dead. */
  #slotOfRecord(shard: number, offset: number, keyLength: number): number {
    const ring = this.#rings + shard * this.#ringBytes;
    const keyAt = ring + offset + RECORD_HEADER_BYTES;
    const h = this.#hash;
    halfSipHash13(this.#seed0, this.#seed1, this.#i32, keyAt >> 2, keyLength, h);
    const buckets = this.#bucketsPerShard;
    const expected = ((offset / 8) << TAG_BITS) | (h[0] & TAG_MASK);
    const b1 = Math.floor(h[1] * buckets / WORD_SPAN);
    const b2 = Math.floor((h[0] >>> TAG_BITS) * buckets / TAG_SPAN);
    const i32 = this.#i32;
    const first1 = this.#slotAt(shard, b1 * SLOTS_PER_BUCKET);
    const first2 = this.#slotAt(shard, b2 * SLOTS_PER_BUCKET);
    // Start both buckets' cache misses at once (see #probe).
    const touched = i32[first1] ^ i32[first1 + SLOTS_PER_BUCKET] ^ i32[first2] ^ i32[first2 + SLOTS_PER_BUCKET];
    if (touched === 1) this.#touched = 1;
    for (let choice = 0; choice < 2; choice++) {
      const first = choice === 0 ? first1 : first2;
      for (let i = 0; i < SLOTS_PER_BUCKET; i++) {
        if (i32[first + SLOTS_PER_BUCKET + i] === expected && i32[first + i] !== 0) {
          return (choice === 0 ? b1 : b2) * SLOTS_PER_BUCKET + i;
        }
      }
    }
    return -1;
  }

  #recordSizeAt(shard: number, pos: number): number {
    const at = this.#rings + shard * this.#ringBytes + (pos >>> TAG_BITS) * 8;
    const lengths = this.#i32[(at >> 2) + 1];
    return recordBytes(keyLengthOf(lengths), valueLengthOf(lengths));
  }

  /** Empties a shard. Returns the number of live entries it held. */
  #reset(shard: number): number {
    const i32 = this.#i32;
    const base = this.#shardBase(shard);
    const first = this.#slotAt(shard, 0);
    for (let w = first; w < first + this.#slotWordsPerShard; w++) Atomics.store(i32, w, 0);
    const entries = i32[base + S.entries];
    i32[base + S.head] = 0;
    i32[base + S.tail] = 0;
    i32[base + S.used] = 0;
    i32[base + S.entries] = 0;
    i32[base + S.bytes] = 0;
    return entries;
  }

  /**
   * Makes a shard consistent after its writer died at an unknown point: keeps
   * the slots that point at whole records whose key hashes to them, clears
   * the others, and recounts. If the ring itself does not parse, the shard is
   * emptied. Dropped entries count as `repair` evictions.
   */
  #repair(shard: number): void {
    const check = this.#inspect(shard);
    if (!check.sound) {
      this.#count(C.evictedRepair, this.#reset(shard));
      return;
    }
    for (const slot of check.strays) Atomics.store(this.#i32, this.#slotAt(shard, slot), 0);
    this.#count(C.evictedRepair, check.strays.length);
    const base = this.#shardBase(shard);
    this.#i32[base + S.entries] = check.entries;
    this.#i32[base + S.bytes] = check.bytes;
  }

  /**
   * Walks a shard (its lock held): whether its ring parses from tail to head,
   * which live slots point at no whole record of their own key (strays), and
   * the entries and bytes of the slots that do.
   */
  #inspect(shard: number): { sound: boolean; strays: number[]; entries: number; bytes: number } {
    const i32 = this.#i32;
    const base = this.#shardBase(shard);
    const ringBytes = this.#ringBytes;
    const ring = this.#rings + shard * ringBytes;
    const starts = new Set<number>();
    let offset = i32[base + S.tail];
    let remaining = i32[base + S.used];
    let sound = offset >= 0 && offset < ringBytes && offset % 8 === 0 && remaining >= 0 && remaining <= ringBytes;
    while (sound && remaining > 0) {
      const lengths = i32[((ring + offset) >> 2) + 1];
      const valueLength = valueLengthOf(lengths);
      let size = ringBytes - offset;
      if (valueLength !== 0) {
        size = recordBytes(keyLengthOf(lengths), valueLength);
        if (valueLength > this.#g.maxSessionSize || offset + size > ringBytes) {
          sound = false;
          break;
        }
        starts.add(offset);
      }
      if (size > remaining) sound = false;
      remaining -= size;
      offset = offset + size === ringBytes ? 0 : offset + size;
    }
    if (sound && i32[base + S.used] > 0 && offset !== i32[base + S.head]) sound = false;
    const strays: number[] = [];
    let entries = 0;
    let bytes = 0;
    for (let slot = 0; sound && slot < this.#bucketsPerShard * SLOTS_PER_BUCKET; slot++) {
      const slotAt = this.#slotAt(shard, slot);
      if (i32[slotAt] === 0) continue;
      const recordOffset = (i32[slotAt + SLOTS_PER_BUCKET] >>> TAG_BITS) * 8;
      if (
        !starts.has(recordOffset) ||
        this.#slotOfRecord(shard, recordOffset, keyLengthOf(i32[((ring + recordOffset) >> 2) + 1])) !== slot
      ) {
        strays.push(slot);
        continue;
      }
      entries++;
      bytes += this.#recordSizeAt(shard, i32[slotAt + SLOTS_PER_BUCKET]);
    }
    return { sound, strays, entries, bytes };
  }

  /** The injected clock's reading, checked: a broken clock must not corrupt expiry. */
  #now(): number {
    const now = this.#clock();
    if (!(now >= 0 && now <= MAX_TIME_MS)) {
      throw new InvalidOptionError('clock', `returned ${describe(now)}; expected milliseconds from 0 to ${MAX_TIME_MS}`);
    }
    return now;
  }

  // ---- locks, counters, addresses -----------------------------------------

  #tryLock(shard: number): boolean {
    return Atomics.compareExchange(this.#i32, this.#shardBase(shard) + S.lock, 0, this.#owner) === 0;
  }

  /** Takes a shard lock, waiting at most LOCK_WAIT_MS. */
  #lock(shard: number): boolean {
    if (this.#tryLock(shard)) return true;
    const lockAt = this.#shardBase(shard) + S.lock;
    const deadline = performance.now() + LOCK_WAIT_MS;
    for (let spin = 0; ; spin++) {
      const holder = Atomics.load(this.#i32, lockAt);
      if (holder === 0 && this.#tryLock(shard)) return true;
      if (spin >= SPINS_BEFORE_SLEEP) {
        if (performance.now() >= deadline) return false;
        Atomics.wait(this.#i32, lockAt, holder, 0.05);
      }
    }
  }

  /** Takes a shard lock for clear() and verify(), waiting up to a second. */
  #lockWait(shard: number): void {
    const deadline = performance.now() + 1000;
    while (!this.#lock(shard)) {
      if (performance.now() > deadline) {
        throw new TableBusyError(
          `Shard ${shard} stayed locked for a second; a thread that held it may have died without releaseOwner() being called`,
        );
      }
    }
  }

  #unlock(shard: number): void {
    Atomics.compareExchange(this.#i32, this.#shardBase(shard) + S.lock, this.#owner, 0);
  }

  #count(counter: number, n = 1): void {
    const at = this.#stripe + 2 * counter;
    const before = Atomics.add(this.#i32, at, n);
    if ((before >>> 0) + n > 0xffffffff) Atomics.add(this.#i32, at + 1, 1);
  }

  /** Takes back one #count() of a lookup whose copy failed its check. */
  #uncount(counter: number): void {
    const at = this.#stripe + 2 * counter;
    if (Atomics.sub(this.#i32, at, 1) === 0) Atomics.sub(this.#i32, at + 1, 1);
  }

  #shardBase(shard: number): number {
    return this.#o.shards + shard * SHARD_WORDS;
  }

  /** Word index of the first version word of a bucket of #shard. */
  #bucketAt(bucket: number): number {
    return this.#slots + this.#shard * this.#slotWordsPerShard + bucket * SLOTS_PER_BUCKET * SLOT_WORDS;
  }

  /** Word index of a slot's position word (offset and tag). */
  #posAt(shard: number, slot: number): number {
    return this.#slotAt(shard, slot) + SLOTS_PER_BUCKET;
  }

  /** Word index of a slot's version; its position word is SLOTS_PER_BUCKET further (see #posAt). */
  #slotAt(shard: number, slot: number): number {
    const inBucket = slot & (SLOTS_PER_BUCKET - 1);
    return this.#slots + shard * this.#slotWordsPerShard + (slot - inBucket) * SLOT_WORDS + inBucket;
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
