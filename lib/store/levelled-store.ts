/**
 * One session store made of levels, fastest first: the shared table (a
 * worker thread's), a worker process's local copy, the owner of the table
 * reached over a channel (the `node:cluster` primary over IPC), and Redis
 * (other hosts). Every runtime builds its store this way
 * ({@link LevelledStore}); a new deployment shape is one more level.
 *
 * - **Look up:** the levels are asked in order until one has the session;
 *   a level that cannot answer says why ({@link LookupMiss}) at once or
 *   within its own bound, and the next is asked. A hit below the first
 *   level is copied back into the faster ones, with its expiry. A miss
 *   everywhere says why: `expired` when any level held it expired (the
 *   others keep it no longer), else the deepest level's reason.
 * - **Store:** a new session goes to every level, each told when it
 *   expires: worked out once, here, from the session's own time and the
 *   timeout ({@link expiryOf}), on the injected clock. A level may ask the
 *   handshake to wait, within its bound, until every process it reaches
 *   can find the session (a promise); a copy of a hit never waits.
 * - **Delete:** a session ended by a fatal alert (RFC 5246 §7.2.2) leaves
 *   every level, and what each level reaches (the owner tells the other
 *   processes, Redis the other hosts). **Forget:** a session another
 *   process or host ended leaves this process's own levels only.
 *
 * A level that throws is skipped, as if it said `error`: a store never
 * fails a handshake.
 *
 * @module
 */
import type { Lookup, LookupMiss, SessionStore } from '../tls/session-hooks.ts';
import { sessionExpiresAt } from '../tls/session-der.ts';

/** One level of a {@link LevelledStore}. */
export interface SessionLevel {
  /** What it is, for logs and tests: `table`, `local copy`, `owner`, `redis`. */
  readonly name: string;
  /**
   * The session stored under `id`, or why there is none: synchronously, or
   * a promise that settles within the level's own bound and never rejects.
   * The bytes may be a view valid until the next lookup (the caller copies
   * or uses them at once).
   */
  lookUp(id: Buffer): Lookup | Promise<Lookup>;
  /**
   * Keeps a session until `expiresAt` (ms since the epoch); false when
   * refused. May return a promise, settled within the level's own bound and
   * never rejecting, when the handshake should wait until the session is
   * known wherever the level reaches (the owner's, `owner/owner-level.ts`).
   */
  put(id: Buffer, session: Uint8Array, expiresAt: number): boolean | Promise<boolean>;
  /** Removes a session ended by a fatal alert, here and wherever this level reaches. */
  delete(id: Buffer): void;
  /** Drops this process's own state of a session ended elsewhere (a copy, a write still waiting). @defaultValue nothing */
  forget?(id: Buffer): void;
  /**
   * When a session this level's lookup returned expires, if the level
   * knows better than the session's own DER (Redis seals it beside the
   * session): a copy into a faster level is kept no longer. @defaultValue unknown
   */
  expiryOf?(session: Uint8Array): number | undefined;
}

/** Options of {@link LevelledStore}. */
export interface LevelledStoreOptions {
  /** The levels, fastest first; at least one. */
  levels: readonly SessionLevel[];
  /** Session lifetime in whole seconds (the servers' `sessionTimeout`). */
  timeout: number;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
}

/** See the module's documentation. */
export class LevelledStore implements SessionStore {
  readonly timeout: number;
  readonly levels: readonly SessionLevel[];
  readonly #clock: () => number;

  constructor({ levels, timeout, clock = Date.now }: LevelledStoreOptions) {
    if (levels.length === 0) throw new TypeError('a store needs at least one level');
    this.levels = levels;
    this.timeout = timeout;
    this.#clock = clock;
  }

  /**
   * When a session stops resuming: its own `time + timeout` (OpenSSL's
   * rule), but no later than `timeout` from now, in ms since the epoch.
   */
  expiryOf(session: Uint8Array): number {
    const latest = this.#clock() + this.timeout * 1000;
    const own = sessionExpiresAt(session);
    return own === undefined ? latest : Math.min(own, latest);
  }

  /** The session, or `undefined`; see {@link lookUp}. */
  get(id: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    const found = this.lookUp(id);
    if (found instanceof Promise) return found.then((answer) => (typeof answer === 'string' ? undefined : answer));
    return typeof found === 'string' ? undefined : found;
  }

  /** Asks the levels in order; see the module's documentation. Never throws, never rejects. */
  lookUp(id: Uint8Array): Lookup | Promise<Lookup> {
    return this.#from(0, toBuffer(id), false);
  }

  /**
   * Stores a new session in every level; true when any level kept it (a
   * worker process's local copy may be off, or a session too large for the
   * table: the other levels still hold it). A promise when a level asked to
   * be waited for; it never rejects.
   */
  set(id: Uint8Array, session: Uint8Array): boolean | Promise<boolean> {
    const key = toBuffer(id);
    const expiresAt = this.expiryOf(session);
    let kept = false;
    let waits: Array<Promise<boolean>> | undefined;
    for (const level of this.levels) {
      const put = attempt(() => level.put(key, session, expiresAt), false);
      if (put instanceof Promise) (waits ??= []).push(put.catch(() => false));
      else if (put) kept = true;
    }
    if (waits === undefined) return kept;
    return Promise.all(waits).then((puts) => kept || puts.includes(true));
  }

  /** Removes a session ended by a fatal alert from every level (and what they reach). True: nothing can resume it now. */
  delete(id: Uint8Array): boolean {
    const key = toBuffer(id);
    for (const level of this.levels) attempt(() => level.delete(key), undefined);
    return true;
  }

  /** Drops this process's own copies of a session another process or host ended. */
  forget(id: Uint8Array): void {
    const key = toBuffer(id);
    for (const level of this.levels) attempt(() => level.forget?.(key), undefined);
  }

  /** Asks level `i`; `expired` tells whether a faster level held the session expired. */
  #from(i: number, id: Buffer, expired: boolean): Lookup | Promise<Lookup> {
    // A level that throws said `error` (no closure per lookup: this is every handshake's path).
    let found: Lookup | Promise<Lookup>;
    try {
      found = this.levels[i]!.lookUp(id);
    } catch {
      found = 'error';
    }
    if (!(found instanceof Promise)) return this.#after(i, id, expired, found);
    return found.then(
      (answer) => this.#after(i, id, expired, answer),
      () => this.#after(i, id, expired, 'error'),
    );
  }

  /** What level `i` answered: a hit (copied into the faster levels), the next level's answer, or the store's miss. */
  #after(i: number, id: Buffer, expired: boolean, answer: Lookup): Lookup | Promise<Lookup> {
    if (typeof answer !== 'string') {
      if (i > 0) {
        const expiresAt = Math.min(this.expiryOf(answer), this.levels[i]!.expiryOf?.(answer) ?? Infinity);
        for (let j = 0; j < i; j++) {
          try {
            // A copy of a hit never waits: a promise the level returns is not awaited.
            void this.levels[j]!.put(id, answer, expiresAt);
          } catch {
            // A level's failure never reaches the handshake.
          }
        }
      }
      return answer;
    }
    const anyExpired = expired || answer === 'expired';
    if (i === this.levels.length - 1) return anyExpired ? 'expired' : answer;
    return this.#from(i + 1, id, anyExpired);
  }
}

/** `fn()`, or `fallback` when it throws: a level's failure never reaches the handshake. */
function attempt<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function toBuffer(id: Uint8Array): Buffer {
  return Buffer.isBuffer(id) ? id : Buffer.from(id.buffer, id.byteOffset, id.byteLength);
}
