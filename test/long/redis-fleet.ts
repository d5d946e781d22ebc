/**
 * Fleet-wide ticket keys and flushes against a real redis-server, with two
 * (or three) fleets in one process standing for the primaries of separate
 * hosts, each with its own ring: one key per rotation whoever races, every
 * ring the same keys with the same windows, rotate-now and flush reaching
 * every host, refused records, a Redis that restarts empty, namespaces, and
 * no key bytes in Redis.
 */
import t from 'tap';
import { Redis } from 'ioredis';
import { connectRedis } from '../../lib/redis/connection.ts';
import { RedisFleet, fleetKey, ticketKeyRecordKey } from '../../lib/redis/fleet.ts';
import { SharedCounters } from '../../lib/operations/counters.ts';
import { TicketKeyRing } from '../../lib/tickets/key-ring.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { until } from '../helpers/until.ts';
import { REDIS_SERVER, requireCommand } from '../helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'fleet-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const NS = 'fleet-ns';
type Test = { teardown(fn: () => void | Promise<void>): void };

interface Host {
  ring: TicketKeyRing;
  fleet: RedisFleet;
  counters: SharedCounters;
  connection: Redis;
  events: { ticketKeys: number; flush: number };
}

function host(t: Test, redis: TestRedis, options: { clock?: () => number; namespace?: string; secret?: string; rotate?: number } = {}): Host {
  const clock = options.clock ?? Date.now;
  const rotate = options.rotate ?? 10_000;
  const ring = TicketKeyRing.create({ timeout: 30, rotate, clock });
  const counters = SharedCounters.create();
  const connection = connectRedis(redis.url, { role: 'ticket keys' });
  const fleet = new RedisFleet({
    redis: connection,
    secret: options.secret ?? SECRET,
    namespace: options.namespace ?? NS,
    ring,
    timeout: 30,
    rotate,
    pollInterval: 200,
    counters,
    clock,
  });
  const events = { ticketKeys: 0, flush: 0 };
  fleet.on('ticketKeys', () => events.ticketKeys++);
  fleet.on('flush', () => events.flush++);
  t.teardown(() => {
    fleet.close();
    connection.disconnect();
    ring.close();
  });
  return { ring, fleet, counters, connection, events };
}

const current = (h: Host): string => h.ring.encryptionKey()!.name.toString('hex');
const decrypts = (h: Host, name: string): boolean => h.ring.decryptionKey(Buffer.from(name, 'hex')) !== undefined;

t.test('hosts starting together make one key and all encrypt with it', async (t) => {
  const redis = await startRedis(t);
  const hosts = [host(t, redis), host(t, redis), host(t, redis)];
  const localKeys = hosts.map(current);
  await Promise.all(hosts.map((h) => h.fleet.start()));
  t.equal(await redis.client().hget(fleetKey(NS), 'head'), '1', 'exactly one key was made');
  const names = hosts.map(current);
  t.equal(new Set(names).size, 1, 'every host encrypts with the same key');
  t.notOk(localKeys.includes(names[0]), "it replaced each host's own first key");
  t.same(
    hosts.map((h) => h.ring.snapshot().keys.map((k) => [k.created, k.retired, k.until])),
    Array(3).fill(hosts[0].ring.snapshot().keys.map((k) => [k.created, k.retired, k.until])),
    'with the same times',
  );
  t.ok(hosts.every((h) => h.events.ticketKeys === 1));
});

t.test('a due rotation makes exactly one new key; the old one decrypts for the timeout on every host', async (t) => {
  const redis = await startRedis(t);
  let now = Date.now();
  const clock = () => now;
  const a = host(t, redis, { clock });
  const b = host(t, redis, { clock });
  await Promise.all([a.fleet.start(), b.fleet.start()]);
  const first = current(a);
  // Two rotations asked at once on two hosts: each makes at most one key (a host that read the head after the other's
  // rotation makes the next), never more.
  await Promise.all([a.fleet.rotateNow(), b.fleet.rotateNow()]);
  await until(() => current(a) === current(b) && current(a) !== first);
  const head = Number(await redis.client().hget(fleetKey(NS), 'head'));
  t.ok(head === 2 || head === 3, `one key per request at most (head ${head})`);
  const second = current(a);
  t.ok(decrypts(a, first) && decrypts(b, first), 'the previous key still decrypts everywhere');
  const ttl = await redis.client().pttl(ticketKeyRecordKey(NS, 1));
  t.ok(ttl > 30_000 && ttl <= 90_000, `the retired record stays in Redis for its window and a slack (${ttl} ms)`);

  // Scheduled: the clock passes the rotation period on both hosts at once; their timers race, one key is made.
  const before = Number(await redis.client().hget(fleetKey(NS), 'head'));
  now += 10_000;
  await until(() => current(a) !== second && current(b) === current(a), 5000);
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.equal(Number(await redis.client().hget(fleetKey(NS), 'head')), before + 1, 'a due rotation makes exactly one key, however many hosts see it due (three polls later)');
  now += 31_000;
  await until(() => !decrypts(a, first) && !decrypts(b, first));
  t.pass('a key retired more than the timeout ago decrypts nowhere');
  t.ok(a.counters.get('ticketKeyRotations') >= 2, 'rotations counted');
});

