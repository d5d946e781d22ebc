/**
 * TicketBirths keeps the births it sealed or opened by IV, so that a ticket
 * offered again is read without an AES block. What it answers must be what
 * opening the IV answers: checked against a second TicketBirths that has
 * seen nothing (every answer through AES), for the same IV under another
 * key, across a change of the ring's generation, past the cache's size, and
 * with a birth ahead of the clock that becomes readable later.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { BIRTH_CACHE_SLOTS, BIRTH_FUTURE_SLACK_MS, TicketBirths } from '../lib/tickets/ticket-birth.ts';
import type { TicketKey } from '../lib/tickets/ticket-key.ts';

const NOW = 1_800_000_000_000;

function key(): TicketKey {
  return { name: randomBytes(16), hmac: randomBytes(16), aes: randomBytes(16) };
}

t.test('a sealed IV opens to its birth, from the cache and through AES alike', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const iv = births.seal(k, 1, NOW - 5000, Buffer.alloc(16));
  t.equal(births.open(k, 1, iv, NOW), NOW - 5000, 'the sealing object (cached)');
  t.equal(births.open(k, 1, iv, NOW), NOW - 5000, 'again');
  t.equal(new TicketBirths().open(k, 1, iv, NOW), NOW - 5000, 'a fresh object (AES)');
  t.equal(births.open(k, 1, Buffer.from(iv), NOW), NOW - 5000, 'a copy of the IV');
});

t.test('the same IV under another key answers what AES answers for that key', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const iv = births.seal(k, 1, NOW, Buffer.alloc(16));
  // Another key of the ring, and a key that reuses the name with another secret.
  for (const other of [key(), { ...key(), name: Buffer.from(k.name) }]) {
    t.equal(births.open(other, 1, iv, NOW), new TicketBirths().open(other, 1, iv, NOW));
  }
  t.equal(births.open(k, 1, iv, NOW), NOW, 'the first key still reads its birth');
});

t.test('an IV that differs in any byte is not answered from the cache', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const iv = births.seal(k, 1, NOW, Buffer.alloc(16));
  for (let i = 0; i < 16; i++) {
    const changed = Buffer.from(iv);
    changed[i] ^= 1;
    t.equal(births.open(k, 1, changed, NOW), new TicketBirths().open(k, 1, changed, NOW), `byte ${i}`);
  }
});

t.test('a change of generation and clear() drop nothing but the cache: births still open', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const iv = births.seal(k, 1, NOW, Buffer.alloc(16));
  t.equal(births.open(k, 2, iv, NOW), NOW, 'next generation, same key');
  births.clear();
  t.equal(births.open(k, 2, iv, NOW), NOW, 'after clear()');
});

t.test('more tickets than the cache holds: every one opens to its own birth', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const sealed = Array.from({ length: 3 * BIRTH_CACHE_SLOTS }, (_, i) => ({ birth: NOW - i, iv: Buffer.from(births.seal(k, 1, NOW - i, Buffer.alloc(16))) }));
  let wrong = 0;
  for (const { birth, iv } of sealed) if (births.open(k, 1, iv, NOW) !== birth) wrong++;
  t.equal(wrong, 0);
});

t.test('a birth ahead of the clock is unknown now and read once the clock catches up (not kept as unknown)', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const ahead = NOW + 2 * BIRTH_FUTURE_SLACK_MS;
  const iv = births.seal(k, 1, ahead, Buffer.alloc(16));
  t.equal(births.open(k, 1, iv, NOW), undefined, 'too far ahead: unknown');
  t.equal(births.open(k, 1, iv, ahead), ahead, 'later: its birth');
  const other = new TicketBirths();
  t.equal(other.open(k, 1, iv, NOW), undefined, 'opened first while too far ahead (AES)');
  t.equal(other.open(k, 1, iv, ahead), ahead, 'then read from the cache once the clock caught up');
});

t.test('IVs without the mark stay unknown, however often offered', async (t) => {
  const k = key();
  const births = new TicketBirths();
  const iv = randomBytes(16);
  const expected = new TicketBirths().open(k, 1, iv, NOW);
  for (let i = 0; i < 3; i++) t.equal(births.open(k, 1, iv, NOW), expected);
});
