import t from 'tap';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { SessionTable } from '../../lib/table/session-table.ts';
import { offsetsOf, readHeader, S, SHARD_WORDS } from '../../lib/table/layout.ts';
import { isValidFor, keyOf } from '../helpers/checked-values.ts';

const KILLS = 200;
const AT_ONCE = 2;
const KEY_SPACE = 5_000;

t.test(`writers terminated at random moments, ${KILLS} times: every shard usable, every read consistent`, async (t) => {
  const table = SessionTable.create({ size: 512 * 1024, sweepInterval: 0 });
  let released = 0;
  let kills = 0;
  let badReads = 0;
  const problems: string[] = [];

  const checkReads = () => {
    for (let n = 0; n < KEY_SPACE; n += 7) {
      const value = table.get(keyOf(n));
      if (value !== undefined && !isValidFor(value, n)) badReads++;
    }
  };

  const killOne = async () => {
    const worker = new Worker(new URL('../fixtures/table-writer.ts', import.meta.url), {
      workerData: { buffer: table.buffer, keySpace: KEY_SPACE },
      // Without tap's --import hooks (coverage, mocks, its TypeScript loader): Node strips the types itself, and each
      // of the 200 writers starts about 3 times faster.
      execArgv: [],
    });
    const owner = worker.threadId + 1;
    await once(worker, 'message');
    await sleep(Math.random() * 15);
    const exited = once(worker, 'exit');
    await worker.terminate();
    await exited;
    // What the cluster runtime does when a worker exits.
    released += table.releaseOwner(owner);
    kills++;
    checkReads();
  };

  while (kills < KILLS) {
    await Promise.all(Array.from({ length: AT_ONCE }, killOne));
    // After each round of repairs, the structure holds: no stray slot, counters exact.
    problems.push(...table.verify().map((p) => `after ${kills} kills: ${p}`));
  }

  t.comment(`${kills} writers killed; ${released} held a shard lock at the time and were released`);
  t.equal(kills, KILLS);
  t.ok(released > 0, 'some writers died holding a lock (the test reached mid-write)');
  t.equal(badReads, 0, 'no read during the kills returned a bad value');
  t.same(problems, [], 'verify() found every shard consistent after every round of kills');

  // No lock is left held.
  const g = readHeader(table.buffer);
  const o = offsetsOf(g);
  const words = new Int32Array(table.buffer);
  const held = Array.from({ length: g.shardCount }, (_, s) => words[o.shards + s * SHARD_WORDS + S.lock]).filter((x) => x !== 0);
  t.same(held, [], 'every shard lock is free');

  // Everything left reads back whole, and the counters agree with it.
  let present = 0;
  for (let n = 0; n < KEY_SPACE; n++) {
    const value = table.get(keyOf(n));
    if (value === undefined) continue;
    present++;
    if (!isValidFor(value, n)) badReads++;
  }
  t.equal(badReads, 0, 'every entry left is consistent');
  t.equal(table.stats().entries, present, 'the entry count was repaired');

  // Every slot is usable again: the table fills to capacity without refusals.
  const capacity = table.stats().capacityEntries;
  const fresh = Array.from({ length: capacity * 2 }, () => randomBytes(32));
  const stored = fresh.filter((id) => table.set(id, randomBytes(100))).length;
  t.equal(stored, fresh.length, 'no write was refused');
  t.ok(table.stats().entries >= capacity * 0.97, `${table.stats().entries} of ${capacity} entries after refilling`);
  t.same(table.verify(), [], 'consistent after refilling');
  const missing = fresh.slice(-capacity / 2).filter((id) => !table.get(id)).length;
  t.equal(missing, 0, `the newest entries all read back (evictions ${JSON.stringify(table.stats().evictions)})`);
});
