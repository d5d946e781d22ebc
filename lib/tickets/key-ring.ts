/**
 * The session ticket key ring, in a small `SharedArrayBuffer` of its own
 * (next to the session table's, whose layout it does not touch): one key
 * encrypts new tickets, recent ones still decrypt, and every worker thread
 * reads the same keys, so a ticket issued by any thread resumes on any other.
 *
 * The primary thread creates the ring ({@link TicketKeyRing.create}), rotates
 * it and erases old keys; worker threads open it
 * ({@link TicketKeyRing.open}) and only read. Reads are version-checked
 * (a seqlock): the primary makes a sequence word odd, writes, and makes it
 * even again; a reader copies what it needs between two reads of that word
 * and retries when it changed, so it never uses a half-written key.
 *
 * Lifetimes, with `timeout` the session lifetime and `rotate` the rotation
 * period: a key encrypts for `rotate`, then only decrypts for `timeout`
 * after it stopped encrypting (the longest a ticket issued under it can
 * still be valid), then its bytes are zeroed. So a key exists for
 * `rotate + timeout` (twice the session lifetime by default, as nginx does).
 * Readers check the window themselves on their own clock, so a late erasure
 * never extends it.
 *
 * Keys are 48 bytes in Node's order (`ticketKeys`): a 16-byte name, a
 * 16-byte HMAC-SHA256 secret, a 16-byte AES-128-CBC key. nginx's 48-byte
 * `ssl_session_ticket_key` files hold name, AES key, HMAC secret: see
 * `nginx-keys.ts`. The buffer's layout is in `ring-layout.ts`, the
 * snapshot of a ring's state in `ring-state.ts`.
 *
 * @module
 */
import { InvalidOptionError, InvalidTicketKeyBufferError } from '../errors.ts';
import {
  HEADER_BYTES,
  H_CURRENT,
  H_FIXED,
  H_GENERATION,
  H_MAGIC,
  H_SEQUENCE,
  H_SLOTS,
  H_VERSION,
  LAYOUT_VERSION,
  MAGIC,
  MAX_TICKET_KEYS,
  TIMES_PER_SLOT,
  T_CREATED,
  T_RETIRED,
  T_UNTIL,
  checkHeader,
  ringBytes,
  slotsFor,
} from './ring-layout.ts';
import { checkState, wipeRingState, type TicketKeyRingState, type TicketKeyState } from './ring-state.ts';
import { TICKET_KEY_BYTES, TICKET_PART_BYTES, emptyKey, randomKey, wipeKey, type TicketKey } from './ticket-key.ts';

/** A reader gives up after this many changed versions (the writer takes microseconds). */
const READ_ATTEMPTS = 1000;

/** What a ring holds right now; never key bytes. */
export interface TicketKeyRingStats {
  /** Keys that still decrypt (the current one included). */
  keys: number;
  /** Slots of the ring. */
  slots: number;
  /** Bumped by every rotation, flush, replacement and erasure. */
  generation: number;
  /** When the current key started encrypting (clock milliseconds). */
  currentSince: number;
  /** Whether the keys came from files (no scheduled rotation, no expiry). */
  fixed: boolean;
}

/** Options of {@link TicketKeyRing.create}. */
export interface TicketKeyRingOptions {
  /** Session lifetime in whole seconds (the server's `sessionTimeout`). */
  timeout: number;
  /**
   * How long a key encrypts before the next one takes over, in milliseconds.
   * @defaultValue `timeout * 1000`
   */
  rotate?: number;
  /**
   * Fixed keys (48 bytes each, Node's order), e.g. from nginx key files: the
   * first encrypts, the others only decrypt. They never expire and are not
   * rotated on a schedule; {@link TicketKeyRing.replace} swaps them.
   * @defaultValue none: random keys, rotated every `rotate` ms
   */
  keys?: readonly Uint8Array[];
  /** Milliseconds since the epoch, for tests. @defaultValue `Date.now` */
  clock?: () => number;
}

