import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SessionTable } from '../lib/table/session-table.ts';

/** A table on a hand-driven clock: expiry is tested without sleeping. */
function clocked(timeout = 300) {
  const clock = { now: 1_700_000_000_123 };
  const table = SessionTable.create({ size: 1024 * 1024, timeout, sweepInterval: 0, clock: () => clock.now });
  return { table, clock };
}

t.test('an entry expires exactly timeout seconds after it was stored', async (t) => {
  const { table, clock } = clocked(300);
  const id = randomBytes(32);
  table.set(id, Buffer.from('s'));
  clock.now += 300_000 - 1;
  t.equal(table.get(id)?.toString(), 's', 'alive 1 ms before the timeout');
  clock.now += 1;
  t.equal(table.get(id), undefined, 'gone at the timeout');
  clock.now += 10_000_000;
  t.equal(table.get(id), undefined, 'and stays gone');
});

t.test('lookups never extend a lifetime', async (t) => {
  const { table, clock } = clocked(5);
  const id = randomBytes(32);
  table.set(id, Buffer.from('s'));
  for (let i = 0; i < 4; i++) {
    clock.now += 1_000;
    t.ok(table.get(id), `alive at ${i + 1} s`);
  }
  clock.now += 1_000;
  t.equal(table.get(id), undefined, 'gone at 5 s despite the lookups');
});

t.test('a replacement starts a new lifetime; other entries keep theirs', async (t) => {
  const { table, clock } = clocked(10);
  const a = randomBytes(32);
  const b = randomBytes(32);
  table.set(a, Buffer.from('a1'));
  table.set(b, Buffer.from('b'));
  clock.now += 6_000;
  table.set(a, Buffer.from('a2'));
  clock.now += 5_000;
  t.equal(table.get(b), undefined, 'b expired on its own schedule');
  t.equal(table.get(a)?.toString(), 'a2', 'a lives 10 s from its replacement');
  clock.now += 5_000;
  t.equal(table.get(a), undefined);
});

t.test('expiresAt can shorten a lifetime, never lengthen it', async (t) => {
  const { table, clock } = clocked(300);
  const short = randomBytes(32);
  const long = randomBytes(32);
  table.set(short, Buffer.from('s'), clock.now + 2_000);
  table.set(long, Buffer.from('l'), clock.now + 10_000_000);
  clock.now += 1_999;
  t.ok(table.get(short));
  clock.now += 1;
  t.equal(table.get(short), undefined, 'expired at expiresAt');
  clock.now += 300_000 - 2_000;
  t.equal(table.get(long), undefined, 'capped at the timeout');
  t.equal(table.set(randomBytes(32), Buffer.from('x'), clock.now), false, 'already expired: not stored');
  t.equal(table.set(randomBytes(32), Buffer.from('x'), clock.now - 5), false);
  t.throws(() => table.set(randomBytes(32), Buffer.from('x'), Number.NaN), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
});

t.test('expired entries are counted as misses and do not count as hits', async (t) => {
  const { table, clock } = clocked(1);
  const id = randomBytes(32);
  table.set(id, Buffer.from('s'));
  clock.now += 1_000;
  table.get(id);
  t.equal(table.stats().hits, 0);
  t.equal(table.stats().misses, 1);
});

t.test('sweep() removes expired entries, oldest first, and counts them', async (t) => {
  const { table, clock } = clocked(60);
  const early = Array.from({ length: 300 }, () => randomBytes(32));
  const late = Array.from({ length: 200 }, () => randomBytes(32));
  for (const id of early) table.set(id, randomBytes(150));
  clock.now += 30_000;
  for (const id of late) table.set(id, randomBytes(150));
  t.equal(table.sweep(), 0, 'nothing expired yet');
  clock.now += 30_000;
  t.equal(table.sweep(), 300, 'the early ones went');
  const stats = table.stats();
  t.equal(stats.entries, 200);
  t.equal(stats.evictions.expired, 300);
  t.equal(stats.evictions.capacity, 0);
  t.ok(late.every((id) => table.get(id)), 'the late ones remain');
  clock.now += 30_000;
  t.equal(table.sweep(), 200);
  t.equal(table.stats().entries, 0);
  t.equal(table.stats().bytesInUse, 0);
});

t.test('the creating thread sweeps on a timer', async (t) => {
  const clock = { now: 1_000_000 };
  const table = SessionTable.create({ size: 256 * 1024, timeout: 1, sweepInterval: 20, clock: () => clock.now });
  t.teardown(() => table.close());
  for (let i = 0; i < 50; i++) table.set(randomBytes(32), randomBytes(100));
  clock.now += 1_000;
  const deadline = Date.now() + 5_000;
  while (table.stats().entries > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(table.stats().entries, 0, 'the timer swept them');
  t.equal(table.stats().evictions.expired, 50);
});

t.test('when full, expired entries go before live ones', async (t) => {
  const clock = { now: 5_000_000 };
  const table = SessionTable.create({ size: 64 * 1024, timeout: 10, sweepInterval: 0, clock: () => clock.now });
  const capacity = table.stats().capacityEntries;
  const old = Array.from({ length: capacity }, () => randomBytes(32));
  for (const id of old) table.set(id, randomBytes(100));
  clock.now += 10_000;
  const fresh = Array.from({ length: 50 }, () => randomBytes(32));
  for (const id of fresh) table.set(id, randomBytes(100));
  const stats = table.stats();
  t.ok(stats.evictions.expired >= 50, `expired evictions ${stats.evictions.expired}`);
  t.equal(stats.evictions.capacity, 0, 'no live entry was evicted');
  t.ok(fresh.every((id) => table.get(id)));
});
