/**
 * A worker process's copy of the owner's ticket key ring
 * ({@link TicketKeysCopy}): the ring its servers encrypt and decrypt
 * tickets with, replaced whole by each ring the owner pushes. While no
 * owner gave keys (none answered in time, or it was refused), the process
 * serves with a ring of its own, ticked as the owner's would be, until an
 * owner's ring replaces it.
 *
 * @module
 */
import { TicketKeyRing } from '../tickets/key-ring.ts';
import type { TicketKeyBinding } from '../tickets/attach-ticket-keys.ts';
import type { TicketKeyRingState } from '../tickets/ring-state.ts';

/** How often this process's own ring is ticked while no owner gave it keys (its key rotates as the owner's would). */
const OWN_RING_TICK_MS = 1000;

/** See the module's documentation. */
export class TicketKeysCopy {
  /** The ring; `undefined` when tickets are off. */
  readonly ring: TicketKeyRing | undefined;
  /** The servers' ticket bindings, told of each new ring (a fallback server holds one key at a time). */
  readonly #bindings: TicketKeyBinding[] = [];
  /** While no owner gave keys: ticks this process's own ring. */
  #ownTimer: NodeJS.Timeout | undefined;

  /**
   * The owner's ring (`owned`), or this process's own, ticked until an
   * owner's replaces it.
   */
  constructor(ring: TicketKeyRing | undefined, owned: boolean) {
    this.ring = ring;
    if (owned || ring === undefined) return;
    this.#ownTimer = setInterval(() => ring.tick(), OWN_RING_TICK_MS);
    this.#ownTimer.unref();
  }

  /** A server's ticket binding, refreshed at each new ring. */
  add(binding: TicketKeyBinding): void {
    this.#bindings.push(binding);
  }

  /**
   * Replaces the ring with the owner's. False when this process has no
   * ring (tickets off here: the owner's keys do not fit it).
   * @throws when the state does not fit (`TicketKeyRing.load` refuses it whole): the keys in use stay.
   */
  load(keys: TicketKeyRingState): boolean {
    if (this.ring === undefined) return false;
    this.ring.load(keys);
    // The owner's ring rotates: this process's own stops ticking.
    this.stop();
    // Fallback servers (one key at a time) take the new key now rather than at their next poll.
    for (const binding of this.#bindings) binding.refresh();
    return true;
  }

  /** Stops ticking this process's own ring. */
  stop(): void {
    clearInterval(this.#ownTimer);
    this.#ownTimer = undefined;
  }
}
