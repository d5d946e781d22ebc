/**
 * A worker process's own small copy of the sessions it has seen (made, or
 * fetched from the primary), so that a returning client costs no round trip
 * to the primary. Bounded in bytes, least recently used out first; each
 * entry keeps its absolute expiry (when OpenSSL stops resuming the session),
 * so a copy never outlives the session it copies. The primary's table stays
 * the source of truth: this copy is dropped on a flush. It is the first
 * level of the process's store itself (`levelled-store.ts`).
 *
 * @module
 */
import { InvalidOptionError } from '../errors.ts';
import { describe } from '../describe.ts';
import type { SessionLevel } from './levelled-store.ts';

/** What an entry costs besides its ID and session bytes (map entry, object, buffer headers), an estimate. */
export const LOCAL_ENTRY_OVERHEAD = 160;

interface Entry {
  session: Buffer;
  expiresAt: number;
  bytes: number;
}

/** A bounded LRU map from session ID to session, with absolute expiry: a level of a store. */
export class LocalSessions implements SessionLevel {
  readonly name = 'local copy';
  /** The budget in bytes; 0: nothing is kept. */
  readonly maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  readonly #clock: () => number;
  readonly #onHit: (() => void) | undefined;
  #bytes = 0;

  /**
   * @param maxBytes - the budget (IDs, sessions and {@link LOCAL_ENTRY_OVERHEAD} per entry); 0 keeps nothing.
   * @param clock - milliseconds since the epoch. @defaultValue `Date.now`
   * @param onHit - called at each lookup that finds a session (counted in `localHits`). @defaultValue none
   * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a budget that is not a whole number of bytes, or a clock that is not a function.
   */
  constructor(maxBytes: number, clock: () => number = Date.now, onHit?: () => void) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
      throw new InvalidOptionError('localSize', `expected a whole number of bytes, got ${describe(maxBytes)}`);
    }
    if (typeof clock !== 'function') throw new InvalidOptionError('clock', 'expected a function returning milliseconds');
    this.maxBytes = maxBytes;
    this.#clock = clock;
    this.#onHit = onHit;
  }

  /** Entries held (expired ones not yet met included). */
  get size(): number {
    return this.#entries.size;
  }

  /** Bytes held, by the same estimate as the budget. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The session under `id` if held and not expired (then it becomes the most recently used), else `not_found`. */
  lookUp(id: Uint8Array): Buffer | 'not_found' {
    if (this.maxBytes === 0) return 'not_found';
    const key = keyOf(id);
    const entry = this.#entries.get(key);
    if (entry === undefined) return 'not_found';
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#clock()) {
      this.#bytes -= entry.bytes;
      return 'not_found';
    }
    this.#entries.set(key, entry);
    this.#onHit?.();
    return entry.session;
  }

  /**
   * Keeps a copy of `session` under `id` until `expiresAt` (clock ms),
   * evicting the least recently used entries to stay within the budget.
   * Returns whether it was kept (not when expired already or larger than
   * the whole budget).
   */
  put(id: Uint8Array, session: Uint8Array, expiresAt: number): boolean {
    if (this.maxBytes === 0 || !(expiresAt > this.#clock())) return false;
    const key = keyOf(id);
    const bytes = key.length + session.byteLength + LOCAL_ENTRY_OVERHEAD;
    this.delete(id);
    if (bytes > this.maxBytes) return false;
    while (this.#bytes + bytes > this.maxBytes) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, Entry];
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
    }
    // A copy of its own, outside Node's shared 8 KiB pool: a kept entry must not pin a slab of others.
    const copy = Buffer.allocUnsafeSlow(session.byteLength);
    copy.set(session);
    this.#entries.set(key, { session: copy, expiresAt, bytes });
    this.#bytes += bytes;
    return true;
  }

  /** Drops the entry under `id`; returns whether there was one. */
  delete(id: Uint8Array): boolean {
    const key = keyOf(id);
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
    return true;
  }

  /** Drops the entry under `id`: a session another process or host ended. */
  forget(id: Uint8Array): void {
    this.delete(id);
  }

  /** Drops everything; returns how many entries there were. */
  clear(): number {
    const count = this.#entries.size;
    this.#entries.clear();
    this.#bytes = 0;
    return count;
  }
}

/** IDs are at most 32 bytes: a latin1 string of them is a cheap, exact map key. */
function keyOf(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1');
}