t.test('rotate-now on one host reaches the others at once (pub/sub)', async (t) => {
  const redis = await startRedis(t);
  const a = host(t, redis, { rotate: 600_000 });
  const b = host(t, redis, { rotate: 600_000 });
  await Promise.all([a.fleet.start(), b.fleet.start()]);
  // Polling is every 200 ms here; the message makes it faster.
  const old = current(a);
  const started = performance.now();
  t.equal(await a.fleet.rotateNow(), true);
  t.not(current(a), old, 'the rotating host uses the new key once rotateNow resolves');
  await until(() => current(b) === current(a));
  t.ok(performance.now() - started < 1000, `converged in ${(performance.now() - started).toFixed(0)} ms`);
  t.ok(decrypts(b, old), 'the previous key still decrypts');
});

t.test('flush on one host: every host drops every key and is told to clear its table; Redis sessions go', async (t) => {
  const redis = await startRedis(t);
  const a = host(t, redis);
  const b = host(t, redis);
  await Promise.all([a.fleet.start(), b.fleet.start()]);
  await a.fleet.rotateNow();
  await until(() => current(b) === current(a));
  const names = a.ring.snapshot().keys.map((k) => Buffer.from(k.key.subarray(0, 16)).toString('hex'));
  t.equal(names.length, 2);
  const client = redis.client();
  await client.set(`${NS}:s:00ff`, 'x');
  await client.set('other-ns:s:00ff', 'x');
  const result = await a.fleet.flush();
  t.equal(result.generation, 1);
  t.equal(result.redisSessions, 1, "the namespace's sessions deleted from Redis");
  t.equal(await client.exists('other-ns:s:00ff'), 1, "another namespace's kept");
  await until(() => b.events.flush === 1 && names.every((n) => !decrypts(b, n)));
  t.ok(names.every((n) => !decrypts(a, n)), 'no old key decrypts on the flushing host');
  t.equal(a.events.flush, 0, 'the flushing host is not told (its caller cleared its table)');
  t.equal(current(a), current(b), 'both encrypt with the one new key');
});

t.test('a record altered in Redis or sealed under another secret is refused and counted', async (t) => {
  const redis = await startRedis(t);
  const a = host(t, redis, { rotate: 600_000 });
  await a.fleet.start();
  await a.fleet.rotateNow();
  const client = redis.client();
  const raw = (await client.getBuffer(ticketKeyRecordKey(NS, 1)))!;
  raw[20] ^= 1;
  await client.set(ticketKeyRecordKey(NS, 1), raw);
  const b = host(t, redis, { rotate: 600_000 });
  await b.fleet.start();
  t.equal(current(b), current(a), 'the intact head loads');
  t.equal(b.ring.snapshot().keys.length, 1, 'the altered older record does not');
  t.equal(b.counters.get('redisRejected'), 1, 'counted once');

  // A host under another secret cannot open the fleet's head: it refuses it and makes its own.
  const stranger = host(t, redis, { rotate: 600_000, secret: 'stranger-secret-0123456789abcdefghijklmnopqrstu' });
  await stranger.fleet.start();
  t.ok(stranger.counters.get('redisRejected') >= 1, 'the foreign record refused');
  t.not(current(stranger), current(a), 'never the fleet key');
});

t.test('Redis restarted empty: hosts keep their keys for their window next to a new fleet key', async (t) => {
  const redis = await startRedis(t);
  const a = host(t, redis, { rotate: 600_000 });
  const b = host(t, redis, { rotate: 600_000 });
  await Promise.all([a.fleet.start(), b.fleet.start()]);
  const before = current(a);
  await redis.kill();
  await until(() => a.connection.status !== 'ready');
  t.equal(await a.fleet.rotateNow(), false, 'no rotation while Redis is away');
  t.equal(current(a), before, 'the current key stays');
  await redis.restart();
  await until(() => current(a) !== before && current(b) === current(a), 10_000);
  t.ok(decrypts(a, before) && decrypts(b, before), 'the key of before the outage still decrypts');
  t.equal(await redis.client().hget(fleetKey(NS), 'head'), '1', 'one new fleet key');
});

t.test('namespaces are separate fleets; Redis never holds a key in plaintext', async (t) => {
  const redis = await startRedis(t);
  const a = host(t, redis);
  const other = host(t, redis, { namespace: 'other' });
  await Promise.all([a.fleet.start(), other.fleet.start()]);
  await a.fleet.rotateNow();
  t.not(current(a), current(other), 'another namespace has its own keys');
  const client = redis.client();
  const keys = await client.keys('*');
  t.ok(keys.length >= 4);
  const values: Buffer[] = [];
  for (const key of keys) {
    if ((await client.type(key)) === 'string') values.push((await client.getBuffer(key))!);
    else for (const v of Object.values(await client.hgetallBuffer(key))) values.push(v);
  }
  const secrets = [...a.ring.snapshot().keys, ...other.ring.snapshot().keys].flatMap((k) => {
    const key = Buffer.from(k.key);
    return [key.subarray(0, 16), key.subarray(16, 32), key.subarray(32, 48)];
  });
  const found = secrets.filter((part) => values.some((v) => v.includes(part) || v.includes(Buffer.from(part.toString('hex')))));
  t.equal(found.length, 0, `no key name, HMAC secret or AES key in any of ${values.length} Redis values, raw or hex`);
});
