/**
 * A ticket key ring's whole state ({@link TicketKeyRingState}), as
 * `TicketKeyRing.snapshot()` makes it and `restore()`/`load()` take it,
 * for a process that cannot share the ring's memory (a `node:cluster`
 * worker process); and the check of a state that comes from elsewhere.
 * It holds secrets: never log it.
 *
 * @module
 */
import { InvalidOptionError } from '../errors.ts';
import { TICKET_KEY_BYTES } from './ticket-key.ts';

/** One key of a {@link TicketKeyRingState}. */
export interface TicketKeyState {
  /** Its slot in the ring. */
  slot: number;
  /** The 48 key bytes, Node's order. Secret. */
  key: Uint8Array;
  /** When it started encrypting (clock ms). */
  created: number;
  /** When it stopped encrypting (clock ms); 0 while it still does. */
  retired: number;
  /** Until when it decrypts (clock ms; `Infinity` for the current key and fixed keys). */
  until: number;
}

/** A ring's whole state, from `TicketKeyRing.snapshot()`. Holds secrets: never log it. */
export interface TicketKeyRingState {
  /** Slots of the ring. */
  slots: number;
  /** Whether the keys came from files. */
  fixed: boolean;
  /** The slot of the key that encrypts. */
  current: number;
  /** Session lifetime in seconds (0 for a ring opened by a reader). */
  timeout: number;
  /** Rotation period in ms (0 with fixed keys). */
  rotate: number;
  /** Every key that still decrypts. */
  keys: TicketKeyState[];
}

/** Zeroes every key of `state` (a snapshot sent, or one taken in), so that no copy of a key outlives its use. */
export function wipeRingState(state: TicketKeyRingState | undefined): void {
  for (const key of state?.keys ?? []) key.key.fill(0);
}

/** Checks a state from anywhere (another process) before a ring takes it. */
export function checkState(state: TicketKeyRingState, slots: number): void {
  const fail = (why: string): never => {
    throw new InvalidOptionError('state', why);
  };
  if (state === null || typeof state !== 'object') fail('expected a ring snapshot object');
  if (state.slots !== slots) fail(`expected a ring of ${slots} slots`);
  if (typeof state.fixed !== 'boolean') fail('expected "fixed" to be a boolean');
  const { keys, current } = state;
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > slots) fail(`expected 1 to ${slots} keys`);
  const seen = new Set<number>();
  for (const entry of keys) {
    if (entry === null || typeof entry !== 'object') fail('expected every key to be an object');
    const { slot, key, created, retired, until } = entry;
    if (!Number.isInteger(slot) || slot < 0 || slot >= slots || seen.has(slot)) fail('expected distinct slots within the ring');
    seen.add(slot);
    if (!(key instanceof Uint8Array) || key.byteLength !== TICKET_KEY_BYTES) fail(`expected keys of ${TICKET_KEY_BYTES} bytes`);
    if (typeof created !== 'number' || !Number.isFinite(created) || created < 0) fail('expected finite creation times');
    if (typeof retired !== 'number' || !Number.isFinite(retired) || retired < 0) fail('expected finite retirement times');
    if (typeof until !== 'number' || Number.isNaN(until) || until <= 0) fail('expected positive decryption ends');
  }
  if (!Number.isInteger(current) || !seen.has(current)) fail('expected the current slot to hold a key');
}
