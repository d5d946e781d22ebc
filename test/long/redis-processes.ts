/**
 * `node:cluster` apps on several hosts (issue 16): two hosts, each a
 * node:cluster primary with 2 worker processes (test/fixtures/cluster-app.ts,
 * the attach lines of the README), sharing one real redis-server. A worker
 * process's miss goes on to Redis over its own connection, its new sessions
 * reach Redis before their handshake finishes, and a session found there
 * fills the host: clients alternating hosts resume by session ID and by
 * ticket; a flush on one host empties the other host's worker processes'
 * local copies too; a hung Redis costs a lookup its bound, never a stall.
 */
import t from 'tap';
import type { CounterValues } from '../../lib/operations/counters.ts';
import { visitTls } from '../fixtures/clients.ts';
import { freePort } from '../fixtures/process.ts';
import { alternate, handshake } from '../helpers/alternating-clients.ts';
import { removeCertificateFiles, startClusterApp, type ClusterApp } from '../helpers/cluster-app.ts';
import { startRedis } from '../helpers/redis.ts';
import { until } from '../helpers/until.ts';
import { hostsKey, otherCertificateWarning } from '../../lib/redis/fleet-certificates.ts';
import { REDIS_SERVER, requireCommand } from '../helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);
t.teardown(removeCertificateFiles);

const SECRET = 'processes-test-secret-0123456789abcdefghijklmn';

t.test('two hosts of node:cluster worker processes sharing one Redis', async (t) => {
  const redis = await startRedis(t);
  const env = async (): Promise<Record<string, string>> => ({
    WORKERS: '2',
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_REDIS_NAMESPACE: 'apps',
    // Not the 5 ms defaults: 6 processes and the client share this machine's 2 cores with other jobs, and a lookup
    // past its bound is a miss by design (the last subtest); here each one must be answered.
    TLS_CACHE_REDIS_TIMEOUT: '250ms',
    TLS_CACHE_OWNER_TIMEOUT: '250ms',
    TLS_CACHE_METRICS_PORT: String(await freePort()),
    // Every process at debug: the Redis settings, secret included, travel to the workers; none may be logged.
    TLS_CACHE_LOG_LEVEL: 'debug',
  });
  const apps: [ClusterApp, ClusterApp] = await Promise.all([startClusterApp(await env()), startClusterApp(await env())]);
  t.teardown(() => Promise.all(apps.map((app) => app.kill())));
  const ports = apps.map((app) => app.port);
  const counters = async (): Promise<CounterValues[]> =>
    Promise.all(apps.map(async (app) => (await app.ask<{ counters: CounterValues }>('counters')).counters));

  let idSessions: Array<Buffer | undefined> = [];

  await t.test('TLS 1.2 by session ID: alternating hosts resumes >= 99%; each session crosses through Redis once', async (t) => {
    // 40 clients, 5 visits each, half of them starting on each host: 160 resumptions offered, 40 of them a first
    // visit to the other host.
    const ids = await alternate(ports, 'TLSv1.2', Array(40).fill(undefined), 4);
    idSessions = ids.sessions;
    t.equal(ids.offered, 160);
    t.ok(ids.resumed >= 0.99 * ids.offered, `${ids.resumed} of ${ids.offered} resumed`);
    const [a, b] = await counters();
    t.comment(JSON.stringify(['redisLookups', 'redisHits', 'redisTimeouts', 'redisErrors', 'ownerLookups', 'ownerHits', 'localHits']
      .map((name) => `${name} ${a[name as keyof CounterValues] + b[name as keyof CounterValues]}`)));
    t.equal(a.redisHits + b.redisHits, 40,
      "each session was found in Redis once, by the first worker process of the other host to see it; then in the host's table or a local copy");
    t.ok(a.ownerHits + b.ownerHits > 0, "sessions a sibling process found in Redis (or made) were then answered by the primary's table");
    t.equal(a.redisErrors + b.redisErrors + a.redisTimeouts + b.redisTimeouts, 0, 'no Redis lookup failed');
    // One connection per worker process, and the primaries' two each (commands, fleet messages), plus this test's.
    const clients = (await redis.client().client('LIST')) as string;
    t.equal(clients.trim().split('\n').length, 2 * (2 + 2) + 1, 'each worker process has its own Redis connection');
  });

  await t.test("each primary announces its worker processes' certificate to the other host (issue 21); one certificate: no warning", async (t) => {
    await until(async () => Object.keys(await redis.client().hgetall(hostsKey('apps'))).length === 2, 10_000, 100);
    t.pass('both hosts announced a certificate (the worker processes told their primary)');
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    t.notOk(apps.some((app) => app.output().includes(otherCertificateWarning())), 'the same certificate on both: neither warns');
  });

  await t.test('TLS 1.3 by ticket: alternating hosts resumes >= 99%', async (t) => {
    const tickets = await alternate(ports, 'TLSv1.3', Array(20).fill(undefined), 4);
    t.ok(tickets.resumed >= 0.99 * tickets.offered, `${tickets.resumed} of ${tickets.offered} resumed`);
  });

  await t.test("a flush on one host empties the other host's table and its worker processes' local copies", async (t) => {
    const sessions = idSessions.slice(0, 8);
    // Four visits each to host B: both of its worker processes hold the sessions in their local copies.
    let before = 0;
    for (const session of sessions) for (let i = 0; i < 4; i++) if ((await visitTls({ port: ports[1], session, noTicket: true })).reused) before++;
    t.equal(before, 32, 'host B resumes them (from its local copies)');
    await apps[0].ask('flush');
    await until(() => apps[1].output().includes('flushed by another host'), 5000);
    await until(async () => !(await visitTls({ port: ports[1], session: sessions[0], noTicket: true })).reused, 5000);
    let after = 0;
    for (const session of sessions) for (let i = 0; i < 4; i++) if ((await visitTls({ port: ports[1], session, noTicket: true })).reused) after++;
    t.equal(after, 0, 'no earlier session resumes on host B, in either worker process');
  });

  await t.test('no process logs the secret, at debug level', async (t) => {
    for (const app of apps) {
      const output = app.output();
      t.match(output, /attached to the (cache daemon|node:cluster primary)/, 'the worker processes logged their attach');
      t.ok(output.includes('"redis":"standalone"'), 'saying only that there is a Redis, and its mode');
      t.notOk(output.includes(SECRET), 'the secret is in no line');
    }
  });

  await t.test('a hung Redis: a lookup gives up at its bound, a full handshake, never a stall', async (t) => {
    const made = await visitTls({ port: ports[1], noTicket: true });
    redis.pause();
    try {
      const visit = await handshake(ports[0], made.session, 'TLSv1.2');
      t.ok(visit.ok, 'the connection succeeded');
      t.notOk(visit.reused, 'as a full handshake: the session was only in Redis');
      t.ok(visit.ms >= 250 && visit.ms < 1500, `after the Redis bound of 250 ms, not more: ${visit.ms.toFixed(0)} ms`);
    } finally {
      redis.resume();
    }
    const [a] = await counters();
    t.ok(a.redisTimeouts >= 1, 'the timeout was counted');
  });
});
