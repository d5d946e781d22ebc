/**
 * A small block of named event counters in its own `SharedArrayBuffer`,
 * created by the primary and opened by every worker thread: the TLS-level
 * events (hook answers, tickets, handshakes) and the primary's worker
 * restarts, as totals across every thread without asking any of them.
 *
 * Striped like the table's counters: each thread adds with `Atomics.add` to
 * its own stripe of eight 128-byte lines (chosen by `threadId`), readers sum
 * the stripes. Each counter is a (low, high) pair of 32-bit words, so counts
 * pass 2^32; a stripe holds up to {@link MAX_COUNTERS} counters.
 *
 * @module
 */
import { deprecate } from 'node:util';
import { threadId } from 'node:worker_threads';
import { InvalidCounterBufferError } from '../errors.ts';
import { withOldHookCounterName, type SessionHookCounters } from '../tls/session-hooks.ts';
import type { TicketCounters } from '../tickets/ticket-counters.ts';
import { describe } from '../describe.ts';

/**
 * Every counter of the block, in layout order. Never reorder: the order is
 * the layout. A renamed counter keeps its place, and its old name is read
 * as the new one ({@link RENAMED_COUNTERS}).
 */
export const COUNTER_NAMES = [
  // Session hooks (`SessionHookCounters`).
  'stored',
  'skippedTls13',
  'refused',
  'lookupHits',
  'missed',
  // Ticket keys (`TicketCounters`).
  'issued',
  'decrypted',
  'unknownKey',
  'failures',
  'keyUpdates',
  // Handshakes seen on 'secureConnection', by result and protocol version.
  'fullTls12',
  'fullTls13',
  'fullOther',
  'resumedTls12',
  'resumedTls13',
  'resumedOther',
  // Primary.
  'workerRestarts',
  'ticketKeyRotations',
  // Worker processes (issue 6): lookups sent to the table's owner over its socket, and the local copy.
  'ownerLookups',
  'ownerHits',
  'ownerTimeouts',
  'ownerMalformed',
  'localHits',
  // Redis, the second level across hosts (issue 7).
  'redisLookups',
  'redisHits',
  'redisTimeouts',
  'redisErrors',
  'redisRejected',
  'redisWrites',
  // Ticket renewal and lifetimes (issue 17), `TicketCounters`.
  'renewed',
  'expired',
  'renewalOff',
  // Sessions ended by a fatal alert (issue 17), `SessionHookCounters`.
  'endedByAlert',
  // Redis writes and ends kept through an outage, sent once it is back (`redis/deferred-writes.ts`).
  'redisDeferred',
  'redisDeferredDropped',
  // Missed resumptions by method and reason (issue 25), `tls/resumption-misses.ts` (`MISSES`).
  'missIdNotFound',
  'missIdExpired',
  'missIdTimeout',
  'missIdUnavailable',
  'missIdUnreadable',
  'missIdError',
  'missIdRefused',
  'missTicketUnknownKey',
  'missTicketExpired',
  'missTicketError',
  'missTicketRefused',
  // Lookups a worker process did not send: its copy of the owner's filter says the table cannot hold the ID (`owner/id-filter.ts`).
  'ownerSkipped',
  // Missed resumptions of a session made for another name or under other authentication (issue 33), `MISSES`.
  'missIdNameMismatch',
  'missTicketNameMismatch',
  // The age of a session when it resumed, by method (issue 32): a histogram, one counter per bucket of
  // SESSION_AGE_BUCKETS_S (the sessions of that bucket alone, not cumulative), the count, and the sum in ms.
  'ageIdLe0',
  'ageIdLe1',
  'ageIdLe2',
  'ageIdLe3',
  'ageIdLe4',
  'ageIdLe5',
  'ageIdLe6',
  'ageIdLe7',
  'ageIdLe8',
  'ageIdLe9',
  'ageIdLe10',
  'ageIdLe11',
  'ageIdCount',
  'ageIdSumMs',
  'ageTicketLe0',
  'ageTicketLe1',
  'ageTicketLe2',
  'ageTicketLe3',
  'ageTicketLe4',
  'ageTicketLe5',
  'ageTicketLe6',
  'ageTicketLe7',
  'ageTicketLe8',
  'ageTicketLe9',
  'ageTicketLe10',
  'ageTicketLe11',
  'ageTicketCount',
  'ageTicketSumMs',
] as const;

/** A counter's name. */
export type CounterName = (typeof COUNTER_NAMES)[number];

/** Every counter's total across threads. */
export type CounterValues = Record<CounterName, number>;

const MAGIC = 0x544c5343; // "TLSC"
const HEADER_WORDS = 32;
/** Stripes; threads share one when their `threadId`s are equal modulo this. */
const STRIPES = 64;
/** Words per stripe: eight 128-byte lines, 128 counters of two words. */
const STRIPE_WORDS = 256;
/** Counters a stripe holds. */
export const MAX_COUNTERS = STRIPE_WORDS / 2;
const INDEX = new Map<string, number>(COUNTER_NAMES.map((name, i) => [name, i]));

