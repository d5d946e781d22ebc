/**
 * One session store made of levels (issue 22), on real levels: a worker
 * process's local copy, the shared table, and Redis (a real redis-server),
 * holding real sessions from real TLS 1.2 handshakes. Each level's miss,
 * hit and back-fill into the faster ones; the expiry worked out once, from
 * the session and the timeout, on an injected clock; ends and forgets; an
 * unavailable or failing level skipped without failing the lookup.
 */
import t from 'tap';
import { constants, randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:tls';
import { loadCertificate } from '../examples/certificate.ts';
import { LocalSessions } from '../lib/store/local-sessions.ts';
import { connectRedis } from '../lib/redis/connection.ts';
import { RedisSessionLevel, sessionKey } from '../lib/redis/session-store.ts';
import { LevelledStore } from '../lib/store/levelled-store.ts';
import { tableLevel } from '../lib/store/memory-levels.ts';
import { SessionTable } from '../lib/table/session-table.ts';
import { sessionExpiresAt } from '../lib/tls/session-der.ts';
import { startRedis } from './helpers/redis.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';
import { until } from './helpers/until.ts';

requireCommand(t, REDIS_SERVER);

const TIMEOUT = 60;
const NS = 'levels';
const SECRET = 'levelled-store-test-secret-0123456789abcdefghij';

/** `count` real TLS 1.2 sessions (session ID, DER) as a server's newSession hook sees them. */
async function realSessions(count: number): Promise<Array<{ id: Buffer; session: Buffer }>> {
  const { cert, key } = await loadCertificate({});
  const made: Array<{ id: Buffer; session: Buffer }> = [];
  const server = createServer({ cert, key, sessionTimeout: TIMEOUT, secureOptions: constants.SSL_OP_NO_TICKET }, (socket) => socket.end());
  server.on('newSession', (id: Buffer, session: Buffer, done: () => void) => {
    made.push({ id, session });
    done();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => socket.end());
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
  }
  server.close();
  return made;
}

t.test('levels: miss, hit, back-fill, expiry, ends and an unavailable level', async (t) => {
  const redis = await startRedis(t);
  const sessions = await realSessions(6);
  t.equal(sessions.length, 6, 'six real sessions');
  let now = Date.now();
  const clock = () => now;
  const local = new LocalSessions(1 << 20, clock);
  const table = SessionTable.create({ size: 1 << 20, timeout: TIMEOUT, clock });
  const connection = connectRedis(redis.url, { role: 'sessions' });
  t.teardown(() => {
    connection.disconnect();
    table.close();
  });
  await until(() => connection.status === 'ready');
  const redisLevel = new RedisSessionLevel({ redis: connection, secret: SECRET, namespace: NS, timeout: 1000, clock });
  const store = new LevelledStore({ timeout: TIMEOUT, clock, levels: [local, tableLevel(table), redisLevel] });
  const inRedis = async (id: Buffer): Promise<boolean> => (await redis.client().exists(sessionKey(NS, id))) === 1;

  // A miss at every level: the deepest level's reason.
  t.equal(await store.lookUp(randomBytes(32)), 'not_found', 'an unknown ID: not_found, after every level');

  // A new session goes to every level, with one expiry.
  const [a, b, c, d, e, f] = sessions;
  t.equal(store.set(a.id, a.session), true, 'stored');
  t.same(local.lookUp(a.id), a.session, 'in the local copy');
  t.same(table.get(a.id), a.session, 'in the table');
  await until(() => inRedis(a.id));
  t.pass('in Redis');
  const own = sessionExpiresAt(a.session)!;
  t.ok(Math.abs(store.expiryOf(a.session) - own) <= 1000, 'its expiry: the session\'s own time + timeout (within OpenSSL\'s whole second)');

  // Hits: the first level answers at once; a deeper hit is copied into the faster levels.
  const first = store.lookUp(a.id);
  t.notOk(first instanceof Promise, 'a hit in the local copy answers synchronously');
  t.same(first, a.session);
  local.clear();
  const second = store.lookUp(a.id);
  t.notOk(second instanceof Promise, 'a hit in the table: still synchronous');
  t.same(Buffer.from(second as Uint8Array), a.session);
  t.same(local.lookUp(a.id), a.session, 'and copied back into the local copy');
  local.clear();
  table.clear();
  const third = store.lookUp(a.id);
  t.ok(third instanceof Promise, 'a hit in Redis is waited for');
  t.same(Buffer.from((await third) as Uint8Array), a.session, 'found in Redis');
  t.same(local.lookUp(a.id), a.session, 'copied into the local copy');
  t.same(table.get(a.id), a.session, 'and into the table');

  // The copies keep the session's own expiry, on the injected clock.
  now = Math.min(own, store.expiryOf(a.session)) - 1000;
  t.same(table.get(a.id), a.session, 'the copy lives until its expiry');
  now += 2000;
  t.equal(table.get(a.id), undefined, 'and not past it');
  t.equal(await store.lookUp(a.id), 'expired', 'past its lifetime: expired (the table held it expired, Redis\'s sealed expiry passed)');

  // Ends: a fatal alert removes the session from every level; a forget, from this process's own levels only.
  now = Date.now();
  store.set(b.id, b.session);
  store.set(c.id, c.session);
  await until(async () => (await inRedis(b.id)) && (await inRedis(c.id)));
  t.equal(store.delete(b.id), true);
  t.equal(local.lookUp(b.id), 'not_found', 'ended: gone from the local copy');
  t.equal(table.get(b.id), undefined, 'from the table');
  await until(async () => !(await inRedis(b.id)));
  t.pass('and from Redis');
  t.equal(await store.lookUp(b.id), 'not_found', 'so it is not found anywhere');
  store.forget(c.id);
  t.equal(table.get(c.id), undefined, 'forgotten: gone from the table');
  t.ok(await inRedis(c.id), 'but left in Redis (another process or host ended it, and told Redis)');

  // A level that throws is skipped: a 33-byte ID is refused by the table and the local copy keeps nothing.
  t.equal(await store.lookUp(Buffer.alloc(33, 1)), 'not_found', 'a level that throws does not fail the lookup');

  // Redis gone: the levels above still answer, the miss says why, a new session is still stored here.
  store.set(d.id, d.session);
  // Written before Redis goes (else its write, in flight, would wait too).
  await until(() => inRedis(d.id));
  await redis.kill();
  await until(() => connection.status !== 'ready');
  const held = store.lookUp(d.id);
  t.notOk(held instanceof Promise, 'Redis down: a local hit still answers at once');
  t.equal(store.lookUp(e.id), 'unavailable', 'a miss: unavailable (Redis not asked), at once');
  t.equal(store.set(f.id, f.session), true, 'a new session is stored on this host');
  t.equal(redisLevel.deferred, 1, 'its Redis write waits for Redis');
});

t.test('a new session counts as stored when any level keeps it (a local copy that is off keeps none)', async (t) => {
  const [a] = await realSessions(1);
  const table = SessionTable.create({ size: 1 << 20, timeout: TIMEOUT });
  t.teardown(() => table.close());
  const store = new LevelledStore({ timeout: TIMEOUT, levels: [new LocalSessions(0), tableLevel(table)] });
  t.equal(store.set(a.id, a.session), true, 'stored: the table kept it');
  t.same(Buffer.from(store.lookUp(a.id) as Uint8Array), a.session, 'and it is found there');
  const none = new LevelledStore({ timeout: TIMEOUT, levels: [new LocalSessions(0)] });
  t.equal(none.set(a.id, a.session), false, 'refused when no level keeps it');
});

t.test('a level may hold the new session (a promise): the store waits for it', async (t) => {
  const [a, b] = await realSessions(2);
  const table = SessionTable.create({ size: 1 << 20, timeout: TIMEOUT });
  t.teardown(() => table.close());
  let release: ((kept: boolean) => void) | undefined;
  const holding = { name: 'holding', lookUp: () => 'not_found' as const, put: () => new Promise<boolean>((resolve) => (release = resolve)), delete: () => {} };
  const store = new LevelledStore({ timeout: TIMEOUT, levels: [tableLevel(table), holding] });
  const set = store.set(a.id, a.session);
  t.type(set, Promise, 'a promise');
  t.ok(table.get(a.id), 'the faster levels have it already');
  release!(false);
  t.equal(await set, true, 'kept: a level kept it even though the holding one refused');
  const only = new LevelledStore({ timeout: TIMEOUT, levels: [new LocalSessions(0), holding] });
  const refused = only.set(b.id, b.session);
  release!(false);
  t.equal(await refused, false, 'refused when no level keeps it');
  const failing = new LevelledStore({ timeout: TIMEOUT, levels: [{ ...holding, put: () => Promise.reject(new Error('gone')) }] });
  t.equal(await failing.set(b.id, b.session), false, 'a rejected put is a refusal, never a rejection');
});
