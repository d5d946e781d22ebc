/**
 * The owner of the table reached over its socket, as a level of a session
 * store (`store/levelled-store.ts`): a worker process asks the owner's
 * table (its `node:cluster` primary's, or the cache daemon's), within a
 * time bound, after its own local copy missed. A lookup the owner does not answer in
 * `ownerTimeout` ms is a miss (a full handshake), never a stalled connection.
 * Ends are sent to the owner without waiting; so are new sessions while
 * this process has no copy of the owner's filter (below).
 *
 * Once a lookup timed out, the owner counts as absent until it answers
 * again (in time, or late: a late answer shows it runs, only slowly):
 * meanwhile one lookup at a time, at most one per {@link PROBE_INTERVAL_MS},
 * goes to it (the probe), and the others miss at once instead of each
 * waiting out the bound. A stopped owner then costs one bound per probe,
 * not one per handshake.
 *
 * An ID the owner's table cannot hold (its filter, `id-filter.ts`, once a
 * complete copy of it arrived) is a miss at once, counted in `ownerSkipped`:
 * that is every TLS 1.3 ClientHello's made-up legacy session ID. Then a new
 * session's handshake waits (up to `ownerTimeout` ms; not while the owner
 * counts as absent) until the owner says it announced the ID to every
 * other process ({@link OwnerLevel.handled}): Node sends no more of a
 * handshake until its `newSession` callback is called, so the client
 * cannot offer the session to another process before that process's
 * filter can hold it. Without the wait, such a client (a browser opening
 * its next connections at once) would miss there by the filter alone.
 *
 * The channel itself is the caller's (`processes/worker-process.ts`): it gives this
 * store a `send` function and hands it the owner's answers
 * ({@link OwnerLevel.answer}).
 *
 * @module
 */
import type { SharedCounters } from '../operations/counters.ts';
import type { SessionLevel } from '../store/levelled-store.ts';
import type { SessionIdFilter } from './id-filter.ts';
import { MAX_REQUEST_ID, W_DELETE, W_GET, W_SET, type ToOwner } from './messages.ts';

/** While the owner counts as absent, how often a lookup still asks it (the probe), in ms. */
const PROBE_INTERVAL_MS = 250;

/** Most IDs remembered while the owner's filter is on its way (it arrives within milliseconds of the hello). */
export const MAX_UNFILTERED = 10_000;

/** Answers older than this many requests are no longer told apart from forged ones. */
const LATE_WINDOW = 1 << 16;

/** What an {@link OwnerLevel} needs. */
export interface OwnerLevelOptions {
  /** How long a lookup waits for the owner, in ms. */
  ownerTimeout: number;
  /** Sends a message to the owner; returns false when the channel is closed. */
  send: (message: ToOwner) => boolean;
  /** Where `ownerLookups`, `ownerHits`, `ownerTimeouts` and `ownerSkipped` are counted. */
  counters: SharedCounters;
  /** Called when a lookup timed out while the owner counted as present (it is slow, stopped or gone). */
  onAbsent?: () => void;
  /** Called when the owner, absent, answered a lookup again (in time or late). */
  onBack?: () => void;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
}

interface Pending {
  resolve: (found: Buffer | 'not_found' | 'expired' | 'timeout' | 'unavailable') => void;
  timer: NodeJS.Timeout;
}

/** See the module's documentation. */
export class OwnerLevel implements SessionLevel {
  readonly name = 'owner';
  readonly #options: OwnerLevelOptions;
  readonly #clock: () => number;
  readonly #pending = new Map<number, Pending>();
  #lastRequest = 0;
  #absent = false;
  #probedAt = 0;
  #ids: SessionIdFilter | undefined;
  /** IDs sent since the filter was last set or forgotten, while there was none; `undefined` once too many. */
  #unfiltered: Buffer[] | undefined = [];
  /** The stores waiting for the owner to say it handled their ID, by the ID's bytes as a latin1 string. */
  readonly #storing = new Map<string, Array<() => void>>();

  constructor(options: OwnerLevelOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Whether the owner counts as absent: a lookup timed out, and none was answered since. */
  get absent(): boolean {
    return this.#absent;
  }

  /**
   * The filter of the session IDs the owner's table holds, once this
   * process has a complete copy (`undefined`: ask the owner about every ID,
   * while it is on its way or when the owner sends none).
   */
  get filter(): SessionIdFilter | undefined {
    return this.#ids;
  }

  /**
   * Sets (or, with `undefined`, forgets) the filter. The session IDs this
   * process sent while none was set are added to it: the owner announces
   * each ID to the other processes only, and its snapshot may predate them.
   * Should more than {@link MAX_UNFILTERED} be sent meanwhile, the filter is
   * not used (every lookup goes to the owner until the next connection).
   */
  set filter(ids: SessionIdFilter | undefined) {
    const sent = this.#unfiltered;
    this.#unfiltered = [];
    if (ids === undefined || sent === undefined) {
      this.#ids = undefined;
      return;
    }
    for (const id of sent) ids.add(id);
    this.#ids = ids;
  }

  /** Lookups waiting for the owner. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * A promise of the owner's answer, settled within `ownerTimeout` ms: the
   * session, or why not: `not_found` or `expired` (the owner's table said
   * so), `timeout` (no answer in time); at once when not asked:
   * `not_found` (the owner's table cannot hold it: {@link filter}), or
   * `unavailable` (the channel is closed, or the owner counts as absent and
   * another lookup is its probe).
   */
  lookUp(id: Uint8Array): 'not_found' | 'unavailable' | Promise<Buffer | 'not_found' | 'expired' | 'timeout' | 'unavailable'> {
    const { counters } = this.#options;
    if (this.#ids !== undefined && !this.#ids.mayHold(id)) {
      counters.add('ownerSkipped');
      return 'not_found';
    }
    if (this.#absent) {
      // The owner is not answering: one probe at a time, now and then; the other lookups miss now.
      const now = this.#clock();
      if (this.#pending.size > 0 || now - this.#probedAt < PROBE_INTERVAL_MS) return 'unavailable';
      this.#probedAt = now;
    }
    const request = this.#nextRequest();
    const key = Buffer.from(id);
    if (!this.#options.send({ op: W_GET, request, id: key })) return 'unavailable';
    counters.add('ownerLookups');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(request);
        counters.add('ownerTimeouts');
        if (!this.#absent) {
          this.#absent = true;
          this.#probedAt = this.#clock();
          this.#options.onAbsent?.();
        }
        resolve('timeout');
      }, this.#options.ownerTimeout);
      this.#pending.set(request, { resolve, timer });
    });
  }