/**
 * Counters renamed in 0.2, by their old name: `ipc*` named the Unix socket
 * to the table's owner, and `resumed` counted the session hooks' lookups
 * that found a session, not resumed handshakes (`resumedTls12` … count
 * those). {@link SharedCounters.get}, {@link SharedCounters.add} and
 * {@link SharedCounters.mirror} read an old name as the new one until 0.3,
 * the first in a process emitting a `DeprecationWarning`
 * (`TLS_CACHE_DEP007`); `values()` has the new names only.
 */
const RENAMED_COUNTERS = Object.freeze({
  resumed: 'lookupHits',
  ipcLookups: 'ownerLookups',
  ipcHits: 'ownerHits',
  ipcTimeouts: 'ownerTimeouts',
  ipcMalformed: 'ownerMalformed',
  ipcSkipped: 'ownerSkipped',
} as const satisfies Record<string, CounterName>);

/** A counter's place under its old name (which warns), for a name {@link INDEX} does not know; `undefined` for one it never had. */
function renamedIndexOf(name: string): number | undefined {
  if (!Object.hasOwn(RENAMED_COUNTERS, name)) return undefined;
  const now: CounterName = RENAMED_COUNTERS[name as keyof typeof RENAMED_COUNTERS];
  // Once per process for every old name (util.deprecate warns once per code).
  deprecate(
    () => {},
    `the counter name ${name} is deprecated and goes in 0.3: use ${now}, the same counter under its new name`,
    'TLS_CACHE_DEP007',
  )();
  return INDEX.get(now);
}
const BYTES = (HEADER_WORDS + STRIPES * STRIPE_WORDS) * 4;

/** The counter of a handshake, for {@link SharedCounters.countHandshake}: looked up once, not per handshake. */
function handshakeIndex(resumed: boolean, protocol: string | null): number {
  if (resumed) return protocol === 'TLSv1.3' ? RESUMED_TLS13 : protocol === 'TLSv1.2' ? RESUMED_TLS12 : RESUMED_OTHER;
  return protocol === 'TLSv1.3' ? FULL_TLS13 : protocol === 'TLSv1.2' ? FULL_TLS12 : FULL_OTHER;
}
const FULL_TLS12 = INDEX.get('fullTls12')!;
const FULL_TLS13 = INDEX.get('fullTls13')!;
const FULL_OTHER = INDEX.get('fullOther')!;
const RESUMED_TLS12 = INDEX.get('resumedTls12')!;
const RESUMED_TLS13 = INDEX.get('resumedTls13')!;
const RESUMED_OTHER = INDEX.get('resumedOther')!;

/**
 * Upper bounds, in seconds, of the buckets of `resumed_session_age_seconds`
 * (the age of a session when it resumes): from seconds to a day, the range
 * of `TLS_CACHE_SESSION_TIMEOUT`.
 */
export const SESSION_AGE_BUCKETS_S = [5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400] as const;
const AGE_FIRST = { session_id: INDEX.get('ageIdLe0')!, ticket: INDEX.get('ageTicketLe0')! } as const;
const AGE_BUCKET_COUNT = SESSION_AGE_BUCKETS_S.length;

/**
 * The session ages of one method in `values`: how many resumed sessions
 * fell in each bucket of {@link SESSION_AGE_BUCKETS_S} (not cumulative),
 * then how many were older than the last bound.
 */
export function sessionAgeCounts(values: CounterValues, method: 'session_id' | 'ticket'): number[] {
  const prefix = method === 'ticket' ? 'ageTicket' : 'ageId';
  const buckets = SESSION_AGE_BUCKETS_S.map((_le, i) => values[`${prefix}Le${i}` as CounterName]);
  return [...buckets, values[`${prefix}Count`] - buckets.reduce((a, b) => a + b, 0)];
}

