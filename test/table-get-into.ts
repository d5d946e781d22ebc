// getInto(): a lookup that copies the session into the caller's buffer.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { EXPIRED_LENGTH, SessionTable } from '../lib/table/session-table.ts';

const MiB = 1024 * 1024;

function clocked(options: { timeout?: number; maxSessionSize?: number } = {}) {
  const clock = { now: 1_700_000_000_000 };
  const table = SessionTable.create({ size: 4 * MiB, sweepInterval: 0, clock: () => clock.now, ...options });
  return { table, clock };
}

t.test('a hit copies the session into the target and returns its length', async (t) => {
  const { table } = clocked({ maxSessionSize: 8192 });
  const target = Buffer.alloc(8192);
  // Every ID length moves where the session starts in its record (aligned or
  // not), and lengths around a word and over the word-copy limit (4 KiB).
  for (let idLength = 1; idLength <= 32; idLength++) {
    for (const length of [1, 2, 3, 4, 5, 159, 160, 4095, 4096, 4097, 8192]) {
      const id = randomBytes(idLength);
      const session = randomBytes(length);
      t.ok(table.set(id, session), `stored ${idLength}/${length}`);
      target.fill(0xaa);
      const got = table.getInto(id, target);
      if (got !== length || !target.subarray(0, length).equals(session)) {
        t.fail(`ID of ${idLength} bytes, session of ${length}: got ${got} bytes`);
      }
      t.ok(table.get(id)?.equals(session), 'get() agrees');
    }
  }
  t.end();
});

t.test('a target anywhere: unaligned, a SharedArrayBuffer of its own, larger than needed', async (t) => {
  const { table } = clocked({ maxSessionSize: 512 });
  const id = randomBytes(32);
  const session = randomBytes(161);
  table.set(id, session);
  const unaligned = Buffer.alloc(1 + 512).subarray(1);
  t.equal(table.getInto(id, unaligned), 161);
  t.ok(unaligned.subarray(0, 161).equals(session), 'an odd byteOffset');
  const shared = new Uint8Array(new SharedArrayBuffer(4096), 12, 600);
  t.equal(table.getInto(id, shared), 161);
  t.ok(Buffer.from(shared.subarray(0, 161)).equals(session), 'a view of another SharedArrayBuffer');
  const plain = new Uint8Array(512);
  t.equal(table.getInto(id, plain), 161, 'a plain Uint8Array');
  t.ok(Buffer.from(plain.subarray(0, 161)).equals(session));
});

t.test('a miss answers -1 and an expired entry EXPIRED_LENGTH (-2), each counted as a miss; a hit counts as a hit', async (t) => {
  const { table, clock } = clocked({ timeout: 10 });
  const target = Buffer.alloc(table.maxSessionSize);
  const id = randomBytes(32);
  t.equal(table.getInto(id, target), -1, 'absent');
  table.set(id, Buffer.from('session'));
  const before = table.stats();
  t.equal(table.getInto(id, target), 7);
  clock.now += 10_000 - 1;
  t.equal(table.getInto(id, target), 7, 'alive 1 ms before its timeout, and not extended by the lookups');
  clock.now += 1;
  t.equal(table.getInto(id, target), EXPIRED_LENGTH, 'expired at its timeout');
  t.equal(EXPIRED_LENGTH, -2);
  const after = table.stats();
  t.equal(after.hits - before.hits, 2);
  t.equal(after.misses - before.misses, 1);
});

t.test('get() still returns a Buffer of its own after getInto()', async (t) => {
  const { table } = clocked();
  const target = Buffer.alloc(table.maxSessionSize);
  const a = randomBytes(32);
  const b = randomBytes(32);
  table.set(a, Buffer.from('first'));
  table.set(b, Buffer.from('second'));
  t.equal(table.getInto(a, target), 5);
  const copy = table.get(b);
  t.equal(copy?.toString(), 'second');
  t.not(copy?.buffer, target.buffer, 'not the target');
  t.equal(table.getInto(a, target), 5);
  t.equal(copy?.toString(), 'second', 'a later getInto() leaves it alone');
});

