/** The shared counter block: named totals across threads, past 2^32. */
import { once } from 'node:events';
import { threadId, Worker } from 'node:worker_threads';
import t from 'tap';
import { COUNTER_NAMES, MAX_COUNTERS, SharedCounters } from '../lib/operations/counters.ts';
import { createMetrics } from '../lib/operations/metrics.ts';
import { SessionTable } from '../lib/table/session-table.ts';

t.test('counts, sums and views', async (t) => {
  const counters = SharedCounters.create();
  t.same(Object.values(counters.values()), COUNTER_NAMES.map(() => 0), 'every counter starts at zero');
  counters.add('stored');
  counters.add('stored', 4);
  counters.add('workerRestarts', 0);
  t.equal(counters.get('stored'), 5);
  t.equal(counters.get('workerRestarts'), 0);
  counters.countHandshake(false, 'TLSv1.2');
  counters.countHandshake(true, 'TLSv1.3');
  counters.countHandshake(true, 'TLSv1');
  counters.countHandshake(false, null);
  const v = counters.values();
  t.same([v.fullTls12, v.resumedTls13, v.resumedOther, v.fullOther, v.fullTls13, v.resumedTls12], [1, 1, 1, 1, 0, 0]);
  t.same(counters.sessionHookCounters(), { stored: 5, skippedTls13: 0, refused: 0, lookupHits: 0, missed: 0, endedByAlert: 0 });
  t.same(counters.ticketCounters(), { issued: 0, decrypted: 0, unknownKey: 0, failures: 0, keyUpdates: 0, renewed: 0, expired: 0, renewalOff: 0 });
});

t.test('every counter fits a stripe, and the last one counts apart from the others', async (t) => {
  t.ok(COUNTER_NAMES.length <= MAX_COUNTERS, `${COUNTER_NAMES.length} counters, a stripe holds ${MAX_COUNTERS}`);
  t.equal(new Set(COUNTER_NAMES).size, COUNTER_NAMES.length, 'no name twice');
  const counters = SharedCounters.create();
  const last = COUNTER_NAMES[COUNTER_NAMES.length - 1];
  counters.add(last, 7);
  t.same(Object.entries(counters.values()).filter(([, v]) => v !== 0), [[last, 7]]);
});

t.test('a mirror reads as local counts and adds to the block', async (t) => {
  const counters = SharedCounters.create();
  const a = counters.mirror(['issued', 'decrypted']);
  const b = counters.mirror(['issued']);
  a.issued++;
  a.issued += 2;
  b.issued++;
  a.decrypted++;
  t.same({ ...a }, { issued: 3, decrypted: 1 }, 'a reads its own counts');
  t.same({ ...b }, { issued: 1 });
  t.equal(counters.get('issued'), 4, 'the block holds both');
  t.equal(counters.ticketCounters().decrypted, 1);
});

t.test('counts pass 2^32', async (t) => {
  const counters = SharedCounters.create();
  counters.add('missed', 0xffffffff);
  counters.add('missed', 2);
  t.equal(counters.get('missed'), 2 ** 32 + 1);
  for (let i = 0; i < 3; i++) counters.add('missed', 0xffffffff);
  t.equal(counters.get('missed'), 2 ** 32 + 1 + 3 * 0xffffffff);
});

t.test('open checks the buffer', async (t) => {
  const counters = SharedCounters.create();
  const other = SharedCounters.open(counters.buffer);
  other.add('refused', 3);
  t.equal(counters.get('refused'), 3, 'both views share memory');
  t.throws(() => SharedCounters.open(new SharedArrayBuffer(16)), { code: 'ERR_TLS_CACHE_INVALID_COUNTER_BUFFER' });
  t.throws(() => SharedCounters.open(new SharedArrayBuffer(counters.buffer.byteLength)), {
    code: 'ERR_TLS_CACHE_INVALID_COUNTER_BUFFER',
  });
  t.throws(() => SharedCounters.open({} as SharedArrayBuffer), { code: 'ERR_TLS_CACHE_INVALID_COUNTER_BUFFER' });
});

t.test('threads adding at once lose nothing', async (t) => {
  const counters = SharedCounters.create();
  const THREADS = 6;
  const TIMES = 50_000;
  const workers = Array.from(
    { length: THREADS },
    () => new Worker(new URL('./fixtures/counter-adder.ts', import.meta.url), { workerData: { buffer: counters.buffer, times: TIMES }, execArgv: [] }),
  );
  // Two of them share a stripe with each other or with this thread only if their threadIds collide modulo 64: fine either way.
  t.ok(workers.every((w) => w.threadId !== threadId));
  await Promise.all(workers.map((w) => once(w, 'message')));
  await Promise.all(workers.map((w) => w.terminate()));
  const v = counters.values();
  t.equal(v.stored, THREADS * TIMES, 'every add counted');
  t.equal(v.lookupHits, THREADS * TIMES, 'every mirrored increment counted');
  t.equal(v.fullTls12 + v.fullTls13 + v.resumedTls12 + v.resumedTls13, THREADS * TIMES, 'every handshake counted once');
  t.equal(v.resumedTls13, THREADS * (TIMES / 4), 'by protocol');
});

t.test("the counters' old names (ipc*, resumed) read and add the new ones, warning once with TLS_CACHE_DEP007; the old metric names show the same values", async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const counters = SharedCounters.create();
  counters.add('ownerLookups', 3);
  counters.add('ipcHits', 2);
  t.equal(counters.get('ipcLookups'), 3, 'ipcLookups is ownerLookups');
  t.equal(counters.get('ownerHits'), 2, 'ipcHits is ownerHits');
  for (const [old, now] of [['ipcTimeouts', 'ownerTimeouts'], ['ipcMalformed', 'ownerMalformed'], ['ipcSkipped', 'ownerSkipped']] as const) {
    counters.add(now, 1);
    t.equal(counters.get(old), 1, `${old} is ${now}`);
  }
  counters.add('lookupHits', 4);
  t.equal(counters.get('resumed'), 4, 'resumed is lookupHits');
  counters.add('resumed');
  t.equal(counters.get('lookupHits'), 5);
  t.equal(counters.sessionHookCounters().resumed, 5, 'and so reads the summed hook counters');
  t.notOk('ipcLookups' in counters.values(), 'values() has the new names only');
  t.notOk('resumed' in counters.values());
  await new Promise((resolve) => setImmediate(resolve));
  t.same(
    warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => [(w as { code?: string }).code, w.message]),
    [['TLS_CACHE_DEP007', 'the counter name ipcHits is deprecated and goes in 0.3: use ownerHits, the same counter under its new name']],
    'one warning, at the first old name used',
  );
  const table = SessionTable.create({ size: 1024 * 1024, timeout: 300 });
  const text = await createMetrics({ table, counters, ticketKeys: undefined }).registry.metrics();
  for (const [suffix, value] of [['lookups', 3], ['hits', 2], ['timeouts', 1], ['malformed', 1], ['skipped', 1]] as const) {
    t.match(text, `\ntls_session_cache_owner_${suffix}_total ${value}\n`, `owner_${suffix}_total`);
    t.match(text, `\ntls_session_cache_ipc_${suffix}_total ${value}\n`, `ipc_${suffix}_total: the same value`);
    t.match(text, `# HELP tls_session_cache_ipc_${suffix}_total Deprecated: use tls_session_cache_owner_${suffix}_total, the same value`);
  }
});
