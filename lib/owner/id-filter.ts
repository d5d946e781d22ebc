/**
 * Which session IDs the owner's table may hold: a Bloom filter every worker
 * process keeps a copy of, so that a lookup the owner could not answer is
 * not sent to it.
 *
 * Why: Node asks `resumeSession` with the legacy session ID of every TLS 1.3
 * ClientHello, which the client fills with random bytes (RFC 8446 §4.1.2,
 * middlebox compatibility mode; measured in `docs/worker-threads.md`), and
 * gives the hook nothing to tell it from a TLS 1.2 resumption. A worker
 * thread answers that lookup from shared memory in half a microsecond; a
 * worker process would ask its owner over the socket, a round trip per
 * handshake (`docs/node-cluster.md#figures`). With the filter, an ID the
 * owner never stored is a miss at once.
 *
 * How it stays right:
 * - **No false "absent" for a session the owner holds.** The owner adds
 *   every session ID it stores to its own filter and announces it to every
 *   other process (`O_STORED`, the IDs of one event-loop turn in one
 *   message); a process adds the IDs it stores itself at once. A process
 *   that connects gets the owner's whole filter after the hello
 *   (`O_FILTER`, in chunks), asks the owner about everything until that
 *   copy is complete, and adds to it the IDs it stored meanwhile. A
 *   process holding the filter ends a new session's handshake only once
 *   the owner says every other process was told (`O_SET_DONE`, see
 *   `owner-level.ts`), so no client can offer the session elsewhere
 *   first; unless the owner does not answer within `ownerTimeout`, when
 *   such an offer may be a miss, a full handshake.
 * - **Nothing is ever removed**, so a filter only errs towards asking: an
 *   ID whose session expired, ended or was flushed, or one whose two bit
 *   positions other IDs set (about 5% of unknown IDs with a full table),
 *   still goes to the owner, which answers as before.
 * - **Bounded memory.** Two generations of {@link SessionIdFilter.byteLength}
 *   bytes each; an ID is added to the current one, which becomes the
 *   previous one after `periodMs` (the session lifetime) and is cleared one
 *   period later: every ID stays at least a whole lifetime, on the
 *   injectable clock, without a timer.
 *
 * The filter is no secret: it holds two bits per session ID, and IDs travel
 * in clear in every ClientHello.
 *
 * @module
 */

/** Smallest filter generation, in bytes (64 Ki bits). */
export const MIN_FILTER_BYTES = 8 * 1024;
/** Largest filter generation, in bytes (32 Mi bits): a larger table shares it, with more lookups sent for nothing. */
export const MAX_FILTER_BYTES = 4 * 1024 * 1024;

/**
 * Bytes of one generation for a table of `entries` sessions: 8 bits per
 * entry (2 bit positions per ID: about 5% false positives when the table is
 * full, far fewer below), rounded up to a power of two, within
 * [{@link MIN_FILTER_BYTES}, {@link MAX_FILTER_BYTES}].
 */
export function filterBytesFor(entries: number): number {
  let bytes = MIN_FILTER_BYTES;
  while (bytes < entries && bytes < MAX_FILTER_BYTES) bytes *= 2;
  return bytes;
}

/** Whether `bytes` is a generation size a filter can have (a power of two within the bounds). */
export function isFilterSize(bytes: unknown): bytes is number {
  return (
    typeof bytes === 'number' &&
    Number.isInteger(bytes) &&
    bytes >= MIN_FILTER_BYTES &&
    bytes <= MAX_FILTER_BYTES &&
    (bytes & (bytes - 1)) === 0
  );
}

/** Options of {@link SessionIdFilter}. */
export interface SessionIdFilterOptions {
  /** Bytes of each of the two generations; see {@link filterBytesFor}. */
  byteLength: number;
  /** How long an ID stays in the current generation, in ms: the session lifetime (`timeout` × 1000). */
  periodMs: number;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
}

/** See the module's documentation. */
export class SessionIdFilter {
  readonly byteLength: number;
  readonly #periodMs: number;
  readonly #clock: () => number;
  readonly #mask: number;
  #current: Uint8Array;
  #previous: Uint8Array;
  #rotatedAt: number;

