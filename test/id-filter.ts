/**
 * The filter of the session IDs an owner's table holds (`lib/owner/id-filter.ts`,
 * issue 23): no ID added is ever reported absent while its session can live
 * (a whole period, on an injected clock, however the calls fall); unknown IDs
 * are mostly reported absent (false positives measured against the sizing
 * rule); a snapshot sent in chunks rebuilds the same filter, and a chunk out
 * of order drops it.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { FilterCopy, filterBytesFor, isFilterSize, MAX_FILTER_BYTES, MIN_FILTER_BYTES, SessionIdFilter } from '../lib/owner/id-filter.ts';

const PERIOD = 300_000;

function falsePositiveRate(filter: SessionIdFilter, trials = 20_000): number {
  let yes = 0;
  for (let i = 0; i < trials; i++) if (filter.mayHold(randomBytes(32))) yes++;
  return yes / trials;
}

t.test('sizes: 8 bits per table entry, a power of two, within the bounds', async (t) => {
  t.equal(filterBytesFor(0), MIN_FILTER_BYTES);
  t.equal(filterBytesFor(160_000), 256 * 1024, 'the default 32 MiB table (about 160,000 sessions): 256 KiB');
  t.equal(filterBytesFor(1e9), MAX_FILTER_BYTES);
  for (const entries of [1, 9000, 70_000, 3e6]) t.ok(isFilterSize(filterBytesFor(entries)) && filterBytesFor(entries) >= Math.min(entries, MAX_FILTER_BYTES), `${entries} entries`);
  for (const bad of [0, 1000, MIN_FILTER_BYTES + 1, MAX_FILTER_BYTES * 2, 1.5, '8192', NaN]) t.notOk(isFilterSize(bad), `not a filter size: ${String(bad)}`);
  t.throws(() => new SessionIdFilter({ byteLength: 1000, periodMs: PERIOD }), RangeError);
  t.throws(() => new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: 0 }), RangeError);
});

t.test('every ID added is held; unknown IDs mostly are not, as the sizing says', async (t) => {
  const entries = 20_000;
  const filter = new SessionIdFilter({ byteLength: filterBytesFor(entries), periodMs: PERIOD });
  t.equal(falsePositiveRate(filter), 0, 'an empty filter holds nothing');
  const ids = Array.from({ length: entries }, (_, i) => randomBytes(i % 7 === 0 ? 1 + (i % 32) : 32));
  for (const id of ids) filter.add(id);
  t.ok(ids.every((id) => filter.mayHold(id)), `all ${entries} IDs added are held (1 to 32 bytes)`);
  const rate = falsePositiveRate(filter);
  t.comment(`false positives with a full table: ${(rate * 100).toFixed(2)}%`);
  t.ok(rate < 0.07, `${(rate * 100).toFixed(2)}% of unknown IDs held with the table full (about 5% expected)`);
  const sparse = new SessionIdFilter({ byteLength: filterBytesFor(entries), periodMs: PERIOD });
  for (const id of ids.slice(0, 1000)) sparse.add(id);
  t.ok(falsePositiveRate(sparse) < 0.005, 'a twentieth full: under 0.5%');
});

t.test('an ID stays at least a whole period, whatever the calls in between; two periods unseen, it is gone', async (t) => {
  let now = 1_000_000;
  const filter = new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: PERIOD, clock: () => now });
  const first = randomBytes(32);
  filter.add(first);
  // Probed often, an ID added late in a generation still lives a whole period.
  for (let step = 0; step < PERIOD; step += 7_919) {
    now += 7_919;
    if (now - 1_000_000 <= PERIOD) t.ok(filter.mayHold(first), `held ${now - 1_000_000} ms after it was added`);
  }
  const late = randomBytes(32);
  filter.add(late);
  const addedAt = now;
  while (now < addedAt + PERIOD) {
    t.ok(filter.mayHold(late), `the late ID is held ${now - addedAt} ms after it was added`);
    now += 50_000;
  }
  now = addedAt + 2 * PERIOD + 1;
  t.notOk(filter.mayHold(late), 'two periods later it is gone');
  t.notOk(filter.mayHold(first), 'and so is the first');
  // Not asked for a long time, then asked: both generations are cleared at once.
  const idle = randomBytes(32);
  filter.add(idle);
  now += 10 * PERIOD;
  t.notOk(filter.mayHold(idle), 'after a long idle time nothing is held');
});

t.test('a snapshot sent in chunks rebuilds the filter; a chunk out of order drops it', async (t) => {
  const byteLength = 4 * MIN_FILTER_BYTES;
  const owner = new SessionIdFilter({ byteLength, periodMs: PERIOD });
  const ids = Array.from({ length: 3000 }, () => randomBytes(32));
  for (const id of ids) owner.add(id);
  const bits = owner.snapshot();
  const chunk = MIN_FILTER_BYTES;
  const copy = new FilterCopy();
  let filter: ReturnType<FilterCopy['push']>;
  for (let offset = 0; offset < byteLength; offset += chunk) {
    filter = copy.push(offset, byteLength, bits.subarray(offset, offset + chunk), PERIOD);
    if (offset + chunk < byteLength) t.equal(filter, undefined, `chunk at ${offset}: more to come`);
  }
  t.type(filter!, SessionIdFilter, 'the last chunk completes it');
  const rebuilt = filter as SessionIdFilter;
  t.ok(ids.every((id) => rebuilt.mayHold(id)), 'the copy holds every ID the owner added');
  t.same(rebuilt.snapshot(), bits, 'bit for bit');

  t.equal(copy.push(chunk, byteLength, bits.subarray(0, chunk), PERIOD), 'malformed', 'a chunk without its beginning');
  t.equal(copy.push(0, byteLength, bits.subarray(0, chunk), PERIOD), undefined, 'a new beginning');
  t.equal(copy.push(2 * chunk, byteLength, bits.subarray(0, chunk), PERIOD), 'malformed', 'a chunk skipped');
  t.equal(copy.push(chunk, byteLength, bits.subarray(0, chunk), PERIOD), 'malformed', 'the snapshot was dropped whole');
  t.equal(copy.push(0, byteLength, bits.subarray(0, chunk), PERIOD), undefined);
  t.equal(copy.push(chunk, 2 * byteLength, bits.subarray(0, chunk), PERIOD), 'malformed', 'another total half-way');
  t.equal(copy.push(0, 1000, bits.subarray(0, 10), PERIOD), 'malformed', 'a total that is no filter size');
  t.throws(() => rebuilt.load(new Uint8Array(MIN_FILTER_BYTES)), RangeError, 'a snapshot of another size does not load');
});

t.test("a process's owner level: IDs not in the filter stay in the process; IDs stored while the filter was on its way are added to it", async (t) => {
  const { OwnerLevel, MAX_UNFILTERED } = await import('../lib/owner/owner-level.ts');
  const { SharedCounters } = await import('../lib/operations/counters.ts');
  const { W_GET, W_SET } = await import('../lib/owner/messages.ts');
  const counters = SharedCounters.create();
  const sent: Array<{ op: number }> = [];
  const level = new OwnerLevel({ ownerTimeout: 50, counters, send: (message) => (sent.push(message), true) });
  const expiresAt = Date.now() + 60_000;
  const mine = randomBytes(32);
  t.ok(level.put(mine, Buffer.alloc(100, 1), expiresAt), 'a session sent while no filter is set');
  const stranger = randomBytes(32);
  const asked = level.lookUp(stranger);
  t.type(asked, Promise, 'without a filter, every ID is asked about');
  t.equal(sent.at(-1)!.op, W_GET);
  level.abandon();

  level.filter = new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: PERIOD });
  t.ok(level.filter!.mayHold(mine), 'the ID sent before the filter came is in it');
  const before = sent.length;
  t.equal(level.lookUp(randomBytes(32)), 'not_found', 'an ID the owner never stored: a miss at once');
  t.equal(sent.length, before, 'nothing sent for it');
  t.equal(counters.get('ownerSkipped'), 1, 'counted in ownerSkipped');
  t.type(level.lookUp(mine), Promise, 'an ID in the filter is asked about');
  level.abandon();
  const later = randomBytes(32);
  level.put(later, Buffer.alloc(100, 2), expiresAt);
  t.equal(sent.at(-1)!.op, W_SET);
  t.ok(level.filter!.mayHold(later), 'a session sent with the filter set goes in at once');

  level.filter = undefined;
  t.type(level.lookUp(randomBytes(32)), Promise, 'the filter forgotten (a new connection): every ID is asked about again');
  level.abandon();
  for (let i = 0; i <= MAX_UNFILTERED; i++) level.put(randomBytes(8), Buffer.alloc(10, 3), expiresAt);
  level.filter = new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: PERIOD });
  t.equal(level.filter, undefined, `more than ${MAX_UNFILTERED} sessions sent meanwhile: the filter is not used`);
  t.type(level.lookUp(randomBytes(32)), Promise, 'and every ID is asked about');
  level.abandon();
});

t.test("with the filter in use, a new session's handshake waits for the owner's word that every process was told, within the bound", async (t) => {
  const { OwnerLevel } = await import('../lib/owner/owner-level.ts');
  const { SharedCounters } = await import('../lib/operations/counters.ts');
  const counters = SharedCounters.create();
  const sent: Array<{ op: number }> = [];
  const level = new OwnerLevel({ ownerTimeout: 60_000, counters, send: (message) => (sent.push(message), true) });
  const expiresAt = Date.now() + 60_000;
  const session = Buffer.alloc(100, 1);
  t.equal(level.put(randomBytes(32), session, expiresAt), true, 'no filter yet: nothing to wait for (no lookup is skipped)');

  level.filter = new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: PERIOD });
  const id = randomBytes(32);
  const put = level.put(id, session, expiresAt);
  t.type(put, Promise, 'with the filter: a promise');
  const again = level.put(Buffer.from(id), session, expiresAt);
  let settled = 0;
  for (const p of [put, again]) void (p as Promise<boolean>).then(() => settled++);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(settled, 0, 'not settled before the owner says so');
  level.handled([randomBytes(32)]);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(settled, 0, 'nor by the word about another ID');
  level.handled([Buffer.from(id)]);
  t.equal(await put, true, 'settled (true: sent) by the word about its ID');
  await again;
  t.equal(settled, 2, 'and so is every store of that ID');
  t.equal(level.storing, 0, 'nothing left waiting');

  const abandoned = level.put(randomBytes(32), session, expiresAt);
  level.abandon();
  t.equal(await abandoned, true, 'the channel closed: the handshake goes on');
  t.equal(level.storing, 0);

  const bounded = new OwnerLevel({ ownerTimeout: 30, counters, send: () => true });
  bounded.filter = new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: PERIOD });
  const unanswered = bounded.put(randomBytes(32), session, expiresAt);
  t.type(unanswered, Promise);
  t.equal(await unanswered, true, 'no word within ownerTimeout: the handshake goes on');
  t.equal(bounded.storing, 0, 'and nothing is kept for it');
  const known = randomBytes(32);
  bounded.put(known, session, expiresAt);
  t.equal(await bounded.lookUp(known), 'timeout', 'a lookup the owner does not answer...');
  t.ok(bounded.absent, '...makes it absent');
  t.equal(bounded.put(randomBytes(32), session, expiresAt), true, 'and while absent, no handshake waits for it');

  const closed = new OwnerLevel({ ownerTimeout: 60_000, counters, send: () => false });
  closed.filter = new SessionIdFilter({ byteLength: MIN_FILTER_BYTES, periodMs: PERIOD });
  t.equal(closed.put(randomBytes(32), session, expiresAt), false, 'not sent (the channel is closed): false, at once');
  t.equal(level.put(randomBytes(32), session, Date.now() - 1), false, 'expired: false, at once');
});
