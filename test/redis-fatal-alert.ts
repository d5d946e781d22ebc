/**
 * Two hosts sharing one real redis-server (issue 17), TLS 1.2 by session
 * ID: a session both hosts hold (host B copied it from Redis when it was
 * first offered there) ends in a fatal alert on host B. Afterwards it gets
 * a full handshake on every worker of both hosts (0 resumed): host B
 * deleted it from its table and from Redis and announced it, and host A
 * deleted its own copy. A session closed cleanly still resumes on both.
 */
import t from 'tap';
import { metric } from './helpers/metric.ts';
import { visitTls } from './fixtures/clients.ts';
import { sessionKey } from '../lib/redis/session-store.ts';
import { secretsOf } from './helpers/session-der.ts';
import { endConnection, offer } from './helpers/alert-clients.ts';
import { corruptingProxy } from './helpers/corrupting-proxy.ts';
import { certificateFiles, startHost, type Host } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { freePort } from './fixtures/process.ts';
import { until } from './helpers/until.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const OFFERS = 12;

t.test('a fatal alert on one host ends the session on both, and in Redis; a clean close does not', async (t) => {
  const redis = await startRedis(t);
  const certificate = await certificateFiles(t);
  const metricsPorts = [await freePort(), await freePort()];
  const env = (metricsPort: number) => ({
    ...certificate,
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: 'fatal-alert-test-secret-0123456789abcdefghijkl',
    TLS_CACHE_REDIS_NAMESPACE: 'alerts',
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_TICKETS: 'off',
    TLS_CACHE_REDIS_TIMEOUT: '1s',
    TLS_CACHE_METRICS_PORT: String(metricsPort),
  });
  const hosts: Host[] = await Promise.all([startHost(t, 'host-a', env(metricsPorts[0])), startHost(t, 'host-b', env(metricsPorts[1]), ['--role', 'second-host'])]);
  const [a, b] = hosts;
  const client = redis.client();
  const visitOn = (host: Host) => async (session: Buffer) => {
    const v = await visitTls({ port: host.port, session, maxVersion: 'TLSv1.2' });
    return { reused: v.reused, servedBy: `${host.name}/${v.served.workerId}` };
  };
  /** A session made on host A and resumed on both hosts, so that both tables hold it. */
  const sharedSession = async (): Promise<Buffer> => {
    const first = await visitTls({ port: a.port, maxVersion: 'TLSv1.2' });
    for (const host of hosts) t.equal((await offer(4, visitOn(host), first.session!)).resumed, 4, `resumed on ${host.name}`);
    return first.session!;
  };

  const doomed = await sharedSession();
  const key = sessionKey('alerts', secretsOf(doomed).sessionId);
  t.equal(await client.exists(key), 1, 'the session is in Redis');
  const proxy = await corruptingProxy(b.port, 'client-data');
  t.teardown(() => proxy.close());
  const bad = await endConnection(proxy.port, doomed, 'corrupted');
  t.ok(bad.reused, 'the corrupted connection had resumed it, on host B');
  t.equal(proxy.corrupted, 1);
  await until(async () => (await metric(metricsPorts[1], 'tls_session_cache_sessions_ended_total')) === 1, 5000);
  await until(async () => (await client.exists(key)) === 0, 5000);
  t.pass('host B counted it, and it is gone from Redis');
  // Host A drops its copy when the announcement arrives: moments later.
  await until(async () => !(await visitTls({ port: a.port, session: doomed, maxVersion: 'TLSv1.2' })).reused, 5000);
  for (const host of hosts) {
    const { resumed, servers } = await offer(OFFERS, visitOn(host), doomed);
    t.equal(resumed, 0, `${host.name}: 0 of ${OFFERS} resumed (${[...servers].sort().join(', ')})`);
  }

  const kept = await sharedSession();
  const clean = await endConnection(b.port, kept, 'clean');
  t.ok(clean.reused);
  for (const host of hosts) t.equal((await offer(OFFERS, visitOn(host), kept)).resumed, OFFERS, `${host.name}: the cleanly closed session still resumes`);
  t.equal(await metric(metricsPorts[0], 'tls_session_cache_redis_rejected_total'), 0, 'no announcement was refused');
});
