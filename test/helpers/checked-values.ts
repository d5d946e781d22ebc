/**
 * Self-checking session values for concurrency tests: each value names the
 * key it was stored under and ends with a CRC-32 of everything before it, so
 * a torn, mixed or misplaced read is detected on every lookup.
 */
import { randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The session ID of key number `n`: 8 to 32 bytes, so every key length is exercised. */
export function keyOf(n: number): Buffer {
  const id = Buffer.alloc(8 + (n % 25), 0xa5);
  id.writeUInt32LE(n, 0);
  id.writeUInt32LE(n ^ 0x5bd1e995, 4);
  return id;
}

/** A value for key `n` of `length` bytes (at least 16). */
export function valueFor(n: number, length: number): Buffer {
  const value = Buffer.allocUnsafe(length);
  value.writeUInt32LE(n, 0);
  value.writeUInt32LE(length, 4);
  randomFillSync(value, 8, length - 12);
  value.writeUInt32LE(crc32(value.subarray(0, length - 4)), length - 4);
  return value;
}

/** Whether `value` is whole and belongs to key `n`. */
export function isValidFor(value: Buffer, n: number): boolean {
  const length = value.length;
  return (
    length >= 16 &&
    value.readUInt32LE(0) === n &&
    value.readUInt32LE(4) === length &&
    value.readUInt32LE(length - 4) === crc32(value.subarray(0, length - 4))
  );
}
