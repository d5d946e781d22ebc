/**
 * Redis with the other ticket settings, on in-process clusters (two of them
 * stand for two hosts, each with its own shared memory): key files and Redis
 * together (the files' keys stay, Redis carries sessions), tickets off (Redis
 * carries sessions and flushes), a Redis that is down when a host starts
 * (it starts and serves, then joins the fleet's keys), and the public-API
 * ticket fallback (one key at a time) following the fleet's keys.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { visitTls } from '../fixtures/clients.ts';
import { startTestCluster } from '../fixtures/start.ts';
import { startRedis } from '../helpers/redis.ts';
import { until } from '../helpers/until.ts';
import { REDIS_SERVER, requireCommand } from '../helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'options-test-secret-0123456789abcdefghijklmnop';
// Not the 5 ms default: each visit here must resume, and on this machine's 2 shared cores a reply may wait
// behind other jobs (a lookup past the bound is a miss by design, tested in redis-sessions.ts).
const REDIS_TIMEOUT = 1000;

t.test('key files and Redis: the files\' keys stay (not rotated through Redis); sessions cross hosts through Redis', async (t) => {
  const redis = await startRedis(t);
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'ticket.key');
  writeFileSync(keyFile, randomBytes(48));
  const config = { redisUrl: redis.url, redisSecret: SECRET, redisTimeout: REDIS_TIMEOUT, ticketKeyFile: keyFile, workers: 2 };
  const a = await startTestCluster('tls', 'shared', config, { tickets: true });
  t.teardown(() => a.cluster.stop());
  const b = await startTestCluster('tls', 'shared', config, { tickets: true });
  t.teardown(() => b.cluster.stop());
  t.ok(a.cluster.ticketKeys!.fixed && b.cluster.ticketKeys!.fixed, 'both rings hold the files\' key');
  t.ok(a.logs.some((l) => l.msg === 'redis connected'), 'connected to Redis');
  t.notOk(a.logs.some((l) => l.msg === 'ticket keys shared through redis'), 'the keys are not shared through Redis');
  t.same(await redis.client().keys('*tk:*'), [], 'no ticket key record in Redis');

  // TLS 1.3: a ticket from host A resumes on host B (the same file key).
  const ticket = await visitTls({ port: a.cluster.port, maxVersion: 'TLSv1.3' });
  t.ok((await visitTls({ port: b.cluster.port, session: ticket.session, maxVersion: 'TLSv1.3' })).reused, 'a ticket crosses hosts by the shared file key');
  // TLS 1.2 without a ticket (the client offers none): by session ID, through Redis, each client going to
  // host B straight after its full handshake on host A.
  let reused = 0;
  for (let i = 0; i < 20; i++) {
    const first = await visitTls({ port: a.cluster.port, noTicket: true });
    if ((await visitTls({ port: b.cluster.port, session: first.session, noTicket: true })).reused) reused++;
  }
  t.equal(reused, 20, 'TLS 1.2 session IDs cross hosts through Redis: 20 of 20 resumed on host B');
  t.equal(b.cluster.counters.get('redisHits'), 20, 'each found in Redis by host B');
});

t.test('tickets off and Redis: sessions and flushes cross hosts', async (t) => {
  const redis = await startRedis(t);
  const config = { redisUrl: redis.url, redisSecret: SECRET, redisTimeout: REDIS_TIMEOUT, tickets: 'off' as const, workers: 2 };
  const a = await startTestCluster('tls', 'shared', config);
  t.teardown(() => a.cluster.stop());
  const b = await startTestCluster('tls', 'shared', config);
  t.teardown(() => b.cluster.stop());
  const first = await visitTls({ port: a.cluster.port });
  t.ok((await visitTls({ port: b.cluster.port, session: first.session })).reused, 'resumed on the other host');
  t.ok(b.cluster.table.stats().entries >= 1, 'and copied into its table');
  a.cluster.flush();
  await until(() => b.logs.some((l) => l.msg === 'flushed by another host: every session of this host is gone'), 10_000);
  t.equal(b.cluster.table.stats().entries, 0, "the other host's table is cleared");
  await until(async () => (await redis.client().keys('*:s:*')).length === 0, 5000);
  t.pass('and the sessions in Redis are deleted');
  t.notOk((await visitTls({ port: b.cluster.port, session: first.session })).reused, 'the session resumes nowhere');
});

t.test('Redis down when a host starts: it starts and serves, then joins the fleet when Redis comes', async (t) => {
  const redis = await startRedis(t);
  const config = { redisUrl: redis.url, redisSecret: SECRET, redisTimeout: REDIS_TIMEOUT, workers: 2 };
  const a = await startTestCluster('tls', 'shared', config, { tickets: true });
  t.teardown(() => a.cluster.stop());
  await redis.kill();
  const started = performance.now();
  const b = await startTestCluster('tls', 'shared', config, { tickets: true });
  t.teardown(() => b.cluster.stop());
  t.ok(performance.now() - started < 10_000, `host B started without Redis in ${(performance.now() - started).toFixed(0)} ms`);
  t.ok(b.logs.some((l) => String(l.msg).startsWith('redis unavailable')), 'and said Redis is unavailable');
  const local = await visitTls({ port: b.cluster.port, maxVersion: 'TLSv1.3' });
  t.ok((await visitTls({ port: b.cluster.port, session: local.session, maxVersion: 'TLSv1.3' })).reused, 'it resumes its own tickets meanwhile');

  await redis.restart();
  await until(() => b.logs.some((l) => l.msg === 'redis reconnected'), 10_000);
  await until(async () => {
    const ticket = await visitTls({ port: a.cluster.port, maxVersion: 'TLSv1.3' });
    return (await visitTls({ port: b.cluster.port, session: ticket.session, maxVersion: 'TLSv1.3' })).reused;
  }, 10_000);
  t.pass("once Redis is back, host A's tickets resume on host B");
  t.ok((await visitTls({ port: b.cluster.port, session: local.session, maxVersion: 'TLSv1.3' })).reused, "and host B's earlier tickets still resume on it");
});

t.test("ticketMode 'fallback' (one key at a time) and Redis: tickets cross hosts, and follow a fleet rotation", async (t) => {
  const redis = await startRedis(t);
  const config = { redisUrl: redis.url, redisSecret: SECRET, redisTimeout: REDIS_TIMEOUT, workers: 2 };
  const a = await startTestCluster('tls', 'shared', config, { tickets: true }, { ticketMode: 'fallback' });
  t.teardown(() => a.cluster.stop());
  const b = await startTestCluster('tls', 'shared', config, { tickets: true }, { ticketMode: 'fallback' });
  t.teardown(() => b.cluster.stop());
  const ticket = await visitTls({ port: a.cluster.port, maxVersion: 'TLSv1.3' });
  t.ok((await visitTls({ port: b.cluster.port, session: ticket.session, maxVersion: 'TLSv1.3' })).reused, 'a ticket from host A resumes on host B');
  t.ok(a.cluster.rotateTicketKeys(), 'rotated on host A');
  await until(async () => {
    const fresh = await visitTls({ port: a.cluster.port, maxVersion: 'TLSv1.3' });
    return (await visitTls({ port: b.cluster.port, session: fresh.session, maxVersion: 'TLSv1.3' })).reused;
  }, 10_000);
  t.pass("after the rotation, host A's new tickets resume on host B");
});

t.test('a server module sees the configuration without the Redis secret or password', async (t) => {
  const redis = await startRedis(t, { password: 'hunter2-redis-password' });
  const config = { redisUrl: redis.url, redisSecret: SECRET, redisTimeout: REDIS_TIMEOUT, workers: 1 };
  const { cluster } = await startTestCluster('tls', 'shared', config, { echoRedisConfig: true });
  t.teardown(() => cluster.stop());
  t.equal(cluster.config.redisSecret, SECRET, 'the runtime itself has the secret');
  const { served } = await visitTls({ port: cluster.port });
  t.same(served.redis, { url: redis.url.replace(':hunter2-redis-password@', ':***@'), secret: '[redacted]' });
  t.notOk(JSON.stringify(served).includes('hunter2'), 'no password reached the module');
});
