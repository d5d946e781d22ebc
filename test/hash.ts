import t from 'tap';
import { randomBytes } from 'node:crypto';
import { halfSipHash, halfSipHash13 } from '../lib/table/hash.ts';

// Reference vectors of HalfSipHash-2-4 with 64-bit output (vectors_hsip64 of
// the SipHash reference implementation, github.com/veorq/SipHash): key
// 00..07, message 00..(n-1).
const VECTORS_2_4_64 = [
  '218d1f59b9b83cc8', 'be552412f8387315', '064f39ef7c50eb57', 'ce0f1a45f7060679',
  'd5e78a175be52ea1', 'cb9d7c3f2f3db580', 'ce3e91358aa2bc25', 'ff202728b07bc684',
  'edfee820bce4858c', '5b51cccc13888307', '95b0469f06a6f2ee', 'ae26333994ddcd48',
  '7bc71f9faef5c799', '5a2352d75a0c3744', '3bb1a870eae8e658', '217d0bcb4e81c902',
  '7336aad25f7bf3b5', '37adc0641c4c4f6a', 'c9b2db2b9a3e42f9', 'f910e48020ab363c',
  '1bf52b0a6feea7db', '00741dc269e8b3ef', 'e20103fa1ba776ef',
];

// Reference vectors of HalfSipHash-1-3 with 32-bit output: Linux's
// test_vectors_hsiphash (lib/siphash_kunit.c, the BITS_PER_LONG == 32 build,
// whose hsiphash() is HalfSipHash-1-3): key 03020100 07060504 (bytes
// 00..07), message 00..(n-1).
const VECTORS_1_3_32 = [
  0x5814c896, 0xe7e864ca, 0xbc4b0e30, 0x01539939, 0x7e059ea6, 0x88e3d89b, 0xa0080b65, 0x9d38d9d6,
  0x577999b1, 0xc839caed, 0xe4fa32cf, 0x959246ee, 0x6b28096c, 0x66dd9cd6, 0x16658a7c, 0xd0257b04,
  0x8b31d501, 0x2b1cd04b, 0x06712339, 0x522aca67, 0x911bb605, 0x90a65f0e, 0xf826ef7b, 0x62512deb,
  0x57150ad7, 0x5d473507, 0x1ec47442, 0xab64afd3, 0x0a4100d0, 0x6d2ce652, 0x2331b6a3, 0x08d8791a,
  0xbc6dda8d, 0xe0f6c934, 0xb0652033, 0x9b9851cc, 0x7c46fb7f, 0x732ba8cb, 0xf142997a, 0xfcc9aa1b,
  0x05327eb2, 0xe110131c, 0xf9e5e7c0, 0xa7d708a6, 0x11795ab1, 0x65671619, 0x9f5fff91, 0xd89c5267,
  0x007783eb, 0x95766243, 0xab639262, 0x9c7e1390, 0xc368dda6, 0x38ddc455, 0xfa13d379, 0x979ea4e8,
  0x53ecd77e, 0x2ee80657, 0x33dbb66a, 0xae3f0577, 0x88b4c4cc, 0x3e7f480b, 0x74c1ebf8, 0x87178304,
];

/** The bytes as little-endian 32-bit words, with one spare word of junk after them. */
function wordsOf(bytes: Uint8Array, junk = 0x5a5a5a5a): Int32Array {
  const words = new Int32Array((bytes.length >> 2) + 2).fill(junk);
  for (let i = 0; i < bytes.length; i += 4) {
    let w = 0;
    for (let k = 0; k < 4; k++) w |= (i + k < bytes.length ? bytes[i + k] : (junk >>> (8 * k)) & 0xff) << (8 * k);
    words[i >> 2] = w;
  }
  return words;
}

const KEY0 = 0x03020100;
const KEY1 = 0x07060504;
const message = Buffer.from(Array.from({ length: 64 }, (_, i) => i));

t.test('HalfSipHash-2-4, 64-bit output: the reference vectors, every tail length', async (t) => {
  const out = new Uint32Array(2);
  VECTORS_2_4_64.forEach((expected, length) => {
    halfSipHash(2, 4, 2, KEY0, KEY1, wordsOf(message.subarray(0, length)), 0, length, out);
    const got = Buffer.alloc(8);
    got.writeUInt32LE(out[0], 0);
    got.writeUInt32LE(out[1], 4);
    t.equal(got.toString('hex'), expected, `length ${length}`);
  });
});

t.test('HalfSipHash-1-3, 32-bit output: the reference vectors, every tail length', async (t) => {
  const out = new Uint32Array(2);
  VECTORS_1_3_32.forEach((expected, length) => {
    halfSipHash(1, 3, 1, KEY0, KEY1, wordsOf(message.subarray(0, length)), 0, length, out);
    t.equal(out[0], expected, `length ${length}`);
  });
});

t.test("the table's hash is HalfSipHash-1-3 with 64-bit output", async (t) => {
  const a = new Uint32Array(2);
  const b = new Uint32Array(2);
  let same = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = randomBytes(1 + (i % 40));
    const [k0, k1] = new Int32Array(randomBytes(8).buffer);
    halfSipHash13(k0, k1, wordsOf(bytes), 0, bytes.length, a);
    halfSipHash(1, 3, 2, k0, k1, wordsOf(bytes), 0, bytes.length, b);
    if (a[0] === b[0] && a[1] === b[1]) same++;
  }
  t.equal(same, 2000);
  // The 64-bit output's first word is not the 32-bit output (the modes differ).
  halfSipHash(1, 3, 2, KEY0, KEY1, wordsOf(message.subarray(0, 8)), 0, 8, a);
  t.not(a[0], VECTORS_1_3_32[8]);
});

t.test('reads from a word index, and ignores the bytes after the message', async (t) => {
  const bytes = randomBytes(23);
  const alone = new Uint32Array(2);
  halfSipHash13(7, 9, wordsOf(bytes, 0), 0, 23, alone);
  const padded = new Int32Array(16).fill(-1);
  padded.set(wordsOf(bytes, -1).subarray(0, 6), 5);
  const inside = new Uint32Array(2);
  halfSipHash13(7, 9, padded, 5, 23, inside);
  t.same([...inside], [...alone]);
});

t.test('a different key gives a different hash', async (t) => {
  const id = wordsOf(Buffer.alloc(32, 1));
  const a = new Uint32Array(2);
  const b = new Uint32Array(2);
  halfSipHash13(1, 2, id, 0, 32, a);
  halfSipHash13(1, 3, id, 0, 32, b);
  t.not(a[0], b[0]);
  t.not(a[1], b[1]);
});