  /**
   * Sends a session to the owner's table until `expiresAt` (ms since the
   * epoch). False when not sent (it expired, or the channel is closed);
   * true, or with the owner's filter in use a promise of true settled once
   * the owner handled the ID ({@link handled}) or after `ownerTimeout` ms,
   * whichever comes first (see the module's documentation). Never rejects.
   */
  put(id: Uint8Array, session: Uint8Array, expiresAt: number): boolean | Promise<boolean> {
    if (!(expiresAt > this.#clock())) return false;
    const key = Buffer.from(id);
    if (!this.#options.send({ op: W_SET, id: key, session: Buffer.from(session), expiresAt })) return false;
    if (this.#ids === undefined) {
      // Added to the filter when it comes: the owner announces each ID to the other processes only.
      if (this.#unfiltered !== undefined && this.#unfiltered.length < MAX_UNFILTERED) this.#unfiltered.push(key);
      else this.#unfiltered = undefined;
      return true;
    }
    this.#ids.add(key);
    if (this.#absent) return true;
    return new Promise((resolve) => {
      const name = key.toString('latin1');
      const settle = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const waiting = this.#storing.get(name);
        const rest = waiting?.filter((other) => other !== settle) ?? [];
        if (rest.length === 0) this.#storing.delete(name);
        else this.#storing.set(name, rest);
        resolve(true);
      }, this.#options.ownerTimeout);
      const waiting = this.#storing.get(name);
      if (waiting === undefined) this.#storing.set(name, [settle]);
      else waiting.push(settle);
    });
  }

  /** Stores waiting for the owner's word ({@link put}). */
  get storing(): number {
    return this.#storing.size;
  }

  /**
   * The owner handled these IDs of this process's (stored and announced to
   * every other process, or refused): their handshakes go on. IDs nobody
   * waits for (already timed out) are ignored.
   */
  handled(ids: readonly Buffer[]): void {
    for (const id of ids) {
      const name = id.toString('latin1');
      const waiting = this.#storing.get(name);
      if (waiting === undefined) continue;
      this.#storing.delete(name);
      for (const settle of waiting) settle();
    }
  }

  /**
   * Removes a session for good (its connection ended in a fatal alert) from
   * the owner's table, which has every other worker drop its copy
   * (without waiting).
   */
  delete(id: Uint8Array): void {
    this.#options.send({ op: W_DELETE, id: Buffer.from(id) });
  }

  /**
   * The owner's answer to `request`: the session, or `undefined` (with
   * `expired` true when its table held the session past its lifetime).
   * Returns `'answered'`, `'late'` (a request that already timed out:
   * dropped) or `'unknown'` (never asked: the caller counts it as
   * malformed).
   */
  answer(request: number, session: Buffer | undefined, expired = false): 'answered' | 'late' | 'unknown' {
    const pending = this.#pending.get(request);
    if (pending === undefined) {
      const age = (this.#lastRequest - request + MAX_REQUEST_ID) % MAX_REQUEST_ID;
      if (this.#lastRequest === 0 || age >= LATE_WINDOW) return 'unknown';
      this.#back();
      return 'late';
    }
    this.#pending.delete(request);
    clearTimeout(pending.timer);
    this.#back();
    // The store copies a hit into the local copy, with its expiry.
    if (session !== undefined) this.#options.counters.add('ownerHits');
    pending.resolve(session ?? (expired ? 'expired' : 'not_found'));
    return 'answered';
  }

  /** Settles every waiting lookup as a miss, and lets every waiting store go on, now (the channel closed). */
  abandon(): void {
    for (const [request, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(request);
      pending.resolve('unavailable');
    }
    const storing = [...this.#storing.values()];
    this.#storing.clear();
    for (const waiting of storing) for (const settle of waiting) settle();
  }

  /** The owner answered: it is not absent (any more). */
  #back(): void {
    if (!this.#absent) return;
    this.#absent = false;
    this.#options.onBack?.();
  }

  #nextRequest(): number {
    this.#lastRequest = this.#lastRequest >= MAX_REQUEST_ID ? 1 : this.#lastRequest + 1;
    return this.#lastRequest;
  }
}
