/**
 * HalfSipHash (Aumasson and Bernstein's reference `halfsiphash.c`) in 32-bit
 * integer arithmetic, over whole 32-bit words.
 *
 * Session IDs are chosen by clients, so the table hashes them with a keyed
 * PRF under a random per-table key: without the key no client can aim many
 * IDs at one bucket. HalfSipHash is the 32-bit member of the SipHash family,
 * which suits JavaScript's 32-bit integer operations. The table uses
 * HalfSipHash-1-3 with 64-bit output (one compression round, three
 * finalization rounds), the variant Linux uses for its hash tables
 * (`hsiphash`); {@link halfSipHash} takes the round counts and the output size
 * so that the tests can check it against the published vectors of both
 * HalfSipHash-2-4 (64-bit output) and HalfSipHash-1-3 (32-bit output).
 *
 * The message is read as little-endian 32-bit words from an Int32Array: the
 * table keeps keys 4-byte aligned, and reading a word instead of four bytes
 * is most of the speed of hashing a 32-byte ID. Bytes of the last word beyond
 * `length` are ignored. (On a big-endian machine each word's bytes are read
 * in the other order; the table only needs a keyed PRF of its keys, which
 * that still is.)
 *
 * @module
 */

/** Whether a word's first byte in memory is its low byte (so on every platform Node ships for but s390x and AIX). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Mask of the first `n` (1 to 3) bytes in memory of a word read from an Int32Array. */
export const leadingBytesMask = (n: number): number => (LITTLE_ENDIAN ? (1 << (8 * n)) - 1 : -1 << (32 - 8 * n));

/**
 * HalfSipHash-c-d of `length` bytes held in `words` from word `index` under
 * the 64-bit key `(k0, k1)` (two little-endian 32-bit words). Writes the
 * output into `out`: with `outWords` 2 (64-bit output) `out[0]` holds its
 * first four bytes (little-endian) and `out[1]` the next four; with
 * `outWords` 1 (32-bit output), `out[0]` only.
 */
export function halfSipHash(
  cRounds: number,
  dRounds: number,
  outWords: 1 | 2,
  k0: number,
  k1: number,
  words: Int32Array,
  index: number,
  length: number,
  out: Uint32Array,
): void {
  let v0 = k0 | 0;
  let v1 = outWords === 2 ? k1 ^ 0xee : k1 | 0;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const whole = length >>> 2;
  for (let w = 0; w < whole; w++) {
    const m = words[index + w];
    v3 ^= m;
    for (let r = 0; r < cRounds; r++) {
      v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
      v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
      v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    }
    v0 ^= m;
  }
  const left = length & 3;
  let b = length << 24;
  if (left !== 0) {
    const tail = words[index + whole] & leadingBytesMask(left);
    b |= LITTLE_ENDIAN ? tail : tail >>> (32 - 8 * left);
  }
  v3 ^= b;
  for (let r = 0; r < cRounds; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  v0 ^= b;
  v2 ^= outWords === 2 ? 0xee : 0xff;
  for (let r = 0; r < dRounds; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  out[0] = v1 ^ v3;
  if (outWords === 1) return;
  v1 ^= 0xdd;
  for (let r = 0; r < dRounds; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  out[1] = v1 ^ v3;
}

/**
 * HalfSipHash-1-3 with 64-bit output, the table's hash: the same as
 * `halfSipHash(1, 3, 2, ...)`, written out for speed.
 */
export function halfSipHash13(k0: number, k1: number, words: Int32Array, index: number, length: number, out: Uint32Array): void {
  let v0 = k0 | 0;
  let v1 = k1 ^ 0xee;
  let v2 = 0x6c796765 ^ k0;
  let v3 = 0x74656462 ^ k1;
  const end = index + (length >>> 2);
  let i = index;
  for (; i < end; i++) {
    const m = words[i];
    v3 ^= m;
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  const left = length & 3;
  let b = length << 24;
  if (left !== 0) {
    const tail = words[i] & leadingBytesMask(left);
    b |= LITTLE_ENDIAN ? tail : tail >>> (32 - 8 * left);
  }
  v3 ^= b;
  // One compression round, three finalization rounds per output word.
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 ^= b;
  v2 ^= 0xee;
  for (let r = 0; r < 3; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  out[0] = v1 ^ v3;
  v1 ^= 0xdd;
  for (let r = 0; r < 3; r++) {
    v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
    v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
    v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  }
  out[1] = v1 ^ v3;
}
