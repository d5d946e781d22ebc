import t from 'tap';
import { randomBytes } from 'node:crypto';
import { SessionTable } from '../lib/table/session-table.ts';

const MiB = 1024 * 1024;

t.test('holds at least 4,500 typical TLS 1.2 sessions per MiB of budget', async (t) => {
  const size = 32 * MiB;
  const table = SessionTable.create({ size, sweepInterval: 0 });
  const session = randomBytes(160);
  const ids = randomBytes(32 * 400_000);
  for (let i = 0; i < 400_000; i++) table.set(ids.subarray(i * 32, i * 32 + 32), session);
  const { entries } = table.stats();
  const perMiB = entries / (size / MiB);
  t.comment(`${entries} sessions of 160 bytes with 32-byte IDs in 32 MiB: ${perMiB.toFixed(0)} per MiB`);
  t.ok(perMiB >= 4500, `${perMiB.toFixed(0)} per MiB`);
  // The most recent entries are all there.
  let found = 0;
  for (let i = 400_000 - 1000; i < 400_000; i++) if (table.get(ids.subarray(i * 32, i * 32 + 32))) found++;
  t.equal(found, 1000);
});

t.test('when full, the oldest entries go first', async (t) => {
  const table = SessionTable.create({ size: 256 * 1024, sweepInterval: 0 });
  const ids = Array.from({ length: 5000 }, () => randomBytes(32));
  for (const id of ids) table.set(id, randomBytes(160));
  const present = ids.map((id) => table.get(id) !== undefined);
  const kept = present.filter(Boolean).length;
  t.ok(kept > 900, `${kept} kept`);
  // Eviction is FIFO within each shard: the newest `kept` IDs should be
  // (nearly) exactly the ones present.
  const newest = present.slice(ids.length - Math.floor(kept * 0.95));
  t.ok(newest.every(Boolean), 'the newest 95% are all present');
  const oldest = present.slice(0, ids.length - kept - Math.ceil(kept * 0.05));
  t.ok(oldest.every((p) => !p), 'the oldest are all gone');
  const stats = table.stats();
  t.equal(stats.evictions.capacity + stats.evictions.overflow, 5000 - kept, 'every eviction is counted');
  // Two-choice 16-slot buckets at 80% load overflow about once in 10,000
  // inserts (more in a one-shard table this small): rare, never systematic.
  t.ok(stats.evictions.overflow <= 25, `${stats.evictions.overflow} overflow evictions in 5,000 inserts`);
});

t.test('larger sessions (client certificates: 1 to 8 KiB) still fit', async (t) => {
  const table = SessionTable.create({ size: 4 * MiB, sweepInterval: 0 });
  const items = Array.from({ length: 200 }, (_, i) => [randomBytes(32), randomBytes(1024 + ((i * 37) % 7169))] as const);
  for (const [id, session] of items) t.equal(table.set(id, session), true);
  const recent = items.slice(-100);
  t.ok(recent.every(([id, session]) => table.get(id)?.equals(session)), 'the recent large sessions read back intact');
  t.ok(table.set(randomBytes(32), randomBytes(8192)), 'a session of exactly 8 KiB fits');
});

t.test('mixed sizes: small sessions do not pay for the maximum', async (t) => {
  const table = SessionTable.create({ size: 2 * MiB, sweepInterval: 0 });
  for (let i = 0; i < 20_000; i++) table.set(randomBytes(32), randomBytes(i % 10 === 0 ? 4000 : 160));
  const { bytesInUse, capacityBytes, entries } = table.stats();
  t.ok(bytesInUse / capacityBytes > 0.85, `ring ${(100 * bytesInUse / capacityBytes).toFixed(1)}% used by live records`);
  // One in ten sessions is 4000 bytes: the average record is about 585 bytes.
  const averageRecord = 0.9 * (8 + 32 + 160) + 0.1 * (8 + 32 + 4000 + 0);
  t.ok(entries >= 0.9 * (capacityBytes / averageRecord), `${entries} entries`);
  t.ok(entries > 10 * (capacityBytes / 8232), 'over 10x what fixed 8 KiB slots would hold');
});

t.test('10x the capacity inserted: fixed buffer, flat process memory', async (t) => {
  const table = SessionTable.create({ size: 8 * MiB, sweepInterval: 0 });
  const bufferBytes = table.buffer.byteLength;
  const capacity = table.stats().capacityEntries;
  const session = randomBytes(160);
  const ids = randomBytes(32 * 50_000);
  const fill = (rounds: number) => {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < 50_000; i++) {
        ids.writeUInt32LE((r * 50_000 + i) >>> 0, 0); // change the first ID a little each time
        table.set(ids.subarray(i * 32, i * 32 + 32), session);
      }
      ids.reverse();
    }
  };
  fill(Math.ceil(capacity / 50_000));
  const before = process.memoryUsage();
  const rounds = Math.ceil((10 * capacity) / 50_000);
  fill(rounds);
  const after = process.memoryUsage();
  const stats = table.stats();
  t.comment(`capacity ${capacity}, inserted ${stats.inserts}, rss ${(before.rss / MiB).toFixed(1)} -> ${(after.rss / MiB).toFixed(1)} MiB`);
  t.ok(stats.inserts >= 10 * capacity, `${stats.inserts} inserts for ${capacity} capacity`);
  t.equal(table.buffer.byteLength, bufferBytes, 'the buffer did not grow');
  t.ok(stats.entries <= capacity && stats.entries > capacity * 0.9, `${stats.entries} entries at the end`);
  t.ok(after.rss - before.rss < 24 * MiB, `rss grew ${((after.rss - before.rss) / MiB).toFixed(1)} MiB`);
  t.ok(after.arrayBuffers - before.arrayBuffers < 4 * MiB, 'no growth in array buffers');
});