/** Options of {@link TicketKeyRing.open}. */
export interface OpenTicketKeyRingOptions {
  /** Milliseconds since the epoch; must agree with the primary's. @defaultValue `Date.now` */
  clock?: () => number;
}

/** What {@link TicketKeyRing.tick} did. */
export interface TickResult {
  rotated: boolean;
  erased: number;
}

/** The shared ticket key ring; see the module's documentation. */
export class TicketKeyRing {
  /** The shared memory: hand it to worker threads (`workerData`). */
  readonly buffer: SharedArrayBuffer;
  /** Session lifetime in seconds (0 when opened: workers do not need it). */
  readonly timeout: number;
  /** Rotation period in ms (0 when opened, or with fixed keys). */
  readonly rotate: number;

  readonly #ints: Int32Array;
  readonly #times: Float64Array;
  readonly #bytes: Uint8Array;
  readonly #slots: number;
  readonly #clock: () => number;
  readonly #owner: boolean;

  private constructor(buffer: SharedArrayBuffer, owner: boolean, timeout: number, rotate: number, clock: () => number) {
    this.buffer = buffer;
    this.#ints = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    if (!owner) checkHeader(this.#ints);
    this.#slots = owner ? slotsFor(buffer) : this.#ints[H_SLOTS];
    this.#times = new Float64Array(buffer, HEADER_BYTES, this.#slots * TIMES_PER_SLOT);
    this.#bytes = new Uint8Array(buffer, HEADER_BYTES + this.#slots * TIMES_PER_SLOT * 8, this.#slots * TICKET_KEY_BYTES);
    this.#owner = owner;
    this.timeout = timeout;
    this.rotate = rotate;
    this.#clock = clock;
  }

  /**
   * Creates a ring in the primary with a first key (random, or the first of
   * `options.keys`).
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a bad
   * timeout, rotation period or key, or a rotation so frequent that more
   * than {@link MAX_TICKET_KEYS} keys would be alive at once.
   */
  static create(options: TicketKeyRingOptions): TicketKeyRing {
    const { timeout, keys, clock = Date.now } = options ?? ({} as TicketKeyRingOptions);
    if (!Number.isInteger(timeout) || timeout < 1) {
      throw new InvalidOptionError('timeout', `expected whole seconds of at least 1, got ${String(timeout)}`);
    }
    const rotate = options.rotate ?? timeout * 1000;
    if (!Number.isInteger(rotate) || rotate < 1) {
      throw new InvalidOptionError('ticketRotate', `expected whole milliseconds of at least 1, got ${String(rotate)}`);
    }
    if (typeof clock !== 'function') throw new InvalidOptionError('clock', 'expected a function returning milliseconds');
    const fixed = keys !== undefined;
    if (fixed) {
      if (!Array.isArray(keys) || keys.length < 1 || keys.length > MAX_TICKET_KEYS) {
        throw new InvalidOptionError('keys', `expected 1 to ${MAX_TICKET_KEYS} keys`);
      }
      keys.forEach((key, i) => {
        if (!(key instanceof Uint8Array) || key.byteLength !== TICKET_KEY_BYTES) {
          throw new InvalidOptionError('keys', `key ${i} is not ${TICKET_KEY_BYTES} bytes`);
        }
      });
    }
    const alive = fixed ? keys.length : Math.ceil((timeout * 1000) / rotate) + 2;
    if (alive > MAX_TICKET_KEYS) {
      throw new InvalidOptionError(
        'ticketRotate',
        `rotating every ${rotate} ms with a ${timeout} s session timeout keeps ${alive} keys alive; at most ${MAX_TICKET_KEYS} are kept: rotate at least every ${Math.ceil((timeout * 1000) / (MAX_TICKET_KEYS - 2))} ms`,
      );
    }
    const slots = Math.max(3, alive);
    const buffer = new SharedArrayBuffer(ringBytes(slots));
    const ints = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    ints[H_SLOTS] = slots;
    ints[H_FIXED] = fixed ? 1 : 0;
    const ring = new TicketKeyRing(buffer, true, timeout, fixed ? 0 : rotate, clock);
    if (fixed) ring.replace(keys);
    else ring.#write(() => ring.#install(randomKey(), ring.#clock()));
    Atomics.store(ints, H_VERSION, LAYOUT_VERSION);
    Atomics.store(ints, H_MAGIC, MAGIC);
    return ring;
  }

