import t from 'tap';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { SessionTable } from '../../lib/table/session-table.ts';
import { isValidFor, keyOf } from '../helpers/checked-values.ts';

const THREADS = 4;
const OPERATIONS = 2_500_000; // per thread: 10 million in all
const KEY_SPACE = 20_000;

t.test('4 threads, 10 million mixed operations: no bad read, counters agree', async (t) => {
  // Small enough that the threads evict each other's entries all the time.
  const table = SessionTable.create({ size: 1024 * 1024, sweepInterval: 0 });
  const workers = Array.from(
    { length: THREADS },
    () =>
      new Worker(new URL('../fixtures/table-stress-worker.ts', import.meta.url), {
        workerData: { buffer: table.buffer, operations: OPERATIONS, keySpace: KEY_SPACE },
        execArgv: [],
      }),
  );
  const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0]));
  const sum = (k: string) => results.reduce((a, r) => a + r[k], 0);
  const stats = table.stats();
  t.comment(
    `gets ${sum('gets')} (hits ${sum('hits')}), sets ${sum('stored')} (+${sum('busy')} busy), deletes ${sum('deleted')}, ` +
      `read retries ${stats.readRetries}, evictions ${JSON.stringify(stats.evictions)}`,
  );
  t.equal(sum('gets') + sum('stored') + sum('busy') + sum('deleted') + sum('deleteMisses'), THREADS * OPERATIONS);
  t.equal(sum('bad'), 0, 'every value read had its checksum and its own key');
  t.ok(sum('hits') > 500_000, 'plenty of hits were checked');
  t.equal(stats.hits, sum('hits'), 'hits counted once each');
  t.equal(stats.misses, sum('misses'), 'misses counted once each');
  t.equal(stats.inserts, sum('stored'), 'inserts counted once each');
  t.equal(stats.refusals.busy, sum('busy'), 'busy refusals counted');
  t.equal(stats.deletes, sum('deleted'), 'deletes counted');
  t.ok(stats.evictions.capacity > 0, 'the table was full and evicted');

  // What is left is whole, and the entry counters match what can be found.
  let present = 0;
  let bad = 0;
  for (let n = 0; n < KEY_SPACE; n++) {
    const value = table.get(keyOf(n));
    if (value === undefined) continue;
    present++;
    if (!isValidFor(value, n)) bad++;
  }
  t.equal(bad, 0);
  t.equal(table.stats().entries, present, 'entries counter equals the entries found');
  t.ok(table.stats().bytesInUse <= table.stats().capacityBytes);
  t.same(table.verify(), [], 'verify() finds every shard consistent');
});
