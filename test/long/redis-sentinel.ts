/**
 * Redis behind Sentinel (a master, its replica, one sentinel), the master
 * SIGKILLed under load: two hosts (two processes, each the cluster runtime
 * with two worker threads) in `TLS_CACHE_REDIS_MODE=sentinel`, given the
 * sentinel's URL, keep serving every connection while the sentinel promotes
 * the replica (full handshakes where Redis was needed, none waiting past
 * its bound), follow the promotion by themselves, and resume across hosts
 * again, by session ID and by ticket; one outage line and one recovery line
 * per host.
 */
import t from 'tap';
import { certificateFiles, startHost, type Host } from '../helpers/redis-hosts.ts';
import { loadClients, resumedRatio, type Handshake } from '../helpers/alternating-clients.ts';
import { keysOn, testRedisSentinel } from '../helpers/redis-topologies.ts';
import { REDIS_CLI, REDIS_SENTINEL, REDIS_SERVER, requireCommand } from '../helpers/requirements.ts';

requireCommand(t, REDIS_SERVER, REDIS_CLI, REDIS_SENTINEL);

const SECRET = 'sentinel-test-secret-0123456789abcdefghijklmno';

t.test('Sentinel: the master killed under load, no failed connection, resumption back once the replica is promoted', async (t) => {
  const sentinel = await testRedisSentinel(t);
  const certificate = await certificateFiles(t);
  const env = {
    ...certificate,
    TLS_CACHE_REDIS_URL: sentinel.url,
    TLS_CACHE_REDIS_MODE: 'sentinel',
    TLS_CACHE_REDIS_SENTINEL_NAME: sentinel.name,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_LOG_LEVEL: 'info',
    TLS_CACHE_TICKETS: 'on',
    TICKETS: '1',
    // As in redis-outage.ts: 8 clients and 2 hosts saturate this machine's 2 shared cores; the bound still holds.
    TLS_CACHE_REDIS_TIMEOUT: '50ms',
  };
  const hosts: [Host, Host] = await Promise.all([startHost(t, 'host-a', env), startHost(t, 'host-b', env, ['--second'])]);
  for (const host of hosts) t.equal(host.logs.filter((l) => l.msg === 'redis connected').length, 1, `${host.name}: "redis connected" once`);

  const load = loadClients(hosts.map((h) => h.port), 8);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  await sleep(2000);
  const killedAt = Date.now();
  const switchMs = await sentinel.killMaster();
  const promotedAt = Date.now();
  await sleep(3000);
  await load.stop();
  const { results } = load;
  t.comment(`master SIGKILLed; the sentinel named the replica ${switchMs} ms later`);

  const failed = results.filter((r) => !r.ok);
  t.equal(failed.length, 0, `every one of ${results.length} connections succeeded${failed.length ? `: ${failed[0].error}` : ''}`);
  const slowest = Math.max(...results.map((r) => r.ms));
  t.ok(slowest < 1000, `no handshake waited on Redis: the slowest took ${slowest.toFixed(0)} ms`);
  const window = (from: number, to: number): Handshake[] => results.filter((r) => r.at >= from && r.at < to);
  const before = window(0, killedAt);
  const gap = window(killedAt, promotedAt);
  const promoted = window(promotedAt, Infinity);
  const settled = window(promotedAt + 1000, Infinity);
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const of = (rs: Handshake[]) => rs.filter((r) => r.version === version);
    t.comment(
      `${version}: resumed before ${(resumedRatio(of(before)) * 100).toFixed(1)}% (${of(before).length}), ` +
        `until the promotion ${(resumedRatio(of(gap)) * 100).toFixed(1)}% (${of(gap).length}), ` +
        `from the promotion ${(resumedRatio(of(promoted)) * 100).toFixed(1)}% (${of(promoted).length}), ` +
        `from 1 s after it ${(resumedRatio(of(settled)) * 100).toFixed(1)}% (${of(settled).length})`,
    );
    t.ok(of(gap).length > 10, `${version}: handshakes went on while the master was gone`);
    t.ok(resumedRatio(of(promoted)) >= 0.97, `${version}: at least 97% resumed across hosts once the replica was promoted`);
    t.ok(resumedRatio(of(settled)) >= 0.99, `${version}: at least 99% from 1 s after the promotion`);
  }
  t.ok((await keysOn(sentinel.replica.port, '*:s:*')).length > 0, 'sessions are written to the promoted replica');

  for (const host of hosts) {
    const down = host.logs.filter((l) => String(l.msg).startsWith('redis unavailable'));
    const back = host.logs.filter((l) => l.msg === 'redis reconnected');
    t.comment(`${host.name}: down ${JSON.stringify(down.map((l) => l.reason))}, back after ${back.map((l) => l.outageMs).join(', ')} ms`);
    t.equal(down.length, 1, `${host.name}: one "redis unavailable" line`);
    t.equal(back.length, 1, `${host.name}: one "redis reconnected" line`);
  }
});