  /**
   * Opens, in a worker thread, a ring the primary created. Read only.
   * @throws InvalidTicketKeyBufferError (`ERR_TLS_CACHE_INVALID_TICKET_KEY_BUFFER`) when `buffer` is not a ring.
   */
  static open(buffer: SharedArrayBuffer, options: OpenTicketKeyRingOptions = {}): TicketKeyRing {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) {
      throw new InvalidTicketKeyBufferError('Expected the SharedArrayBuffer of a ticket key ring (TicketKeyRing.buffer)');
    }
    return new TicketKeyRing(buffer, false, 0, 0, options.clock ?? Date.now);
  }

  /** Bumped by every change of the keys; a reader polls it to notice one. */
  get generation(): number {
    return Atomics.load(this.#ints, H_GENERATION);
  }

  /** Whether the keys are fixed (from files): no scheduled rotation, no expiry. */
  get fixed(): boolean {
    return Atomics.load(this.#ints, H_FIXED) === 1;
  }

  /**
   * Copies the key that encrypts new tickets into `into` (allocated when
   * absent). Returns `undefined` only if the primary kept writing through
   * every attempt, or the ring was closed.
   */
  encryptionKey(into?: TicketKey): TicketKey | undefined {
    const key = into ?? emptyKey();
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(this.#ints, H_SEQUENCE);
      if ((before & 1) !== 0) continue;
      const slot = this.#ints[H_CURRENT];
      const live = slot >= 0 && slot < this.#slots && this.#times[slot * TIMES_PER_SLOT + T_UNTIL] !== 0;
      if (live) this.#copy(slot, key);
      if (Atomics.load(this.#ints, H_SEQUENCE) === before) return live ? key : undefined;
    }
    return undefined;
  }

  /**
   * Finds the key named `name` that still decrypts at this moment and copies
   * its secrets into `into` (allocated when absent). `undefined` for an
   * unknown, erased or expired name: the ticket costs a full handshake.
   */
  decryptionKey(name: Uint8Array, into?: TicketKey): TicketKey | undefined {
    if (!(name instanceof Uint8Array) || name.byteLength !== TICKET_PART_BYTES) return undefined;
    const key = into ?? emptyKey();
    const now = this.#clock();
    for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
      const before = Atomics.load(this.#ints, H_SEQUENCE);
      if ((before & 1) !== 0) continue;
      const slot = this.#find(name, now);
      if (slot >= 0) this.#copy(slot, key);
      if (Atomics.load(this.#ints, H_SEQUENCE) === before) return slot >= 0 ? key : undefined;
    }
    return undefined;
  }

  /** The current key as Node's 48 bytes (`server.setTicketKeys()`), a copy; see {@link encryptionKey}. */
  currentKeyBytes(): Buffer | undefined {
    const key = this.encryptionKey();
    if (key === undefined) return undefined;
    const bytes = Buffer.concat([key.name, key.hmac, key.aes]);
    wipeKey(key);
    return bytes;
  }

  /** Counts and times, never key bytes. */
  stats(): TicketKeyRingStats {
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.#ints, H_SEQUENCE);
      if ((before & 1) !== 0 && attempt < READ_ATTEMPTS) continue;
      let keys = 0;
      const now = this.#clock();
      for (let slot = 0; slot < this.#slots; slot++) if (this.#times[slot * TIMES_PER_SLOT + T_UNTIL] > now) keys++;
      const current = this.#ints[H_CURRENT];
      const currentSince = current >= 0 && current < this.#slots ? this.#times[current * TIMES_PER_SLOT + T_CREATED] : 0;
      const stats = { keys, slots: this.#slots, generation: this.#ints[H_GENERATION], currentSince, fixed: this.#ints[H_FIXED] === 1 };
      // Counts only: after many changed versions, a possibly mixed answer is good enough.
      if (Atomics.load(this.#ints, H_SEQUENCE) === before || attempt >= READ_ATTEMPTS) return stats;
    }
  }

  /**
   * Primary only. A new random key starts encrypting now; the previous one
   * decrypts for `timeout` more. With fixed keys, use {@link replace}.
   */
  rotateNow(): void {
    this.#mustOwn('rotateNow');
    if (this.fixed) throw new InvalidOptionError('keys', 'the ring holds fixed keys (from files); replace them instead of rotating');
    const now = this.#clock();
    this.#write(() => {
      this.#retireCurrent(now);
      this.#install(randomKey(), now);
    });
  }

  /**
   * Primary only. Zeroes every key and installs a fresh random one (or
   * `keys`, fixed, when given): every ticket issued so far costs a full
   * handshake.
   */
  flush(keys?: readonly Uint8Array[]): void {
    this.#mustOwn('flush');
    if (keys !== undefined || this.fixed) {
      this.replace(keys ?? []);
      return;
    }
    const now = this.#clock();
    this.#write(() => {
      this.#eraseAll();
      this.#install(randomKey(), now);
    });
  }

  /**
   * Primary only. Zeroes every key and installs `keys` (Node's 48-byte
   * order; the first encrypts), which never expire.
   * @throws InvalidOptionError when `keys` is empty, too many, or not 48 bytes each.
   */
  replace(keys: readonly Uint8Array[]): void {
    this.#mustOwn('replace');
    if (!Array.isArray(keys) || keys.length < 1 || keys.length > this.#slots) {
      throw new InvalidOptionError('keys', `expected 1 to ${this.#slots} keys`);
    }
    keys.forEach((key, i) => {
      if (!(key instanceof Uint8Array) || key.byteLength !== TICKET_KEY_BYTES) {
        throw new InvalidOptionError('keys', `key ${i} is not ${TICKET_KEY_BYTES} bytes`);
      }
    });
    const now = this.#clock();
    this.#write(() => {
      this.#eraseAll();
      this.#ints[H_FIXED] = 1;
      // Decrypt-only keys first, so that the encrypting one is installed last and is current.
      for (let i = keys.length - 1; i >= 0; i--) {
        const slot = this.#install(keys[i], now);
        this.#times[slot * TIMES_PER_SLOT + T_UNTIL] = Infinity;
      }
    });
  }

  /**
   * Primary only. Rotates when the current key has encrypted for `rotate`
   * ms, and zeroes keys whose decryption window ended. Call it at
   * {@link nextDueAt} (the cluster runtime does).
   */
  tick(): TickResult {
    this.#mustOwn('tick');
    const now = this.#clock();
    let rotated = false;
    if (!this.fixed) {
      const current = this.#ints[H_CURRENT];
      if (now >= this.#times[current * TIMES_PER_SLOT + T_CREATED] + this.rotate) {
        this.rotateNow();
        rotated = true;
      }
    }
    let erased = 0;
    for (let slot = 0; slot < this.#slots; slot++) {
      const until = this.#times[slot * TIMES_PER_SLOT + T_UNTIL];
      if (until !== 0 && until <= now) erased++;
    }
    if (erased > 0) {
      this.#write(() => {
        for (let slot = 0; slot < this.#slots; slot++) {
          const until = this.#times[slot * TIMES_PER_SLOT + T_UNTIL];
          if (until !== 0 && until <= now) this.#erase(slot);
        }
      });
    }
    return { rotated, erased };
  }

  /** Primary only. When {@link tick} next has work: a rotation or an erasure (clock ms; Infinity when never). */
  nextDueAt(): number {
    this.#mustOwn('nextDueAt');
    let due = Infinity;
    if (!this.fixed) due = this.#times[this.#ints[H_CURRENT] * TIMES_PER_SLOT + T_CREATED] + this.rotate;
    for (let slot = 0; slot < this.#slots; slot++) {
      const until = this.#times[slot * TIMES_PER_SLOT + T_UNTIL];
      if (until !== 0 && until < due) due = until;
    }
    return due;
  }

  /** Primary only. Zeroes every key; readers then find none. */
  close(): void {
    this.#mustOwn('close');
    this.#write(() => this.#eraseAll());
  }

  /**
   * The ring's whole state, key bytes included (copies): every key that
   * still decrypts with the times that bound it, which one encrypts, and
   * the ring's shape. For a process that cannot share this buffer (a
   * `node:cluster` worker process) to hold the same keys with exactly the
   * same windows, through {@link TicketKeyRing.restore} and
   * {@link TicketKeyRing.load}. It holds secrets: never log it.
   */
  snapshot(): TicketKeyRingState {
    for (let attempt = 0; ; attempt++) {
      const before = Atomics.load(this.#ints, H_SEQUENCE);
      if ((before & 1) !== 0 && attempt < READ_ATTEMPTS) continue;
      const keys: TicketKeyState[] = [];
      for (let slot = 0; slot < this.#slots; slot++) {
        const times = slot * TIMES_PER_SLOT;
        if (this.#times[times + T_UNTIL] === 0) continue;
        keys.push({
          slot,
          key: Buffer.from(this.#bytes.subarray(slot * TICKET_KEY_BYTES, (slot + 1) * TICKET_KEY_BYTES)),
          created: this.#times[times + T_CREATED],
          retired: this.#times[times + T_RETIRED],
          until: this.#times[times + T_UNTIL],
        });
      }
      const state: TicketKeyRingState = {
        slots: this.#slots,
        fixed: this.#ints[H_FIXED] === 1,
        current: this.#ints[H_CURRENT],
        timeout: this.timeout,
        rotate: this.rotate,
        keys,
      };
      if (Atomics.load(this.#ints, H_SEQUENCE) === before) return state;
      wipeRingState(state);
      if (attempt >= READ_ATTEMPTS) throw new InvalidOptionError('snapshot', 'the ring kept changing while it was read');
    }
  }

  /**
   * Makes a ring of this process from another's {@link snapshot}: same
   * slots, keys, windows and current key. It is owned here, so
   * {@link load} updates it (no scheduled rotation: the ring it copies
   * rotates, and its new snapshots are loaded).
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a state that is not a ring's.
   */
  static restore(state: TicketKeyRingState, options: OpenTicketKeyRingOptions = {}): TicketKeyRing {
    const slots = (state as { slots?: unknown } | null)?.slots;
    if (typeof slots !== 'number' || !Number.isInteger(slots) || slots < 1 || slots > MAX_TICKET_KEYS) {
      throw new InvalidOptionError('state', `expected a ring's snapshot with 1 to ${MAX_TICKET_KEYS} slots`);
    }
    const { timeout, rotate } = state;
    if (!Number.isInteger(timeout) || timeout < 0 || !Number.isInteger(rotate) || rotate < 0) {
      throw new InvalidOptionError('state', 'expected whole timeout and rotate values');
    }
    const clock = options.clock ?? Date.now;
    if (typeof clock !== 'function') throw new InvalidOptionError('clock', 'expected a function returning milliseconds');
    const buffer = new SharedArrayBuffer(ringBytes(slots));
    const ints = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    ints[H_SLOTS] = slots;
    const ring = new TicketKeyRing(buffer, true, timeout, rotate, clock);
    ring.load(state);
    Atomics.store(ints, H_VERSION, LAYOUT_VERSION);
    Atomics.store(ints, H_MAGIC, MAGIC);
    return ring;
  }

  /**
   * Owner only. Replaces every key with those of `state` (another ring's
   * {@link snapshot} of the same number of slots), with their windows and
   * current key, in one version-checked write. The state is checked whole
   * first (it may come from another process): on any fault nothing changes.
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a state that does not fit this ring.
   */
  load(state: TicketKeyRingState): void {
    this.#mustOwn('load');
    checkState(state, this.#slots);
    this.#write(() => {
      this.#eraseAll();
      this.#ints[H_FIXED] = state.fixed ? 1 : 0;
      for (const { slot, key, created, retired, until } of state.keys) {
        this.#bytes.set(key, slot * TICKET_KEY_BYTES);
        const times = slot * TIMES_PER_SLOT;
        this.#times[times + T_CREATED] = created;
        this.#times[times + T_RETIRED] = retired;
        this.#times[times + T_UNTIL] = until;
      }
      this.#ints[H_CURRENT] = state.current;
    });
  }

  #find(name: Uint8Array, now: number): number {
    const bytes = this.#bytes;
    for (let slot = 0; slot < this.#slots; slot++) {
      if (!(this.#times[slot * TIMES_PER_SLOT + T_UNTIL] > now)) continue;
      const at = slot * TICKET_KEY_BYTES;
      let same = true;
      for (let i = 0; i < TICKET_PART_BYTES; i++) {
        if (bytes[at + i] !== name[i]) {
          same = false;
          break;
        }
      }
      if (same) return slot;
    }
    return -1;
  }

  #copy(slot: number, key: TicketKey): void {
    // Byte by byte: this runs for every ticket, and three subarray() views per copy were garbage each time.
    const bytes = this.#bytes;
    const at = slot * TICKET_KEY_BYTES;
    const { name, hmac, aes } = key;
    for (let i = 0; i < TICKET_PART_BYTES; i++) {
      name[i] = bytes[at + i];
      hmac[i] = bytes[at + TICKET_PART_BYTES + i];
      aes[i] = bytes[at + 2 * TICKET_PART_BYTES + i];
    }
  }

  /** Runs `change` between the two halves of the sequence word, then bumps the generation. */
  #write(change: () => void): void {
    Atomics.add(this.#ints, H_SEQUENCE, 1);
    try {
      change();
    } finally {
      Atomics.add(this.#ints, H_GENERATION, 1);
      Atomics.add(this.#ints, H_SEQUENCE, 1);
    }
  }

  /** Puts a key in a free slot (or the one closest to its end) and makes it current. Inside #write. */
  #install(key: Uint8Array, now: number): number {
    let slot = -1;
    let soonest = Infinity;
    for (let s = 0; s < this.#slots; s++) {
      const until = this.#times[s * TIMES_PER_SLOT + T_UNTIL];
      if (until === 0) {
        slot = s;
        break;
      }
      if (s !== this.#ints[H_CURRENT] && until < soonest) {
        soonest = until;
        slot = s;
      }
    }
    // Full (only when rotated by hand faster than keys expire): the key closest to its end goes early.
    this.#erase(slot);
    this.#bytes.set(key, slot * TICKET_KEY_BYTES);
    const times = slot * TIMES_PER_SLOT;
    this.#times[times + T_CREATED] = now;
    this.#times[times + T_RETIRED] = 0;
    this.#times[times + T_UNTIL] = Infinity;
    this.#ints[H_CURRENT] = slot;
    return slot;
  }

  /** The current key stops encrypting now and decrypts for `timeout` more. Inside #write. */
  #retireCurrent(now: number): void {
    const times = this.#ints[H_CURRENT] * TIMES_PER_SLOT;
    if (this.#times[times + T_UNTIL] === 0) return;
    this.#times[times + T_RETIRED] = now;
    this.#times[times + T_UNTIL] = now + this.timeout * 1000;
  }

  #erase(slot: number): void {
    this.#bytes.fill(0, slot * TICKET_KEY_BYTES, (slot + 1) * TICKET_KEY_BYTES);
    this.#times.fill(0, slot * TIMES_PER_SLOT, (slot + 1) * TIMES_PER_SLOT);
  }

  #eraseAll(): void {
    this.#bytes.fill(0);
    this.#times.fill(0);
  }

  #mustOwn(method: string): void {
    if (!this.#owner) {
      throw new InvalidOptionError(method, 'only the thread that created the ring (the primary) changes it; worker threads only read');
    }
  }
}
