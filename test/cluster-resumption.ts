/**
 * Real handshakes against 4 worker threads sharing one port: with the shared
 * table a client resumes (nearly) every time; with a cache per thread it
 * mostly does not, which is the problem this project solves.
 */
import t from 'tap';
import { reconnect, visitHttp2, visitHttps, visitTls } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';

const RECONNECTS = 200;

t.test('tls: the shared table resumes across 4 threads', async (t) => {
  const { cluster } = await startTestCluster('tls');
  t.teardown(() => cluster.stop());
  const { ratio, workers } = await reconnect(visitTls, cluster.port, RECONNECTS);
  t.comment(`shared table: ${(ratio * 100).toFixed(1)}% resumed over ${workers.size} workers`);
  t.equal(workers.size, 4, 'connections landed on every worker');
  t.ok(ratio >= 0.99, `resumed ${(ratio * 100).toFixed(1)}% >= 99%`);
  const stats = cluster.table.stats();
  t.ok(stats.hits >= RECONNECTS * 0.99, 'the table answered the lookups');
  const counters = await cluster.sessionCounters();
  t.ok(counters.lookupHits >= RECONNECTS * 0.99, 'the hooks found the sessions');
  t.equal(counters.skippedTls13, 0, 'no TLS 1.3 session under maxVersion TLSv1.2');
});

t.test('tls: a Map per thread behind the same hooks mostly fails', async (t) => {
  const { cluster } = await startTestCluster('tls', 'per-thread');
  t.teardown(() => cluster.stop());
  const { ratio, workers } = await reconnect(visitTls, cluster.port, RECONNECTS);
  t.comment(`cache per thread: ${(ratio * 100).toFixed(1)}% resumed over ${workers.size} workers`);
  t.equal(workers.size, 4, 'connections landed on every worker');
  t.ok(ratio < 0.9, `resumed ${(ratio * 100).toFixed(1)}% < 90%`);
  t.ok(ratio > 0, 'some connections came back to the thread holding their session');
  t.equal(cluster.table.stats().entries, 0, 'the shared table was not used');
});

t.test('tls: TLS 1.3 sessions are counted as skipped, never stored', async (t) => {
  const { cluster } = await startTestCluster('tls');
  t.teardown(() => cluster.stop());
  const { visits } = await reconnect(visitTls, cluster.port, 30, 'TLSv1.3');
  t.ok(visits.every((v) => v.served.protocol === 'TLSv1.3'), 'every handshake was TLS 1.3');
  const stats = cluster.table.stats();
  t.equal(stats.entries, 0, 'no entry in the table');
  t.equal(stats.inserts, 0, 'nothing was inserted');
  const counters = await cluster.sessionCounters();
  t.ok(counters.skippedTls13 >= 31, `skipped ${counters.skippedTls13} TLS 1.3 sessions (>= one per handshake)`);
  t.equal(counters.stored, 0);
});

t.test('https: the shared table resumes across 4 threads', async (t) => {
  const { cluster } = await startTestCluster('https');
  t.teardown(() => cluster.stop());
  const { ratio, workers } = await reconnect(visitHttps, cluster.port, RECONNECTS);
  t.comment(`https: ${(ratio * 100).toFixed(1)}% resumed over ${workers.size} workers`);
  t.equal(workers.size, 4);
  t.ok(ratio >= 0.99, `resumed ${(ratio * 100).toFixed(1)}% >= 99%`);
});

t.test('http2: the shared table resumes across 4 threads', async (t) => {
  const { cluster } = await startTestCluster('http2');
  t.teardown(() => cluster.stop());
  const { ratio, workers, visits } = await reconnect(visitHttp2, cluster.port, RECONNECTS);
  t.comment(`http2: ${(ratio * 100).toFixed(1)}% resumed over ${workers.size} workers`);
  t.equal(workers.size, 4);
  t.ok(ratio >= 0.99, `resumed ${(ratio * 100).toFixed(1)}% >= 99%`);
  t.ok(visits.slice(1).every((v) => v.served.reused === v.reused), 'server and client agree on resumption');
});
