/**
 * Redis hung (SIGSTOP), then killed in the middle of load, then restarted
 * empty: two hosts (two
 * processes, two worker threads each) keep serving every connection (full
 * handshakes where Redis was needed), no handshake waits on Redis, the
 * outage is logged once per host, and resumption across hosts comes back,
 * by session ID (TLS 1.2 clients without tickets) and by ticket (TLS 1.3).
 */
import t from 'tap';
import type { SecureVersion } from 'node:tls';
import { freePort } from '../fixtures/process.ts';
import { certificateFiles, startHost, type Host } from '../helpers/redis-hosts.ts';
import { startRedis } from '../helpers/redis.ts';
import { handshake, type Handshake } from '../helpers/alternating-clients.ts';
import { REDIS_SERVER, requireCommand } from '../helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'outage-test-secret-0123456789abcdefghijklmnopq';

t.test('Redis hung, then SIGKILLed under load, then restarted: no failed connection, bounded handshakes, one outage line, resumption recovers', async (t) => {
  const redis = await startRedis(t);
  const certificate = await certificateFiles(t);
  const env = {
    ...certificate,
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_LOG_LEVEL: 'info',
    TLS_CACHE_TICKETS: 'on',
    TICKETS: '1',
    // Not the 5 ms default: 8 clients and 2 hosts saturate 2 cores shared with other jobs, and a lookup whose reply
    // waits behind other handshakes is a miss by design; this test is about the outage (redis-sessions.ts tests the bound).
    TLS_CACHE_REDIS_TIMEOUT: '50ms',
  };
  const metricsPorts = [await freePort(), await freePort()];
  const hosts: [Host, Host] = await Promise.all([
    startHost(t, 'host-a', { ...env, TLS_CACHE_METRICS_PORT: String(metricsPorts[0]) }),
    startHost(t, 'host-b', { ...env, TLS_CACHE_METRICS_PORT: String(metricsPorts[1]) }, ['--second']),
  ]);
  const redisCounters = async (): Promise<Record<string, number>> => {
    const totals: Record<string, number> = {};
    for (const port of metricsPorts) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const [, name, value] of text.matchAll(/^tls_session_cache_redis_(\w+)_total (\d+)$/gm)) totals[name] = (totals[name] ?? 0) + Number(value);
    }
    return totals;
  };

  const results: Handshake[] = [];
  let running = true;
  const loop = async (client: number): Promise<void> => {
    const version: SecureVersion = client % 2 === 0 ? 'TLSv1.2' : 'TLSv1.3';
    let session: Buffer | undefined;
    for (let i = client; running; i++) {
      // Every fourth visit starts afresh: a new session must cross hosts through Redis (or, for TLS 1.3, the shared keys).
      if (i % 4 === 0) session = undefined;
      const { session: next, ...result } = await handshake(hosts[i % 2].port, session, version);
      results.push(result);
      session = result.ok ? next : undefined;
    }
  };
  const clients = Array.from({ length: 8 }, (_, client) => loop(client));
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  const startedAt = Date.now();
  await sleep(3000);
  const beforeOutage = await redisCounters();
  // A hung Redis first (SIGSTOP: connections stay open, nothing answers), then a dead one.
  const pausedAt = Date.now();
  redis.pause();
  await sleep(1500);
  redis.resume();
  const resumedAt = Date.now();
  await sleep(1500);
  const killedAt = Date.now();
  await redis.kill();
  await sleep(2500);
  await redis.restart();
  const restartedAt = Date.now();
  await sleep(4000);
  running = false;
  await Promise.all(clients);

  t.comment(`Redis counters of both hosts before the outage: ${JSON.stringify(beforeOutage)}; at the end: ${JSON.stringify(await redisCounters())}`);
  const failed = results.filter((r) => !r.ok);
  t.equal(failed.length, 0, `every one of ${results.length} connections succeeded${failed.length ? `: ${failed[0].error}` : ''}`);
  const slowest = Math.max(...results.map((r) => r.ms));
  t.ok(slowest < 1000, `no handshake waited on Redis: the slowest took ${slowest.toFixed(0)} ms (bound asserted: 1 s)`);

  // 97% and 95%, not 99%: on 2 saturated cores some lookups still pass even 50 ms (counted; the sequential test asserts 99%).
  const ratio = (rs: Handshake[]) => rs.filter((r) => r.reused).length / Math.max(1, rs.filter((r) => r.offered).length);
  // The first second warms up (connections to Redis, JIT); the rest until the kill is "before".
  const before = results.filter((r) => r.at >= startedAt + 1000 && r.at < pausedAt);
  const hung = results.filter((r) => r.at >= pausedAt && r.at < resumedAt);
  const slowestHung = Math.max(...hung.map((r) => r.ms));
  t.ok(hung.length > 50 && slowestHung < 1000, `while Redis hung, ${hung.length} handshakes went on, the slowest in ${slowestHung.toFixed(0)} ms`);
  const during = results.filter((r) => r.at >= killedAt && r.at < restartedAt);
  const after = results.filter((r) => r.at >= restartedAt + 1500);
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const of = (rs: Handshake[]) => rs.filter((r) => r.version === version);
    t.comment(
      `${version}: resumed before ${(ratio(of(before)) * 100).toFixed(1)}% (${of(before).length}), while Redis hung ${(ratio(of(hung)) * 100).toFixed(1)}% (${of(hung).length}), during the outage ${(ratio(of(during)) * 100).toFixed(1)}% (${of(during).length}), from 1.5 s after the restart ${(ratio(of(after)) * 100).toFixed(1)}% (${of(after).length})`,
    );
    t.ok(ratio(of(before)) >= 0.97, `${version}: resumed across hosts before the outage`);
    t.ok(of(during).length > 20, `${version}: handshakes went on during the outage`);
    t.ok(ratio(of(after)) >= 0.95, `${version}: resumption across hosts recovered after the restart (from about 1% during the outage)`);
  }

  for (const host of hosts) {
    const down = host.logs.filter((l) => String(l.msg).startsWith('redis unavailable'));
    const back = host.logs.filter((l) => l.msg === 'redis reconnected');
    t.equal(down.length, 1, `${host.name}: one "redis unavailable" line for the outage`);
    t.equal(back.length, 1, `${host.name}: one "redis reconnected" line`);
    const warnings = host.logs.filter((l) => Number(l.level) >= 40);
    t.ok(warnings.length <= 4, `${host.name}: ${warnings.length} warnings in all, not one per handshake`);
  }
});
