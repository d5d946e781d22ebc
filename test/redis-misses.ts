/**
 * Missed resumptions (issue 25) where a session ID is looked up in Redis
 * after the host's table, with a real redis-server and real clients, 2
 * worker threads: nothing in Redis is `not_found`, an entry that does not
 * authenticate is `unreadable`, a hung Redis (SIGSTOP) is `timeout`, a
 * Redis that is gone (SIGKILL) is `unavailable` (not asked). Each asserts
 * its own reason's exact change and no change in the others.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { visitTls } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';
import { foreignSessions } from './helpers/foreign-sessions.ts';
import { startRedis } from './helpers/redis.ts';
import { secretsOf } from './helpers/session-der.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';
import { selfSignedCertificate } from '../lib/tickets/self-signed.ts';
import { MISSES } from '../lib/tls/resumption-misses.ts';
import { sessionKey } from '../lib/redis/session-store.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'misses-test-secret-0123456789abcdefghijklmnopq';

t.test('session IDs through Redis: not_found, unreadable, timeout (hung), unavailable (gone)', async (t) => {
  const redis = await startRedis(t);
  const { cluster } = await startTestCluster('tls', 'shared', { redisUrl: redis.url, redisSecret: SECRET, redisTimeout: 50, workers: 2 });
  t.teardown(() => cluster.stop());
  const foreign = await foreignSessions(4, selfSignedCertificate('foreign'));
  const misses = (): Record<string, number> => Object.fromEntries(MISSES.map((m) => [`${m.method}/${m.reason}`, cluster.counters.get(m.counter)]));
  const expectOne = async (t: Test, reason: string, session: Buffer): Promise<void> => {
    const before = misses();
    t.equal((await visitTls({ port: cluster.port, session, noTicket: true })).reused, false);
    const after = misses();
    for (const key of Object.keys(after)) t.equal(after[key] - before[key], key === reason ? 1 : 0, `${key}: +${key === reason ? 1 : 0}`);
  };
  // A session made here resumes (from the table) and counts nothing.
  const own = await visitTls({ port: cluster.port, noTicket: true });
  const before = misses();
  t.equal((await visitTls({ port: cluster.port, session: own.session, noTicket: true })).reused, true);
  t.same(misses(), before, 'a resumption is no miss');

  await t.test('nothing in Redis', (t) => expectOne(t, 'session_id/not_found', foreign[0]));
  await t.test('an entry that does not authenticate', async (t) => {
    await redis.client().set(sessionKey(cluster.config.redisNamespace, secretsOf(foreign[1]).sessionId), randomBytes(200));
    await expectOne(t, 'session_id/unreadable', foreign[1]);
  });
  await t.test('Redis hung (SIGSTOP)', async (t) => {
    redis.pause();
    try {
      await expectOne(t, 'session_id/timeout', foreign[2]);
    } finally {
      redis.resume();
    }
  });
  await t.test('Redis gone (SIGKILL)', async (t) => {
    await redis.kill();
    // The kernel closed both threads' connections with the process: give their idle event loops a moment to see it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await expectOne(t, 'session_id/unavailable', foreign[3]);
  });
});