/** Named counters shared by every thread. */
export class SharedCounters {
  /** The buffer to post to worker threads (`SharedCounters.open`). */
  readonly buffer: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #stripe: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#i32 = new Int32Array(buffer);
    this.#stripe = HEADER_WORDS + (threadId % STRIPES) * STRIPE_WORDS;
  }

  /** A new block, every counter at zero. */
  static create(): SharedCounters {
    const buffer = new SharedArrayBuffer(BYTES);
    const counters = new SharedCounters(buffer);
    Atomics.store(counters.#i32, 0, MAGIC);
    Atomics.store(counters.#i32, 1, COUNTER_NAMES.length);
    return counters;
  }

  /**
   * Opens a block made by {@link SharedCounters.create} (in another thread).
   * @throws InvalidCounterBufferError (`ERR_TLS_CACHE_INVALID_COUNTER_BUFFER`) for a buffer that is not one.
   */
  static open(buffer: SharedArrayBuffer): SharedCounters {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTES) {
      throw new InvalidCounterBufferError(`expected the buffer of SharedCounters.create(), got ${describe(buffer)}`);
    }
    const i32 = new Int32Array(buffer);
    if (Atomics.load(i32, 0) !== MAGIC || Atomics.load(i32, 1) !== COUNTER_NAMES.length) {
      throw new InvalidCounterBufferError('this SharedArrayBuffer does not hold counters of this version');
    }
    return new SharedCounters(buffer);
  }

  /**
   * Adds `n` (a whole number from 0 to 2^32 - 1; default 1) to a counter, in
   * this thread's stripe. An old name is deprecated (see `RENAMED_COUNTERS`).
   */
  add(name: CounterName | keyof typeof RENAMED_COUNTERS, n = 1): void {
    // The new name in one lookup: this is on every handshake's path.
    const index = INDEX.get(name) ?? renamedIndexOf(name);
    if (index === undefined || n === 0) return;
    this.#addAt(this.#stripe + 2 * index, n);
  }

  /** Counts a completed handshake by whether it resumed and its protocol version (`socket.getProtocol()`). */
  countHandshake(resumed: boolean, protocol: string | null): void {
    this.#addAt(this.#stripe + 2 * handshakeIndex(resumed, protocol), 1);
  }

  /**
   * Counts a resumed session's age (ms) under its method: one more in the
   * first bucket of {@link SESSION_AGE_BUCKETS_S} it fits (none past the
   * last: the count and the sum hold it), the count, and the sum.
   */
  countSessionAge(method: 'session_id' | 'ticket', ageMs: number): void {
    const first = AGE_FIRST[method];
    const seconds = ageMs / 1000;
    let bucket = 0;
    while (bucket < AGE_BUCKET_COUNT && seconds > SESSION_AGE_BUCKETS_S[bucket]) bucket++;
    if (bucket < AGE_BUCKET_COUNT) this.#addAt(this.#stripe + 2 * (first + bucket), 1);
    this.#addAt(this.#stripe + 2 * (first + AGE_BUCKET_COUNT), 1);
    this.#addAt(this.#stripe + 2 * (first + AGE_BUCKET_COUNT + 1), Math.min(Math.round(ageMs), 0xffffffff));
  }

  /** Adds `n` to the two-word counter at word `at` of this thread's stripe. */
  #addAt(at: number, n: number): void {
    const before = Atomics.add(this.#i32, at, n | 0);
    if ((before >>> 0) + (n >>> 0) > 0xffffffff) Atomics.add(this.#i32, at + 1, 1);
  }

  /** A counter's total across every thread. An old name is deprecated (see `RENAMED_COUNTERS`). */
  get(name: CounterName | keyof typeof RENAMED_COUNTERS): number {
    const index = INDEX.get(name) ?? renamedIndexOf(name);
    if (index === undefined) return 0;
    let total = 0;
    for (let s = 0; s < STRIPES; s++) {
      const at = HEADER_WORDS + s * STRIPE_WORDS + 2 * index;
      // The high word first: a carry landing between the two reads then only undercounts this read.
      const high = Atomics.load(this.#i32, at + 1) >>> 0;
      const low = Atomics.load(this.#i32, at) >>> 0;
      total += high * 2 ** 32 + low;
    }
    return total;
  }

  /** Every counter's total across every thread. */
  values(): CounterValues {
    const values = {} as CounterValues;
    for (const name of COUNTER_NAMES) values[name] = this.get(name);
    return values;
  }

  /** The session hook counters of every thread, summed. */
  sessionHookCounters(): SessionHookCounters {
    const v = this.values();
    const { stored, skippedTls13, refused, lookupHits, missed, endedByAlert } = v;
    return withOldHookCounterName({ stored, skippedTls13, refused, lookupHits, missed, endedByAlert });
  }

  /** The ticket counters of every thread, summed. */
  ticketCounters(): TicketCounters {
    const v = this.values();
    return {
      issued: v.issued,
      decrypted: v.decrypted,
      unknownKey: v.unknownKey,
      failures: v.failures,
      keyUpdates: v.keyUpdates,
      renewed: v.renewed,
      expired: v.expired,
      renewalOff: v.renewalOff,
    };
  }

  /**
   * A counters object for `attachSessionCache`'s or `attachTicketKeys`'s
   * `counters` option: it reads as this thread's own counts, and every
   * increment is also added to the shared block.
   */
  mirror<K extends CounterName>(names: readonly K[]): Record<K, number> {
    const view = {} as Record<K, number>;
    for (const name of names) {
      // Set on every handshake: the counter's place and its local value are found once, here.
      const at = this.#stripe + 2 * (INDEX.get(name) ?? renamedIndexOf(name))!;
      let local = 0;
      Object.defineProperty(view, name, {
        enumerable: true,
        get: () => local,
        set: (value: number) => {
          const delta = value - local;
          local = value;
          if (delta > 0) this.#addAt(at, delta);
        },
      });
    }
    return view;
  }
}

/** Names of the session hook counters, for {@link SharedCounters.mirror}. */
export const HOOK_COUNTER_NAMES = ['stored', 'skippedTls13', 'refused', 'lookupHits', 'missed', 'endedByAlert'] as const satisfies readonly CounterName[];
/** Names of the ticket counters, for {@link SharedCounters.mirror}. */
export const TICKET_COUNTER_NAMES = [
  'issued',
  'decrypted',
  'unknownKey',
  'failures',
  'keyUpdates',
  'renewed',
  'expired',
  'renewalOff',
] as const satisfies readonly CounterName[];
