/**
 * One session ticket key in Node's order (`ticketKeys`): a 16-byte name, a
 * 16-byte HMAC-SHA256 secret, a 16-byte AES-128-CBC key. Its sizes, its
 * parts ({@link TicketKey}), and how one is made and wiped.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';

/** Bytes of a key name, an HMAC secret, an AES key, an IV. */
export const TICKET_PART_BYTES = 16;
/** Bytes of a whole key in Node's order (name, HMAC secret, AES key). */
export const TICKET_KEY_BYTES = 48;

/** A key split in its parts (copies, or views of a binding's scratch buffers). */
export interface TicketKey {
  name: Buffer;
  hmac: Buffer;
  aes: Buffer;
}

/** A new random key, Node's order. */
export function randomKey(): Buffer {
  return randomFillSync(Buffer.alloc(TICKET_KEY_BYTES));
}

/** A key of zeroed parts, for a reader to copy into. */
export function emptyKey(): TicketKey {
  return { name: Buffer.alloc(16), hmac: Buffer.alloc(16), aes: Buffer.alloc(16) };
}

/** Zeroes a key's parts. */
export function wipeKey(key: TicketKey): void {
  key.name.fill(0);
  key.hmac.fill(0);
  key.aes.fill(0);
}
