/**
 * Moving a deployment to a new `TLS_CACHE_REDIS_SECRET` one host at a time,
 * with `TLS_CACHE_REDIS_SECRET_PREVIOUS`: two hosts (in-process clusters,
 * each its own table and worker threads) on one real redis-server. Host A
 * on the new and the previous secret, host B still on the old one: sessions
 * and tickets resume both ways (A seals under both; it opens either, and
 * seals the fleet's key records B made under both). Then B moves too, then
 * A drops the previous secret: at every step, both ways, and the tickets of
 * the first step still resume.
 */
import t from 'tap';
import { startTestCluster, type TestCluster } from './fixtures/start.ts';
import { alternate } from './helpers/alternating-clients.ts';
import { startRedis } from './helpers/redis.ts';
import { until } from './helpers/until.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';
import { visitTls } from './fixtures/clients.ts';

requireCommand(t, REDIS_SERVER);

const OLD = 'the-old-secret-0123456789abcdefghijklmnopqrstu';
const NEW = 'the-new-secret-9876543210zyxwvutsrqponmlkjihgf';

t.test('hosts move to a new secret one at a time: resumption goes on both ways at every step', async (t) => {
  const redis = await startRedis(t);
  const client = redis.client();
  // Each visit must resume: a reply waiting behind other jobs on this machine's 2 shared cores must not be a miss.
  const base = { redisUrl: redis.url, redisTimeout: 1000, workers: 2 };
  const running: TestCluster[] = [];
  t.teardown(() => Promise.all(running.map((host) => host.cluster.stop())));
  const host = async (secrets: { redisSecret: string; redisSecretPrevious?: string }): Promise<TestCluster> => {
    const started = await startTestCluster('tls', 'shared', { ...base, ...secrets }, { tickets: true });
    running.push(started);
    return started;
  };
  const stop = async (stopped: TestCluster): Promise<void> => {
    running.splice(running.indexOf(stopped), 1);
    await stopped.cluster.stop();
  };
  const bothWays = async (t: { ok(value: unknown, message: string): void }, hosts: [TestCluster, TestCluster], step: string) => {
    const ports = hosts.map((h) => h.cluster.port);
    // Half the clients start on each host: every session and ticket is offered to the other host next.
    const ids = await alternate(ports, 'TLSv1.2', Array(10).fill(undefined), 3);
    t.ok(ids.resumed === ids.offered, `${step}: TLS 1.2 session IDs, ${ids.resumed} of ${ids.offered} resumed`);
    const tickets = await alternate(ports, 'TLSv1.3', Array(10).fill(undefined), 3);
    t.ok(tickets.resumed === tickets.offered, `${step}: TLS 1.3 tickets, ${tickets.resumed} of ${tickets.offered} resumed`);
    return tickets.sessions;
  };
  const firstBytes = async (pattern: string): Promise<Set<number>> => {
    const keys = await client.keys(pattern);
    return new Set(await Promise.all(keys.map(async (key) => (await client.getBuffer(key))![0])));
  };

  // The deployment on the old secret: host B makes the fleet's first ticket key, sealed under it alone.
  let b = await host({ redisSecret: OLD });
  t.same([...(await firstBytes('{tls-resumption}:tk:*'))], [1], 'the first key record is sealed under one secret');

  // Step 1: host A moves (new secret, the old one as previous); host B is still on the old one.
  const a = await host({ redisSecret: NEW, redisSecretPrevious: OLD });
  const firstTickets = await bothWays(t, [a, b], 'A on new + previous, B on old');
  t.same([...(await firstBytes('{tls-resumption}:tk:*'))], [2], "A sealed B's key record again, under both secrets");
  t.same([...(await firstBytes('tls-resumption:s:*'))].sort(), [1, 2], 'sessions from B under the old secret alone, from A under both');
  t.equal(a.cluster.counters.get('redisRejected') + b.cluster.counters.get('redisRejected'), 0, 'nothing was refused');

  // Step 2: host B moves too.
  await stop(b);
  b = await host({ redisSecret: NEW, redisSecretPrevious: OLD });
  await bothWays(t, [a, b], 'both on new + previous');

  // Step 3: every host is on both: host A drops the previous secret.
  await stop(a);
  const a2 = await host({ redisSecret: NEW });
  await bothWays(t, [a2, b], 'A on new alone, B on new + previous');
  let resumed = 0;
  for (const session of firstTickets) {
    for (const port of [a2.cluster.port, b.cluster.port]) if ((await visitTls({ port, session, maxVersion: 'TLSv1.3' })).reused) resumed++;
  }
  t.equal(resumed, 20, 'tickets of step 1 still resume on both (their key record opens under the new secret)');

  // Without the previous secret, a host refuses what the old secret alone sealed, and counts it.
  const oldOnly = await host({ redisSecret: OLD });
  await until(() => oldOnly.logs.some((l) => l.msg === 'redis connected'));
  const fresh = await visitTls({ port: a2.cluster.port, noTicket: true });
  t.notOk((await visitTls({ port: oldOnly.cluster.port, session: fresh.session, noTicket: true })).reused,
    'a host on the old secret alone cannot open what a host on the new one alone sealed');
  t.ok(oldOnly.cluster.counters.get('redisRejected') >= 1, 'and counts it as refused');
  const logged = JSON.stringify([a, a2, b, oldOnly].map((host) => host.logs));
  t.notOk(logged.includes(OLD) || logged.includes(NEW), 'neither secret is in any log line of any host');
});
