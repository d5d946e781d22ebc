/**
 * Nothing is lost to a Redis outage: against a real redis-server, killed
 * and restarted with what it held (its RDB file, saved before the kill),
 * sessions made while it was down reach it once it is back, and a session
 * ended by a fatal alert meanwhile is deleted from it then (else another
 * host would resume it from Redis). A session that expired, or ended on
 * another path, before Redis came back is not written; the queue is
 * bounded, its oldest writes going first.
 */
import t from 'tap';
import { hostStore } from './helpers/host-store.ts';
import { randomBytes } from 'node:crypto';
import { SharedCounters } from '../lib/operations/counters.ts';
import { connectRedis } from '../lib/redis/connection.ts';
import { sessionKey } from '../lib/redis/session-store.ts';
import { SessionTable } from '../lib/table/session-table.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { until } from './helpers/until.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'deferred-test-secret-0123456789abcdefghijklmnop';
const NS = 'deferred-ns';

type Test = { teardown(fn: () => void | Promise<void>): void };

/** A host: its own table and connection; `clock` drives both. */
function host(t: Test, redis: TestRedis, options: { clock?: () => number; maxDeferred?: number } = {}) {
  const clock = options.clock ?? Date.now;
  const table = SessionTable.create({ size: 1 << 20, timeout: 60, clock });
  const counters = SharedCounters.create();
  const connection = connectRedis(redis.url, { role: 'sessions' });
  t.teardown(() => {
    connection.disconnect();
    table.close();
  });
  const store = hostStore(table, {
    redis: connection,
    secret: SECRET,
    namespace: NS,
    timeout: 1000,
    counters,
    clock,
    ...(options.maxDeferred === undefined ? {} : { maxDeferred: options.maxDeferred }),
  });
  return { table, counters, store, connection };
}

const session = (): Buffer => Buffer.concat([Buffer.from([0x30, 0x81, 0x9c, 0x02, 0x01, 0x01, 0x02, 0x02, 0x03, 0x03]), randomBytes(150)]);
const ids = (n: number): Buffer[] => Array.from({ length: n }, () => randomBytes(32));

/** Kills Redis once what it holds is saved: restarted, it loads it again. */
async function killSaved(redis: TestRedis, connection: { status: string }): Promise<void> {
  const admin = redis.client();
  await admin.save();
  admin.disconnect();
  await redis.kill();
  await until(() => connection.status !== 'ready');
}

/** Which of `keys` Redis holds. */
async function held(redis: TestRedis, keys: Buffer[]): Promise<boolean[]> {
  const admin = redis.client();
  const found = await Promise.all(keys.map(async (id) => (await admin.exists(sessionKey(NS, id))) === 1));
  admin.disconnect();
  return found;
}

t.test('sessions made and ended while Redis is down reach it once it is back', async (t) => {
  const redis = await startRedis(t);
  const a = host(t, redis);
  const b = host(t, redis);
  await until(() => a.connection.status === 'ready' && b.connection.status === 'ready');
  const [ended, kept] = ids(2);
  a.store.set(ended, session());
  a.store.set(kept, session());
  await until(() => a.counters.get('redisWrites') === 2);
  await killSaved(redis, a.connection);

  const made = ids(20);
  const blobs = made.map((id) => {
    const blob = session();
    a.store.set(id, blob);
    return blob;
  });
  // The session made before the outage ends in a fatal alert during it.
  a.store.delete(ended);
  t.equal(a.store.deferred, 21, '20 writes and 1 end wait for Redis');
  t.equal(a.counters.get('redisDeferred'), 21);

  await redis.restart();
  await until(() => a.store.deferred === 0 && a.counters.get('redisWrites') === 22, 10_000);
  t.same(await held(redis, [kept]), [true], 'Redis came back with what it held before the outage (the test can tell)');
  t.same(await held(redis, [ended]), [false], 'the session ended during the outage is deleted from Redis once it is back');
  await until(() => b.connection.status === 'ready');
  const found = await Promise.all(made.map((id) => b.store.get(id)));
  t.equal(found.filter((s, i) => s !== undefined && blobs[i].equals(s)).length, 20, 'another host finds the 20 sessions made during the outage');
  t.equal(await b.store.get(ended), undefined, 'and not the ended one');
  t.equal(a.counters.get('redisDeferredDropped'), 0, 'nothing dropped');
});

t.test('a deferred write is dropped when its session expired or ended on another path first; the queue is bounded', async (t) => {
  const redis = await startRedis(t);
  let now = Date.now();
  const clock = () => now;
  const a = host(t, redis, { clock, maxDeferred: 4 });
  await until(() => a.connection.status === 'ready');
  await killSaved(redis, a.connection);

  const [expires, endedElsewhere, endedHere, forgotten] = ids(4);
  a.store.set(expires, session());
  now += 30_000;
  a.store.set(endedElsewhere, session());
  a.store.set(endedHere, session());
  a.store.set(forgotten, session());
  // Another thread of this host saw it end: gone from the shared table.
  a.table.delete(endedElsewhere);
  // Ended here: its end replaces its write.
  a.store.delete(endedHere);
  // A worker process hears of an end from the primary.
  a.store.forget(forgotten);
  t.equal(a.store.deferred, 3, 'the end replaced its write; the forgotten write is gone');
  t.equal(a.counters.get('redisDeferredDropped'), 2, 'the writes of the two sessions ended here count as dropped');
  // Past the first session's expiry (60 s), not the others'.
  now += 40_000;

  await redis.restart();
  await until(() => a.store.deferred === 0, 10_000);
  await until(() => a.counters.get('redisDeferredDropped') === 4);
  t.same(await held(redis, [expires, endedElsewhere, endedHere, forgotten]), [false, false, false, false], 'none of them was written');
  t.equal(a.counters.get('redisWrites'), 0);

  // The bound: 4 entries, the oldest writes go first.
  await killSaved(redis, a.connection);
  const made = ids(6);
  for (const id of made) a.store.set(id, session());
  t.equal(a.store.deferred, 4, 'at most maxDeferred entries');
  t.equal(a.counters.get('redisDeferredDropped'), 6, 'the 2 oldest were dropped');
  await redis.restart();
  await until(() => a.counters.get('redisWrites') === 4, 10_000);
  t.same(await held(redis, made), [false, false, true, true, true, true], 'the 4 newest reach Redis');
});

t.test('a bad maxDeferred is refused with the coded error', async (t) => {
  const redis = await startRedis(t);
  const connection = connectRedis(redis.url, { role: 'sessions' });
  t.teardown(() => connection.disconnect());
  const table = SessionTable.create({ size: 1 << 16, timeout: 60 });
  t.teardown(() => table.close());
  for (const maxDeferred of [-1, 1.5, Number.NaN]) {
    t.throws(() => hostStore(table, { redis: connection, secret: SECRET, namespace: NS, maxDeferred }), {
      code: 'ERR_TLS_CACHE_INVALID_OPTION',
      message: /maxDeferred/,
    });
  }
});
