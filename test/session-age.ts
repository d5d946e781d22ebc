/**
 * How old a session is when it comes back (issue 32):
 * `tls_session_cache_resumed_session_age_seconds{method}`, a histogram of
 * each resumed session's age since its full handshake, by session ID and by
 * ticket, summed across worker threads from the shared counters. Real
 * handshakes on the thread runtime: sessions made, then offered back at
 * once and after two seconds; every resumption counted once, in the bucket
 * of its age, and nothing counted for a full handshake. The buckets
 * themselves with ages a test cannot wait for (minutes to days), through
 * the same counters and the same exposition.
 */
import t from 'tap';
import { SESSION_AGE_BUCKETS_S, SharedCounters } from '../lib/operations/counters.ts';
import { createMetrics } from '../lib/operations/metrics.ts';
import { sessionAgeQuantile } from '../lib/runtime/owner-status.ts';
import { SessionTable } from '../lib/table/session-table.ts';
import { visitTls } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';

const NAME = 'tls_session_cache_resumed_session_age_seconds';

/** The histogram's samples in a Prometheus text exposition: `bucket|sum|count`, method, le (buckets only) -> value. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const match of text.matchAll(new RegExp(`^${NAME}_(bucket|sum|count)\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const labels = Object.fromEntries([...match[2].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    found.set(`${match[1]}|${labels.method}${labels.le === undefined ? '' : `|${labels.le}`}`, Number(match[3]));
  }
  return found;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

t.test('every resumption counted once, by method, in the bucket of its age; full handshakes not at all', async (t) => {
  const { cluster } = await startTestCluster('tls', 'shared', { workers: 2 }, { tickets: true });
  t.teardown(() => cluster.stop());
  const port = cluster.port!;
  const before = samples(await cluster.metrics());
  t.equal(before.get('count|session_id'), 0, 'none counted at start (session_id)');
  t.equal(before.get('count|ticket'), 0, 'none counted at start (ticket)');

  const kinds = [
    { method: 'session_id', options: { maxVersion: 'TLSv1.2', noTicket: true } },
    { method: 'ticket', options: { maxVersion: 'TLSv1.3' } },
  ] as const;
  const made = new Map<string, Buffer[]>();
  for (const { method, options } of kinds) {
    const sessions: Buffer[] = [];
    for (let i = 0; i < 6; i++) sessions.push((await visitTls({ port, ...options })).session!);
    made.set(method, sessions);
  }
  // Three of each at once (age under 5 s), three after two seconds (still under 5 s, and the sum shows it).
  let resumed = 0;
  for (const { method, options } of kinds) {
    for (const session of made.get(method)!.slice(0, 3)) if ((await visitTls({ port, ...options, session })).reused) resumed++;
  }
  await sleep(2100);
  for (const { method, options } of kinds) {
    for (const session of made.get(method)!.slice(3)) if ((await visitTls({ port, ...options, session })).reused) resumed++;
  }
  t.equal(resumed, 12, 'all 12 resumed');
  const after = samples(await cluster.metrics());
  for (const { method } of kinds) {
    t.equal(after.get(`count|${method}`), 6, `${method}: 6 counted (6 full handshakes not)`);
    t.equal(after.get(`bucket|${method}|5`), 6, `${method}: all 6 in le="5"`);
    t.equal(after.get(`bucket|${method}|+Inf`), 6, `${method}: le="+Inf" is the count`);
    const sum = after.get(`sum|${method}`)!;
    // Three about 2 s old (whole seconds for a session ID: OpenSSL's time), three about 0 s.
    t.ok(sum >= 3 * 1 && sum <= 3 * 4 + 3 * 1.5, `${method}: sum ${sum} s, three sessions about 2 s old and three about 0`);
  }
});

t.test('the buckets: ages from seconds to past a day, cumulative as Prometheus reads them', async (t) => {
  const counters = SharedCounters.create();
  const table = SessionTable.create({ size: 1 << 20, timeout: 300 });
  t.teardown(() => table.close());
  const ages = [0, 5, 5.001, 61, 299, 3600, 86400, 90000];
  for (const seconds of ages) counters.countSessionAge('ticket', seconds * 1000);
  counters.countSessionAge('session_id', 42_000);
  const text = await createMetrics({ table, counters, ticketKeys: undefined }).metrics();
  const found = samples(text);
  t.match(text, new RegExp(`# TYPE ${NAME} histogram`), 'a histogram');
  const expected: Record<string, number> = { 5: 2, 15: 3, 30: 3, 60: 3, 120: 4, 300: 5, 600: 5, 1800: 5, 3600: 6, 7200: 6, 21600: 6, 86400: 7 };
  t.same(Object.keys(expected).map(Number), [...SESSION_AGE_BUCKETS_S], 'the buckets documented');
  for (const [le, count] of Object.entries(expected)) t.equal(found.get(`bucket|ticket|${le}`), count, `ticket le="${le}": ${count}`);
  t.equal(found.get('bucket|ticket|+Inf'), ages.length, 'le="+Inf": every one, a day and more included');
  t.equal(found.get('count|ticket'), ages.length);
  t.equal(found.get('sum|ticket'), ages.reduce((a, b) => a + b, 0), 'sum in seconds');
  t.equal(found.get('bucket|session_id|60'), 1, 'session_id counted apart');
  t.equal(found.get('bucket|session_id|30'), 0);
});

t.test("the median and 99th percentile that status prints, read from the buckets as Prometheus's histogram_quantile does", async (t) => {
  const none = new Array(13).fill(0);
  t.equal(sessionAgeQuantile(none, 0.5), null, 'none counted: none');
  // 10 sessions: 4 in (0, 5], 4 in (60, 120], 2 in (300, 600].
  const ages = [4, 0, 0, 0, 4, 0, 2, 0, 0, 0, 0, 0, 0];
  t.equal(sessionAgeQuantile(ages, 0.5), 60 + 60 * (1 / 4), 'median: the 5th of 10, a quarter into (60, 120]');
  t.equal(sessionAgeQuantile(ages, 0.99), 300 + 300 * (1.9 / 2), 'p99: 9.9 of 10, in (300, 600]');
  t.equal(sessionAgeQuantile([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3], 0.5), 86400, 'past the last bound: the last bound');
});