  /** @throws RangeError when `byteLength` is not a power of two within the bounds, or `periodMs` is not positive. */
  constructor({ byteLength, periodMs, clock = Date.now }: SessionIdFilterOptions) {
    if (!isFilterSize(byteLength)) throw new RangeError(`a filter generation must be a power of two from ${MIN_FILTER_BYTES} to ${MAX_FILTER_BYTES} bytes, got ${byteLength}`);
    if (!(periodMs > 0)) throw new RangeError(`the filter's period must be a positive number of ms, got ${periodMs}`);
    this.byteLength = byteLength;
    this.#periodMs = periodMs;
    this.#clock = clock;
    this.#mask = byteLength * 8 - 1;
    this.#current = new Uint8Array(byteLength);
    this.#previous = new Uint8Array(byteLength);
    this.#rotatedAt = clock();
  }

  /** Notes that the owner's table holds (or is about to hold) the session stored under `id`. */
  add(id: Uint8Array): void {
    this.#age();
    const h = hash(id);
    const a = h & this.#mask;
    const b = mix(h) & this.#mask;
    this.#current[a >>> 3]! |= 1 << (a & 7);
    this.#current[b >>> 3]! |= 1 << (b & 7);
  }

  /** False when the owner's table cannot hold a session under `id` (no need to ask it); true when it may. */
  mayHold(id: Uint8Array): boolean {
    this.#age();
    const h = hash(id);
    const a = h & this.#mask;
    const b = mix(h) & this.#mask;
    const bitA = 1 << (a & 7);
    const bitB = 1 << (b & 7);
    if ((this.#current[a >>> 3]! & bitA) !== 0 && (this.#current[b >>> 3]! & bitB) !== 0) return true;
    return (this.#previous[a >>> 3]! & bitA) !== 0 && (this.#previous[b >>> 3]! & bitB) !== 0;
  }

  /** Both generations in one (a new array of {@link byteLength} bytes): what a process's copy starts from. */
  snapshot(): Uint8Array {
    this.#age();
    const bits = this.#current.slice();
    for (let i = 0; i < bits.length; i++) bits[i]! |= this.#previous[i]!;
    return bits;
  }

  /**
   * Replaces the filter with `bits` (a {@link snapshot} of another filter of
   * the same size), which then ages as if added now.
   * @throws RangeError when `bits` is not {@link byteLength} long.
   */
  load(bits: Uint8Array): void {
    if (bits.byteLength !== this.byteLength) throw new RangeError(`a snapshot of ${bits.byteLength} bytes does not fit a filter of ${this.byteLength}`);
    this.#current.set(bits);
    this.#previous.fill(0);
    this.#rotatedAt = this.#clock();
  }

  /** The generation that lived a whole period goes; after two periods unseen, both. */
  #age(): void {
    const now = this.#clock();
    const elapsed = now - this.#rotatedAt;
    if (elapsed < this.#periodMs) return;
    if (elapsed >= 2 * this.#periodMs) {
      this.#current.fill(0);
      this.#previous.fill(0);
    } else {
      const cleared = this.#previous.fill(0);
      this.#previous = this.#current;
      this.#current = cleared;
    }
    this.#rotatedAt = now;
  }
}

/** FNV-1a over the ID's bytes. */
function hash(id: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id[i]!, 0x01000193);
  return h >>> 0;
}

/** A second position from the first hash (MurmurHash3's finaliser). */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A process's copy of the owner's filter as it arrives after the owner's
 * hello: chunks of one snapshot, in order, from offset 0 (`O_FILTER`).
 */
export class FilterCopy {
  #bits: Uint8Array | undefined;
  #received = 0;

  /**
   * Takes one chunk. Returns the filter once the last chunk is in (aging
   * from now, over `periodMs`), `undefined` while more are to come, and
   * `'malformed'` for a chunk that does not continue the snapshot (which is
   * then dropped whole: the process goes on asking the owner about every ID).
   */
  push(offset: number, total: number, chunk: Uint8Array, periodMs: number): SessionIdFilter | undefined | 'malformed' {
    if (offset === 0) {
      if (!isFilterSize(total)) return this.#drop();
      this.#bits = new Uint8Array(total);
      this.#received = 0;
    }
    const bits = this.#bits;
    if (bits === undefined || bits.byteLength !== total || offset !== this.#received || offset + chunk.byteLength > total) return this.#drop();
    bits.set(chunk, offset);
    this.#received += chunk.byteLength;
    if (this.#received < total) return undefined;
    this.reset();
    const filter = new SessionIdFilter({ byteLength: total, periodMs });
    filter.load(bits);
    return filter;
  }

  /** Forgets a snapshot under way (the connection closed, or another begins). */
  reset(): void {
    this.#bits = undefined;
    this.#received = 0;
  }

  #drop(): 'malformed' {
    this.reset();
    return 'malformed';
  }
}
