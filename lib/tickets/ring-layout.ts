/**
 * The memory layout of the ticket key ring's `SharedArrayBuffer`: a
 * 32-byte header of int32 words (magic, layout version, slots, the
 * seqlock's sequence word, the current slot, the generation, whether keys
 * are fixed), then three float64 times per slot, then 48 key bytes per
 * slot.
 *
 * @module
 */
import { InvalidTicketKeyBufferError } from '../errors.ts';
import { TICKET_KEY_BYTES } from './ticket-key.ts';

/** The most keys a ring holds. */
export const MAX_TICKET_KEYS = 64;

export const MAGIC = 0x544b5231; // "TKR1"
export const LAYOUT_VERSION = 1;
export const HEADER_BYTES = 32;
/** Words of the header (int32). */
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_SLOTS = 2;
export const H_SEQUENCE = 3;
export const H_CURRENT = 4;
export const H_GENERATION = 5;
export const H_FIXED = 6;
/** Per slot, three float64: created at, stopped encrypting at (0: not yet), decrypts until (0: empty slot). */
export const TIMES_PER_SLOT = 3;
export const T_CREATED = 0;
export const T_RETIRED = 1;
export const T_UNTIL = 2;

/** Bytes of the buffer of a ring of `slots` slots. */
export function ringBytes(slots: number): number {
  return HEADER_BYTES + slots * (TIMES_PER_SLOT * 8 + TICKET_KEY_BYTES);
}

/** The slots a new ring's buffer was made for (its header, written before the ring is made). */
export function slotsFor(buffer: SharedArrayBuffer): number {
  return new Int32Array(buffer, 0, HEADER_BYTES / 4)[H_SLOTS];
}

/** Throws unless `ints` is the header of a whole ring of this layout version. */
export function checkHeader(ints: Int32Array): void {
  const slots = ints[H_SLOTS];
  if (
    Atomics.load(ints, H_MAGIC) !== MAGIC ||
    Atomics.load(ints, H_VERSION) !== LAYOUT_VERSION ||
    slots < 1 ||
    slots > MAX_TICKET_KEYS ||
    ints.buffer.byteLength !== ringBytes(slots)
  ) {
    throw new InvalidTicketKeyBufferError('The buffer is not a ticket key ring of this version (TicketKeyRing.buffer)');
  }
}
