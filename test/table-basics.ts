import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SessionTable } from '../lib/table/session-table.ts';

const small = () => SessionTable.create({ size: 1024 * 1024, sweepInterval: 0 });

t.test('stores, finds, replaces and deletes sessions', async (t) => {
  const table = small();
  const id = randomBytes(32);
  const session = randomBytes(160);
  t.equal(table.get(id), undefined, 'absent before set');
  t.equal(table.set(id, session), true);
  t.same(table.get(id), session, 'returns the stored bytes');
  const replacement = randomBytes(300);
  t.equal(table.set(id, replacement), true);
  t.same(table.get(id), replacement, 'a second set replaces');
  t.equal(table.stats().entries, 1, 'a replacement is one entry');
  t.equal(table.delete(id), true);
  t.equal(table.get(id), undefined);
  t.equal(table.delete(id), false, 'deleting twice finds nothing');
  const stats = table.stats();
  t.equal(stats.entries, 0);
  t.equal(stats.bytesInUse, 0);
  t.equal(stats.inserts, 2);
  t.equal(stats.deletes, 1);
  t.equal(stats.hits, 2);
  t.equal(stats.misses, 2);
});

t.test('returns a copy the caller may change', async (t) => {
  const table = small();
  const id = Buffer.from('id');
  const session = Buffer.from('session');
  table.set(id, session);
  session.fill(0);
  const copy = table.get(id)!;
  t.equal(copy.toString(), 'session', 'set copied the input');
  copy.fill(0);
  t.equal(table.get(id)!.toString(), 'session', 'get returned a copy');
});

t.test('keys of every length from 1 to 32 bytes, kept apart', async (t) => {
  const table = small();
  const base = randomBytes(32);
  for (let n = 1; n <= 32; n++) table.set(base.subarray(0, n), Buffer.from(`len ${n}`));
  for (let n = 1; n <= 32; n++) t.equal(table.get(base.subarray(0, n))?.toString(), `len ${n}`);
  t.equal(table.stats().entries, 32);
  // A Uint8Array works as well as a Buffer.
  t.equal(table.get(new Uint8Array(base.subarray(0, 5)))?.toString(), 'len 5');
});

t.test('refuses bad session IDs with a stable code and disturbs nothing', async (t) => {
  const table = small();
  const id = randomBytes(16);
  const session = randomBytes(100);
  table.set(id, session);
  const bad: unknown[] = [Buffer.alloc(0), randomBytes(33), randomBytes(1000), 'a string', 42, null, undefined, {}, [1, 2]];
  for (const key of bad) {
    for (const op of ['get', 'set', 'delete'] as const) {
      t.throws(
        () => (table[op] as (...args: unknown[]) => unknown)(key, session),
        { code: 'ERR_TLS_CACHE_INVALID_SESSION_ID', name: 'InvalidSessionIdError' },
        `${op} with ${describeKey(key)}`,
      );
    }
  }
  t.same(table.get(id), session, 'the stored entry is intact');
  t.equal(table.stats().entries, 1);
  t.equal(table.stats().refusals.sessionId, bad.length * 3);
});

t.test('refuses bad and oversize sessions with a stable code and disturbs nothing', async (t) => {
  const table = SessionTable.create({ size: 1024 * 1024, maxSessionSize: 1000, sweepInterval: 0 });
  const id = randomBytes(32);
  const session = randomBytes(1000);
  t.equal(table.set(id, session), true, 'exactly the maximum fits');
  t.throws(() => table.set(id, randomBytes(1001)), { code: 'ERR_TLS_CACHE_INVALID_SESSION', message: /1001 bytes exceeds maxSessionSize \(1000 bytes\)/ });
  t.throws(() => table.set(randomBytes(32), randomBytes(64 * 1024)), { code: 'ERR_TLS_CACHE_INVALID_SESSION' });
  for (const value of [Buffer.alloc(0), 'text', 7, null, undefined, {}]) {
    t.throws(() => table.set(id, value as Uint8Array), { code: 'ERR_TLS_CACHE_INVALID_SESSION' }, describeKey(value));
  }
  t.same(table.get(id), session, 'the stored entry under the same ID is intact');
  const stats = table.stats();
  t.equal(stats.entries, 1);
  t.equal(stats.refusals.tooLarge, 2);
  t.equal(stats.refusals.session, 6);
});

t.test('error messages carry no session bytes', async (t) => {
  const table = small();
  const secret = Buffer.from('MASTER-SECRET-MATERIAL'.repeat(400));
  try {
    table.set(Buffer.from('id'), secret);
    t.fail('should have thrown');
  } catch (err) {
    t.notMatch(String((err as Error).message), /MASTER|SECRET/);
    t.notMatch(String((err as Error).message), secret.toString('hex').slice(0, 16));
  }
  try {
    table.get(Buffer.from('x'.repeat(40)));
    t.fail('should have thrown');
  } catch (err) {
    t.notMatch(String((err as Error).message), /xxxx/);
  }
});

