/**
 * What a host could not write to Redis while Redis was unavailable (not
 * connected, or the command failed), kept to be sent once it is back:
 *
 * - a new session (its sealed value and absolute expiry), so that sessions
 *   made during an outage (a Sentinel or Cluster failover: seconds,
 *   docs/redis.md#failover) reach the other hosts afterwards instead of
 *   costing each of them a full handshake;
 * - the end of a session by a fatal alert (RFC 5246 §7.2.2), so that a
 *   session ended during an outage is deleted from Redis and announced to
 *   the other hosts afterwards, instead of staying resumable there.
 *
 * One entry per session ID, the newest operation, except that a write
 * never replaces a pending end of the same session. Bounded: at most `max`
 * entries; when full, the oldest pending write goes first, and an end is
 * dropped only when nothing but ends is left. Writes are kept sealed: no
 * session is held here in clear.
 *
 * @module
 */

/** A session write or end waiting for Redis. */
export type DeferredWrite =
  | {
      readonly kind: 'set';
      /** The session ID. */
      readonly id: Buffer;
      /** The sealed value, as the first attempt would have written it. */
      readonly sealed: Buffer;
      /** Absolute expiry, in clock ms: past it the write is dropped, and the key's `PX` is what remains. */
      readonly expiresAt: number;
    }
  | { readonly kind: 'end'; readonly id: Buffer };

/** Entries a {@link DeferredWrites} holds by default: about 4 MiB of TLS 1.2 sessions. */
export const DEFAULT_MAX_DEFERRED = 10_000;

/** See the module's documentation. */
export class DeferredWrites {
  /** Most entries held. */
  readonly max: number;
  /** By session ID (hex), oldest first. */
  readonly #entries = new Map<string, DeferredWrite>();
  #ends = 0;

  constructor(max = DEFAULT_MAX_DEFERRED) {
    this.max = max;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Keeps `write`, replacing what was pending for its session ID, unless
   * that is an end and `write` a write (`'superseded'`). `'kept'`, or
   * `'kept, dropped one'` when the oldest entry went to make room, or
   * `'full'` when nothing could (a write, and only ends held).
   */
  add(write: DeferredWrite): 'kept' | 'kept, dropped one' | 'superseded' | 'full' {
    const key = write.id.toString('hex');
    const pending = this.#entries.get(key);
    if (pending !== undefined) {
      if (pending.kind === 'end' && write.kind === 'set') return 'superseded';
      this.#remove(key, pending);
    }
    let result: 'kept' | 'kept, dropped one' = 'kept';
    if (this.#entries.size >= this.max) {
      if (this.max === 0 || (write.kind === 'set' && this.#ends === this.#entries.size)) return 'full';
      this.#dropOldest(this.#ends === this.#entries.size ? 'end' : 'set');
      result = 'kept, dropped one';
    }
    this.#entries.set(key, write);
    if (write.kind === 'end') this.#ends++;
    return result;
  }

  /** Drops a pending write of session `id` (ended on this host by another path); keeps a pending end. */
  forget(id: Uint8Array): boolean {
    const key = Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
    const pending = this.#entries.get(key);
    if (pending?.kind !== 'set') return false;
    this.#remove(key, pending);
    return true;
  }

  /** Every entry, oldest first, and none left here. */
  take(): DeferredWrite[] {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    this.#ends = 0;
    return all;
  }

  #dropOldest(kind: DeferredWrite['kind']): void {
    for (const [key, entry] of this.#entries) {
      if (entry.kind !== kind) continue;
      this.#remove(key, entry);
      return;
    }
  }

  #remove(key: string, entry: DeferredWrite): void {
    this.#entries.delete(key);
    if (entry.kind === 'end') this.#ends--;
  }
}
