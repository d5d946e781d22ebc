/**
 * `node:cluster` apps on two hosts sharing one real redis-server (issues 16
 * and 17), TLS 1.2 by session ID: a session every worker process of both
 * hosts resumed (so each holds a local copy, and both primaries' tables
 * hold it) ends in a fatal alert on host B. Afterwards it gets a full
 * handshake on every process of both hosts (0 resumed): host B's process
 * told its primary (which had its other processes drop their copies) and
 * Redis, whose announcement made host A's primary drop its copy and tell
 * its processes. A session closed cleanly still resumes everywhere.
 */
import t from 'tap';
import type { CounterValues } from '../lib/operations/counters.ts';
import { endConnection, offer } from './helpers/alert-clients.ts';
import { removeCertificateFiles, startClusterApp, type ClusterApp } from './helpers/cluster-app.ts';
import { corruptingProxy } from './helpers/corrupting-proxy.ts';
import { startRedis } from './helpers/redis.ts';
import { until } from './helpers/until.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);
t.teardown(removeCertificateFiles);

const OFFERS = 12;

t.test('a fatal alert on one host ends the session in every process of both hosts; a clean close does not', async (t) => {
  const redis = await startRedis(t);
  const env = {
    WORKERS: '2',
    FIXTURE_NO_TICKETS: '1',
    FIXTURE_WAIT_FOR_CLIENT: '1',
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: 'processes-alert-secret-0123456789abcdefghijkl',
    TLS_CACHE_REDIS_NAMESPACE: 'alerts',
    TLS_CACHE_REDIS_TIMEOUT: '250ms',
    TLS_CACHE_OWNER_TIMEOUT: '250ms',
  };
  const apps: [ClusterApp, ClusterApp] = await Promise.all([startClusterApp(env), startClusterApp(env)]);
  t.teardown(() => Promise.all(apps.map((app) => app.kill())));
  const [a, b] = apps;
  const visitOn = (app: ClusterApp) => async (session: Buffer) => {
    const ended = await endConnection(app.port, session, 'clean');
    return { reused: ended.reused, servedBy: (JSON.parse(ended.greeting!) as { pid: number }).pid };
  };
  /** A session made on host A, then resumed on every process of both hosts. */
  const everywhere = async (): Promise<Buffer> => {
    const first = await endConnection(a.port, undefined, 'clean');
    for (const app of apps) {
      const { resumed, servers } = await offer(OFFERS, visitOn(app), first.session!);
      t.equal(resumed, OFFERS, `resumed on every process of ${app === a ? 'host A' : 'host B'} (${servers.size})`);
    }
    return first.session!;
  };

  const doomed = await everywhere();
  const proxy = await corruptingProxy(b.port, 'client-data');
  t.teardown(() => proxy.close());
  const bad = await endConnection(proxy.port, doomed, 'corrupted');
  t.ok(bad.reused, 'the corrupted connection had resumed it, on host B');
  t.equal(proxy.corrupted, 1);
  // Host A hears of it through Redis: moments later.
  await until(async () => !(await endConnection(a.port, doomed, 'clean')).reused, 5000);
  for (const app of apps) {
    const { resumed, servers } = await offer(OFFERS, visitOn(app), doomed);
    t.equal(resumed, 0, `0 of ${OFFERS} resumed on ${app === a ? 'host A' : 'host B'} (${servers.size} processes)`);
  }
  const ended = (await b.ask<{ counters: CounterValues }>('counters')).counters;
  t.equal(ended.endedByAlert, 1, 'host B counted it once');

  const kept = await everywhere();
  t.ok((await endConnection(b.port, kept, 'clean')).reused);
  for (const app of apps) t.equal((await offer(OFFERS, visitOn(app), kept)).resumed, OFFERS, 'a cleanly closed session still resumes');
  const rejected = await Promise.all(apps.map(async (app) => (await app.ask<{ counters: CounterValues }>('counters')).counters.redisRejected));
  t.same(rejected, [0, 0], 'no announcement was refused');
});