t.test('opens the same memory from its buffer', async (t) => {
  const table = small();
  const other = SessionTable.open(table.buffer);
  const id = randomBytes(32);
  other.set(id, Buffer.from('from the other handle'));
  t.equal(table.get(id)?.toString(), 'from the other handle');
  t.equal(other.timeout, table.timeout);
  t.equal(other.maxSessionSize, table.maxSessionSize);
  t.equal(table.stats().inserts, 1, 'counters are shared');
});

t.test('open() refuses what is not a table', async (t) => {
  const cases: [unknown, RegExp][] = [
    [new ArrayBuffer(1 << 20), /SharedArrayBuffer/],
    [Buffer.alloc(1 << 20), /SharedArrayBuffer/],
    [null, /SharedArrayBuffer/],
    [new SharedArrayBuffer(16), /too small/],
    [new SharedArrayBuffer(1 << 20), /not a session table/],
  ];
  for (const [buffer, message] of cases) {
    t.throws(() => SessionTable.open(buffer as SharedArrayBuffer), { code: 'ERR_TLS_CACHE_INVALID_BUFFER', message });
  }
  const table = small();
  const truncated = new SharedArrayBuffer(table.buffer.byteLength - 8);
  new Uint8Array(truncated).set(new Uint8Array(table.buffer, 0, truncated.byteLength));
  t.throws(() => SessionTable.open(truncated), { code: 'ERR_TLS_CACHE_INVALID_BUFFER', message: /does not match/ });
  t.throws(() => SessionTable.open(table.buffer, { clock: 5 as unknown as () => number }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
});

t.test('clear() empties every shard and counts it', async (t) => {
  const table = small();
  const ids = Array.from({ length: 500 }, () => randomBytes(32));
  for (const id of ids) table.set(id, randomBytes(100));
  t.equal(table.clear(), 500);
  t.equal(table.stats().entries, 0);
  t.equal(table.stats().bytesInUse, 0);
  t.equal(table.stats().evictions.cleared, 500);
  t.ok(ids.every((id) => table.get(id) === undefined), 'nothing resumes after a clear');
  table.set(ids[0], Buffer.from('again'));
  t.equal(table.get(ids[0])?.toString(), 'again', 'usable after a clear');
});

t.test('hash seeds are random per table', async (t) => {
  const seeds = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const words = new Int32Array(SessionTable.create({ size: 64 * 1024, sweepInterval: 0 }).buffer, 0, 16);
    seeds.add(`${words[7]}:${words[8]}`);
  }
  t.equal(seeds.size, 8);
});

function describeKey(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return value === null ? 'null' : typeof value;
}

t.test('verify() finds a consistent table consistent, and a corrupted one not', async (t) => {
  const table = small();
  for (let i = 0; i < 2000; i++) table.set(randomBytes(32), randomBytes(50 + (i % 300)));
  t.same(table.verify(), []);
  // Corrupt it the way a bug would: a live slot's position moved to the wrong record.
  const words = new Int32Array(table.buffer);
  const { offsetsOf, readHeader, SLOTS_PER_BUCKET } = await import('../lib/table/layout.ts');
  const o = offsetsOf(readHeader(table.buffer));
  let slotAt = o.slots;
  while (words[slotAt] === 0) slotAt++;
  words[slotAt + SLOTS_PER_BUCKET] += 1 << 10; // 8 bytes further: not a record start
  const problems = table.verify();
  t.equal(problems.length, 3, problems.join('; '));
  t.match(problems[0], /1 slots point at no record of their key/);
  t.match(problems[1], /entries counter \d+, live slots \d+/);
  t.match(problems[2], /bytes counter \d+, live records \d+/);
  // releaseOwner() is the repair: with the lock taken from a (pretend) dead owner, it mends the shard.
  const lockAt = o.shards; // shard 0's lock word
  words[lockAt] = 12345;
  t.equal(table.releaseOwner(12345), 1);
  t.same(table.verify(), [], 'repaired');
  t.equal(table.stats().evictions.repair, 1, 'the stray entry counted as a repair eviction');
});

t.test('a long single-threaded mix of sets, replacements and deletes keeps every invariant', async (t) => {
  // Replacements and overflow choices read slot positions: a wrong word there
  // drifts the byte counter and evicts young entries, which verify() catches.
  const table = SessionTable.create({ size: 256 * 1024, sweepInterval: 0 });
  const ids = Array.from({ length: 3000 }, () => randomBytes(8 + Math.floor(Math.random() * 25)));
  for (let i = 0; i < 200_000; i++) {
    const id = ids[Math.floor(Math.random() * ids.length)];
    if (i % 10 === 0) table.delete(id);
    else table.set(id, randomBytes(16 + ((i * 37) % 1500)));
    if (i % 20_000 === 0) t.same(table.verify(), [], `consistent after ${i} operations`);
  }
  t.same(table.verify(), []);
});
