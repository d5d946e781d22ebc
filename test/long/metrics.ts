/**
 * The metrics endpoint during real runs: 4 worker threads, real handshakes,
 * `/metrics` scraped over HTTP shows each handshake once, totals across
 * threads; `/health` is ready only when every worker listens; no metric
 * carries a session ID, a master key or a ticket key.
 */
import { once } from 'node:events';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { ThreadCluster, WorkerExit, WorkerInfo } from '../../lib/threads/cluster.ts';
import { freePort } from '../../lib/threads/free-port.ts';
import { reconnect, visitTls, type Visit } from '../fixtures/clients.ts';
import { startTestCluster } from '../fixtures/start.ts';
import { secretsOf } from '../helpers/session-der.ts';
import { CAPABILITIES } from '../../lib/tls/known-capabilities.ts';
import { SESSION_AGE_BUCKETS_S } from '../../lib/operations/counters.ts';

interface Answer {
  status: number;
  type: string;
  body: string;
}

function fetchText(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format's samples (no escapes needed: label values are fixed words). */
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').split(',').filter(Boolean)) {
      const [key, value] = pair.split('=');
      labels[key] = JSON.parse(value) as string;
    }
    out.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return out;
}

function value(all: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return all.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Every label a metric may carry, and every value it may take. */
const LABEL_VALUES: Record<string, readonly string[]> = {
  result: ['full', 'resumed', 'hit', 'miss', 'succeeded', 'failed', 'aborted'],
  protocol: ['TLSv1.2', 'TLSv1.3', 'other'],
  method: ['session_id', 'ticket'],
  reason: [
    'expired', 'capacity', 'overflow', 'repair', 'cleared', 'session_id', 'session', 'too_large', 'busy',
    // resumption_misses_total (MISSES)
    'not_found', 'timeout', 'unavailable', 'unreadable', 'error', 'refused', 'unknown_key', 'ticket_expired', 'name_mismatch',
  ],
  capability: CAPABILITIES,
  // resumed_session_age_seconds's buckets: the documented bounds, and +Inf.
  le: [...SESSION_AGE_BUCKETS_S.map(String), '+Inf'],
};

/** How many times a secret appears in the text, in hex (either case) or base64 (standard or URL). */
function leaks(text: string, secrets: Buffer[]): number {
  const lower = text.toLowerCase();
  let found = 0;
  for (const secret of secrets) {
    if (secret.length < 8) continue;
    if (lower.includes(secret.toString('hex'))) found++;
    if (text.includes(secret.toString('base64').replace(/=+$/, ''))) found++;
    if (text.includes(secret.toString('base64url'))) found++;
  }
  return found;
}

function checkNoSecrets(t: Test, text: string, secrets: Buffer[], what: string): void {
  const usable = secrets.filter((s) => s.length >= 8);
  t.ok(usable.length > 0, `${usable.length} ${what} to look for`);
  t.ok(leaks(`x{id="${usable[0].toString('hex').toUpperCase()}"}`, usable) > 0, 'the scan finds a planted one (control)');
  t.equal(leaks(text, usable), 0, `none of ${usable.length} ${what} appears in the metrics`);
}

function checkNamesAndLabels(t: Test, all: Sample[]): void {
  const bad = all.filter(
    (s) =>
      !s.name.startsWith('tls_session_cache_') ||
      Object.entries(s.labels).some(([k, v]) => !LABEL_VALUES[k]?.includes(v)),
  );
  t.same(bad, [], 'every name is prefixed and every label value is from a fixed set');
}

async function metricsCluster(tickets: boolean): Promise<ThreadCluster> {
  const metricsPort = await freePort('127.0.0.1');
  const { cluster } = await startTestCluster(
    'tls',
    'shared',
    { metricsPort, tickets: tickets ? 'on' : 'off', restartDelay: 300 },
    { tickets },
  );
  return cluster;
}

const RECONNECTS = 60;

t.test('TLS 1.2 by session ID: each handshake counted once, across 4 threads', async (t) => {
  const cluster = await metricsCluster(false);
  t.teardown(() => cluster.stop());
  t.equal(typeof cluster.metricsPort, 'number', 'the endpoint listens');
  const run = await reconnect(visitTls, cluster.port, RECONNECTS);
  t.equal(run.workers.size, 4, 'connections landed on every worker');
  const resumed = run.visits.filter((v) => v.reused).length;
  const handshakes = run.visits.length;

  const scraped = await fetchText(cluster.metricsPort!, '/metrics');
  t.equal(scraped.status, 200);
  t.match(scraped.type, /^text\/plain/);
  const all = samples(scraped.body);
  const total = all.filter((s) => s.name === 'tls_session_cache_handshakes_total').reduce((a, s) => a + s.value, 0);
  t.equal(total, handshakes, `${handshakes} handshakes, each counted once`);
  t.equal(value(all, 'tls_session_cache_handshakes_total', { result: 'resumed', protocol: 'TLSv1.2' }), resumed, `${resumed} resumed`);
  t.equal(value(all, 'tls_session_cache_handshakes_total', { result: 'full', protocol: 'TLSv1.2' }), handshakes - resumed);
  t.equal(value(all, 'tls_session_cache_resumption_lookups_total', { method: 'session_id', result: 'hit' }), resumed,
    'session ID hits = resumed handshakes');
  t.equal(value(all, 'tls_session_cache_resumption_lookups_total', { method: 'ticket', result: 'hit' }), 0, 'no ticket with tickets off');
  t.equal(value(all, 'tls_session_cache_entries'), cluster.table.stats().entries, 'entries match the table');
  t.equal(value(all, 'tls_session_cache_sessions_stored_total'), handshakes - resumed, 'one session stored per full handshake');
  t.equal(value(all, 'tls_session_cache_ticket_keys'), 0);
  t.equal(value(all, 'tls_session_cache_workers_listening'), 4);
  t.equal(value(all, 'tls_session_cache_worker_restarts_total'), 0);
  t.equal(await cluster.metrics().then((text) => samples(text).length), all.length, 'cluster.metrics() gives the same samples');
  checkNamesAndLabels(t, all);
  const secrets = run.visits.flatMap((v: Visit) => (v.session ? Object.values(secretsOf(v.session)) : []));
  t.ok(secrets.length >= handshakes, 'collected the session IDs and master keys');
  checkNoSecrets(t, scraped.body, secrets, 'session IDs and master keys');

  const health = await fetchText(cluster.metricsPort!, '/health');
  t.same([health.status, health.body], [200, 'ready\n'], 'ready with every worker listening');
  t.equal((await fetchText(cluster.metricsPort!, '/nope')).status, 404);
});

t.test('TLS 1.3 by ticket: resumed by ticket, keys counted, never shown', async (t) => {
  const cluster = await metricsCluster(true);
  t.teardown(() => cluster.stop());
  const run = await reconnect(visitTls, cluster.port, RECONNECTS, 'TLSv1.3');
  const resumed = run.visits.filter((v) => v.reused).length;
  t.ok(resumed >= RECONNECTS * 0.95, `${resumed} of ${RECONNECTS} resumed`);
  const scraped = await fetchText(cluster.metricsPort!, '/metrics');
  const all = samples(scraped.body);
  t.equal(value(all, 'tls_session_cache_handshakes_total', { result: 'resumed', protocol: 'TLSv1.3' }), resumed);
  t.equal(value(all, 'tls_session_cache_handshakes_total', { result: 'full', protocol: 'TLSv1.3' }), run.visits.length - resumed);
  t.ok(value(all, 'tls_session_cache_resumption_lookups_total', { method: 'ticket', result: 'hit' })! >= resumed, 'ticket hits');
  t.ok(value(all, 'tls_session_cache_tickets_issued_total')! >= run.visits.length - resumed, 'tickets issued');
  t.equal(value(all, 'tls_session_cache_tickets_renewed_total'), resumed, 'every TLS 1.3 resumption renewed');
  t.equal(value(all, 'tls_session_cache_tickets_expired_total'), 0);
  t.equal(value(all, 'tls_session_cache_ticket_renewal_off_total'), 0);
  t.equal(value(all, 'tls_session_cache_sessions_ended_total'), 0);
  t.equal(value(all, 'tls_session_cache_tls13_sessions_skipped_total'), (await cluster.sessionCounters()).skippedTls13);
  t.equal(value(all, 'tls_session_cache_ticket_keys'), 1);
  const age = value(all, 'tls_session_cache_ticket_key_age_seconds')!;
  t.ok(age >= 0 && age < 60, `key age ${age} s`);
  t.ok(cluster.rotateTicketKeys());
  const after = samples(await cluster.metrics());
  t.equal(value(after, 'tls_session_cache_ticket_key_rotations_total'), 1, 'a rotation is counted');
  t.equal(value(after, 'tls_session_cache_ticket_keys'), 2, 'the previous key still decrypts');
  checkNamesAndLabels(t, all);
  const keyBytes = cluster.ticketKeys!.currentKeyBytes()!;
  const keys = [keyBytes, keyBytes.subarray(0, 16), keyBytes.subarray(16, 32), keyBytes.subarray(32, 48)];
  const tickets = run.visits.flatMap((v) => (v.session ? [v.session] : []));
  checkNoSecrets(t, scraped.body + (await cluster.metrics()), [...keys, ...tickets], 'ticket keys and sessions');
});

t.test('/health is 503 while a worker is down, ready again once it is back', async (t) => {
  const cluster = await metricsCluster(false);
  t.teardown(() => cluster.stop());
  const exited = once(cluster, 'workerExit') as Promise<[WorkerExit]>;
  for (let attempt = 0; attempt < 200; attempt++) {
    const visit = await visitTls({ port: cluster.port, reply: (served) => (served.workerId === 1 ? 'crash' : undefined) });
    if (visit.served.workerId === 1) break;
  }
  await exited;
  const down = await fetchText(cluster.metricsPort!, '/health');
  t.equal(down.status, 503, 'not ready with a worker down');
  t.same(JSON.parse(down.body), { ready: false, listening: 3, workers: 4 });
  const [back] = (await once(cluster, 'workerListening')) as [WorkerInfo];
  t.equal(back.workerId, 1);
  const up = await fetchText(cluster.metricsPort!, '/health');
  t.same([up.status, up.body], [200, 'ready\n'], 'ready again');
  t.equal(value(samples(await cluster.metrics()), 'tls_session_cache_worker_restarts_total'), 1, 'the restart is counted');
});

t.test('the metrics endpoint is off by default', async (t) => {
  const { cluster } = await startTestCluster('tls', 'shared', { workers: 1 });
  t.teardown(() => cluster.stop());
  t.equal(cluster.metricsPort, undefined);
  t.match(await cluster.metrics(), /tls_session_cache_handshakes_total/, 'metrics are still available from code');
});

t.test('a metrics port that is taken stops the start, with a code', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen({ port: 0, host: '127.0.0.1' }, resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  await t.rejects(startTestCluster('tls', 'shared', { workers: 1, metricsPort: port }), {
    code: 'ERR_TLS_CACHE_METRICS_LISTEN',
    message: new RegExp(`127\\.0\\.0\\.1 port ${port} \\(EADDRINUSE\\)`),
  });
});

t.test('the summary line: resumption ratio, handshakes, entries, evictions at info', async (t) => {
  const { cluster, logs } = await startTestCluster('tls', 'shared', { workers: 2, summaryInterval: 300 });
  t.teardown(() => cluster.stop());
  const run = await reconnect(visitTls, cluster.port, 9);
  const resumed = run.visits.filter((v) => v.reused).length;
  const summary = (): Array<Record<string, unknown>> => logs.filter((l) => l.msg === 'summary');
  while (summary().length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  // The first line may have come before the run ended: add the lines up.
  while (summary().reduce((a, l) => a + Number(l.handshakes), 0) < 10) await new Promise((resolve) => setTimeout(resolve, 50));
  const lines = summary();
  t.equal(lines[0].level, 30, 'at info');
  t.equal(lines.reduce((a, l) => a + Number(l.resumed), 0), resumed, 'resumed handshakes add up');
  const last = lines.at(-1)!;
  t.equal(last.entries, cluster.table.stats().entries);
  t.equal(last.evictions, 0);
  t.ok(typeof last.resumptionRatio === 'number' && last.resumptionRatio >= 0 && last.resumptionRatio <= 1, 'a ratio');
  t.equal(lines.reduce((a, l) => a + Number(l.handshakes), 0), 10, 'handshakes add up, each once');
});