t.test('a clock that fails mid-lookup leaves get() allocating again', async (t) => {
  let broken = false;
  const table = SessionTable.create({ size: MiB, sweepInterval: 0, clock: () => (broken ? Number.NaN : 1_700_000_000_000) });
  const target = Buffer.alloc(table.maxSessionSize);
  const id = randomBytes(32);
  table.set(id, Buffer.from('session'));
  broken = true;
  t.throws(() => table.getInto(id, target), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'clock' });
  broken = false;
  target.fill(0);
  const copy = table.get(id);
  t.equal(copy?.toString(), 'session');
  t.not(copy?.buffer, target.buffer, 'get() copied into a new Buffer, not the target of the failed getInto()');
  t.equal(target[0], 0, 'the target was left alone');
});

t.test('bad targets are refused with ERR_TLS_CACHE_INVALID_OPTION; the table is untouched', async (t) => {
  const { table } = clocked({ maxSessionSize: 1024 });
  const id = randomBytes(32);
  table.set(id, Buffer.from('session'));
  const ownView = new Uint8Array(table.buffer, 0, 4096);
  const bad: Array<[unknown, RegExp]> = [
    [undefined, /expected a Uint8Array, got undefined/],
    [null, /expected a Uint8Array, got null/],
    ['x'.repeat(2048), /expected a Uint8Array, got string/],
    [new ArrayBuffer(2048), /expected a Uint8Array/],
    [new Array(2048).fill(0), /expected a Uint8Array/],
    [Buffer.alloc(1023), /room for the largest session \(1024 bytes\), got 1023 bytes/],
    [Buffer.alloc(0), /got 0 bytes/],
    [ownView, /a view of the table's own buffer/],
  ];
  const header = Buffer.from(ownView.slice(0, 256));
  for (const [target, message] of bad) {
    t.throws(() => table.getInto(id, target as Uint8Array), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'target', message });
  }
  t.ok(Buffer.from(ownView.subarray(0, 256)).equals(header), 'the table header is unchanged');
  t.same(table.verify(), [], 'the table is sound');
  t.equal(table.get(id)?.toString(), 'session');
});

t.test('bad IDs are refused with ERR_TLS_CACHE_INVALID_SESSION_ID, as by get()', async (t) => {
  const { table } = clocked();
  const target = Buffer.alloc(table.maxSessionSize);
  for (const id of [Buffer.alloc(0), Buffer.alloc(33), 'abc', null, undefined, [1, 2, 3]]) {
    t.throws(() => table.getInto(id as Uint8Array, target), { code: 'ERR_TLS_CACHE_INVALID_SESSION_ID' });
  }
});

t.test('lookUp() says why there is no session: not_found or expired', async (t) => {
  const { table, clock } = clocked({ timeout: 10 });
  const id = randomBytes(32);
  t.equal(table.lookUp(id), 'not_found');
  table.set(id, Buffer.from('session'));
  t.same(table.lookUp(id), Buffer.from('session'));
  clock.now += 10_000;
  t.equal(table.lookUp(id), 'expired');
  table.delete(id);
  t.equal(table.lookUp(id), 'not_found');
});

t.test('lookUp(id, target): the session as a view of the target, or why there is none; the same copy as getInto()', async (t) => {
  const { table, clock } = clocked({ timeout: 10, maxSessionSize: 1024 });
  const target = Buffer.alloc(1024);
  const id = randomBytes(32);
  t.equal(table.lookUp(id, target), 'not_found');
  const session = randomBytes(300);
  table.set(id, session);
  const before = table.stats();
  const found = table.lookUp(id, target);
  t.ok(Buffer.isBuffer(found) && found.equals(session), 'the session');
  t.equal((found as Buffer).buffer, target.buffer, 'in the target, not a new Buffer');
  t.equal((found as Buffer).byteOffset, target.byteOffset);
  const plain = new Uint8Array(2048);
  const inPlain = table.lookUp(id, plain);
  t.ok(inPlain instanceof Uint8Array && Buffer.from(inPlain).equals(session) && inPlain.buffer === plain.buffer, 'a plain Uint8Array target');
  t.equal(table.stats().hits, before.hits + 2, 'each counted as a hit');
  clock.now += 10_000;
  t.equal(table.lookUp(id, target), 'expired');
  t.equal(table.getInto(id, target), EXPIRED_LENGTH, 'as getInto() says');
  for (const bad of [null, 'x'.repeat(2048), Buffer.alloc(1023), new Uint8Array(table.buffer, 0, 4096)]) {
    t.throws(() => table.lookUp(id, bad as Uint8Array), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'target' });
  }
  t.throws(() => table.lookUp(Buffer.alloc(0), target), { code: 'ERR_TLS_CACHE_INVALID_SESSION_ID' });
});
