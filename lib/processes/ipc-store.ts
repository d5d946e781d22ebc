/**
 * The session store of a `node:cluster` worker process: its own bounded
 * local copy first ({@link LocalSessions}), then the primary's table over
 * the IPC channel, within a time bound. A lookup the primary does not answer
 * in `ipcTimeout` ms is a miss (a full handshake), never a stalled
 * connection. New sessions go to the local copy and to the primary, without
 * waiting.
 *
 * Once a lookup timed out, the primary counts as absent until it answers
 * again (in time, or late: a late answer shows it runs, only slowly):
 * meanwhile one lookup at a time, at most one per {@link PROBE_INTERVAL_MS},
 * goes to it (the probe), and the others miss at once instead of each
 * waiting out the bound. A stopped primary then costs one bound per probe,
 * not one per handshake.
 *
 * The channel itself is the caller's (`worker-process.ts`): it gives this
 * store a `send` function and hands it the primary's answers
 * ({@link IpcSessionStore.answer}).
 *
 * @module
 */
import type { SharedCounters } from '../operations/counters.ts';
import type { Lookup, SessionStore } from '../tls/session-hooks.ts';
import { MAX_REQUEST_ID, W_DELETE, W_GET, W_SET, type ToPrimary } from './ipc-messages.ts';
import type { LocalSessions } from './local-sessions.ts';
import { sessionExpiresAt } from '../tls/session-expiry.ts';

/** While the primary counts as absent, how often a lookup still asks it (the probe), in ms. */
export const PROBE_INTERVAL_MS = 250;

/** Answers older than this many requests are no longer told apart from forged ones. */
const LATE_WINDOW = 1 << 16;

/** What an {@link IpcSessionStore} needs. */
export interface IpcStoreOptions {
  /** Session lifetime in seconds (the servers' `sessionTimeout`). */
  timeout: number;
  /** How long a lookup waits for the primary, in ms. */
  ipcTimeout: number;
  /** The local copy (budget 0: off). */
  local: LocalSessions;
  /** Sends a message to the primary; returns false when the channel is closed. */
  send: (message: ToPrimary) => boolean;
  /** Where `ipcLookups`, `ipcHits`, `ipcTimeouts` and `localHits` are counted. */
  counters: SharedCounters;
  /** Called when a lookup timed out while the primary counted as present (it is slow, stopped or gone). */
  onAbsent?: () => void;
  /** Called when the primary, absent, answered a lookup again (in time or late). */
  onBack?: () => void;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
}

interface Pending {
  resolve: (found: Buffer | 'not_found' | 'expired' | 'timeout' | 'unavailable') => void;
  timer: NodeJS.Timeout;
  id: Buffer;
}

/** See the module's documentation. */
export class IpcSessionStore implements SessionStore {
  readonly timeout: number;
  readonly #options: IpcStoreOptions;
  readonly #clock: () => number;
  readonly #pending = new Map<number, Pending>();
  #lastRequest = 0;
  #absent = false;
  #probedAt = 0;

  constructor(options: IpcStoreOptions) {
    this.timeout = options.timeout;
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Whether the primary counts as absent: a lookup timed out, and none was answered since. */
  get absent(): boolean {
    return this.#absent;
  }

  /** Lookups waiting for the primary. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The local copy's session when it holds one (synchronous); otherwise a
   * promise of the primary's answer, settled within `ipcTimeout` ms
   * (`undefined` on a timeout, or at once when the channel is closed).
   */
  get(id: Uint8Array): Buffer | undefined | Promise<Buffer | undefined> {
    const found = this.lookUp(id);
    if (found instanceof Promise) return found.then((answer) => (typeof answer === 'string' ? undefined : answer));
    return typeof found === 'string' ? undefined : found;
  }

  /**
   * {@link get} saying why there is no session: `not_found` or `expired`
   * (the primary's table said so), `timeout` (no answer within
   * `ipcTimeout`), `unavailable` (not asked: the channel is closed, or the
   * primary counts as absent and another lookup is its probe).
   */
  lookUp(id: Uint8Array): Buffer | 'unavailable' | Promise<Buffer | 'not_found' | 'expired' | 'timeout' | 'unavailable'> {
    const { local, counters } = this.#options;
    const copy = local.get(id);
    if (copy !== undefined) {
      counters.add('localHits');
      return copy;
    }
    if (this.#absent) {
      // The primary is not answering: one probe at a time, now and then; the other lookups miss now.
      const now = this.#clock();
      if (this.#pending.size > 0 || now - this.#probedAt < PROBE_INTERVAL_MS) return 'unavailable';
      this.#probedAt = now;
    }
    const request = this.#nextRequest();
    const key = Buffer.from(id);
    if (!this.#options.send({ op: W_GET, request, id: key })) return 'unavailable';
    counters.add('ipcLookups');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(request);
        counters.add('ipcTimeouts');
        if (!this.#absent) {
          this.#absent = true;
          this.#probedAt = this.#clock();
          this.#options.onAbsent?.();
        }
        resolve('timeout');
      }, this.#options.ipcTimeout);
      this.#pending.set(request, { resolve, timer, id: key });
    });
  }

  /**
   * Keeps the session in the local copy and sends it to the primary
   * (without waiting), both until its absolute expiry: when OpenSSL stops
   * resuming it, read from the session itself.
   */
  set(id: Uint8Array, session: Uint8Array): boolean {
    const now = this.#clock();
    const latest = now + this.timeout * 1000;
    return this.keep(id, session, Math.min(sessionExpiresAt(session) ?? latest, latest));
  }

  /**
   * Keeps a session in the local copy and sends it to the primary (without
   * waiting), both until `expiresAt` (clock ms): a new session, or one found
   * elsewhere (in Redis). Returns false when it has expired already.
   */
  keep(id: Uint8Array, session: Uint8Array, expiresAt: number): boolean {
    if (!(expiresAt > this.#clock())) return false;
    this.#options.local.set(id, session, expiresAt);
    this.#options.send({ op: W_SET, id: Buffer.from(id), session: Buffer.from(session), expiresAt });
    return true;
  }

  /**
   * Removes a session for good (its connection ended in a fatal alert): from
   * the local copy now, and from the primary's table, which has every other
   * worker drop its copy (without waiting). Returns whether the local copy
   * held it.
   */
  delete(id: Uint8Array): boolean {
    const held = this.#options.local.delete(id);
    this.#options.send({ op: W_DELETE, id: Buffer.from(id) });
    return held;
  }

  /**
   * The primary's answer to `request`: the session, or `undefined` (with
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
    if (session !== undefined) {
      this.#options.counters.add('ipcHits');
      const expiresAt = sessionExpiresAt(session);
      if (expiresAt !== undefined) this.#options.local.set(pending.id, session, Math.min(expiresAt, this.#clock() + this.timeout * 1000));
    }
    pending.resolve(session ?? (expired ? 'expired' : 'not_found'));
    return 'answered';
  }

  /** Settles every waiting lookup as a miss now (the channel closed). */
  abandon(): void {
    for (const [request, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(request);
      pending.resolve('unavailable');
    }
  }

  /** The primary answered: it is not absent (any more). */
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
