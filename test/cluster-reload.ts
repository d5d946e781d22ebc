/**
 * `cluster.reload()`: every worker thread replaced by one that loads the
 * server module afresh; a module that fails leaves the old workers serving;
 * what a second reload, a stop, and crashes of old and new threads during a
 * reload do. (SIGHUP under load: cluster-reload-load.ts; certificates:
 * cluster-reload-certificate.ts.)
 */
import t from 'tap';
import type { ThreadCluster, ReloadResult } from '../lib/threads/cluster.ts';
import { visitTls, type Visit } from './fixtures/clients.ts';
import { accepts } from './fixtures/process.ts';
import { startTestCluster, type TestCluster } from './fixtures/start.ts';

const RELOAD_SERVER = new URL('./fixtures/reload-server.ts', import.meta.url);

/** A cluster of the reload fixture; the test's environment variables are cleared at its end. */
async function start(t: { teardown(fn: () => unknown): void }, config = {}): Promise<TestCluster> {
  const started = await startTestCluster('tls', 'shared', { restartDelay: 50, ...config }, {}, { server: RELOAD_SERVER });
  t.teardown(async () => {
    delete process.env.TEST_RELOAD_FAILURE;
    delete process.env.TEST_RELOAD_SLOW_MS;
    await started.cluster.stop();
  });
  return started;
}

const threadIds = (cluster: ThreadCluster): number[] => cluster.workers().map((w) => w.threadId);

/** Connects `n` times; the threads that served. */
async function servedBy(port: number, n = 40, session?: Buffer): Promise<{ threads: Set<number>; visits: Visit[] }> {
  const visits: Visit[] = [];
  for (let i = 0; i < n; i++) visits.push(await visitTls({ port, session, noTicket: true }));
  return { threads: new Set(visits.map((v) => v.served.threadId)), visits };
}

async function reloadsTotal(cluster: ThreadCluster): Promise<Record<string, number>> {
  const text = await cluster.metrics();
  const totals: Record<string, number> = {};
  for (const [, result, value] of text.matchAll(/^tls_session_cache_reloads_total\{result="(\w+)"\} (\d+)$/gm)) totals[result] = Number(value);
  return totals;
}

t.test('reload() replaces every worker; sessions from before resume on the new threads', async (t) => {
  const { cluster, logs } = await start(t);
  const before = threadIds(cluster);
  const early = await visitTls({ port: cluster.port, noTicket: true });
  const result = await cluster.reload();
  const after = threadIds(cluster);
  t.same(result.workers.map((w) => w.workerId), [1, 2, 3, 4], 'every worker, in order');
  t.same(result.workers.map((w) => w.replacedThreadId), before, 'each replaced its old thread');
  t.same(result.workers.map((w) => w.threadId), after, 'the new threads are the workers now');
  t.ok(after.every((id) => !before.includes(id) && id > 0), `new threads ${after} (were ${before})`);
  t.ok(cluster.workers().every((w) => w.listening), 'every worker listens');
  t.ok(result.workers.every((w) => w.drained), 'the old threads drained in time');
  const { threads, visits } = await servedBy(cluster.port, 40, early.session);
  t.ok([...threads].every((id) => after.includes(id)), 'only new threads serve');
  t.equal(threads.size, 4, 'on every worker');
  t.ok(visits.every((v) => v.reused), 'the session from before the reload resumed every time');
  t.equal(logs.filter((l) => l.msg === 'worker replaced').length, 4, 'one line per replaced worker');
  t.ok(logs.some((l) => l.msg === 'reload complete: every worker replaced' && l.workers === 4), 'and a summary');
  t.same(await reloadsTotal(cluster), { succeeded: 1, failed: 0, aborted: 0 }, 'reloads_total');
  await t.rejects(cluster.reload({ startTimeout: 0 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'startTimeout' });
});

for (const [failure, message] of [
  ['load', /failed to load: broken at load/],
  ['throw', /threw: broken default export/],
] as const) {
  t.test(`a server module that fails (${failure}) at reload: the old workers go on serving, the reload reports it`, async (t) => {
    const { cluster, logs } = await start(t);
    const before = threadIds(cluster);
    process.env.TEST_RELOAD_FAILURE = failure;
    const error = await cluster.reload().then(
      () => undefined,
      (e: unknown) => e as { code?: string; workerId?: number; message: string },
    );
    t.match(error, { code: 'ERR_TLS_CACHE_RELOAD_FAILED', workerId: 1, message }, 'the reload failed, naming the module\'s error');
    t.match(error?.message, /the running workers go on serving/);
    t.same(threadIds(cluster), before, 'the workers are the old threads');
    t.ok(cluster.workers().every((w) => w.listening));
    const { threads } = await servedBy(cluster.port);
    t.ok([...threads].every((id) => before.includes(id)), 'only old threads serve');
    const logged = logs.find((l) => l.msg === 'reload failed: the running workers go on serving');
    t.equal(logged?.level, 50, 'logged as an error');
    t.match((logged?.err as { message?: string })?.message, message, 'the log line says why');
    t.same(await reloadsTotal(cluster), { succeeded: 0, failed: 1, aborted: 0 });

    delete process.env.TEST_RELOAD_FAILURE;
    await cluster.reload();
    t.ok(threadIds(cluster).every((id) => !before.includes(id)), 'fixed, the next reload replaces every worker');
    t.same(await reloadsTotal(cluster), { succeeded: 1, failed: 1, aborted: 0 });
  });
}

t.test('a new thread that does not listen within startTimeout fails the reload', async (t) => {
  const { cluster } = await start(t);
  const before = threadIds(cluster);
  process.env.TEST_RELOAD_FAILURE = 'hang';
  await t.rejects(cluster.reload({ startTimeout: 500 }), { code: 'ERR_TLS_CACHE_RELOAD_FAILED', workerId: 1, message: /did not listen within 500 ms/ });
  t.same(threadIds(cluster), before);
  const { threads } = await servedBy(cluster.port);
  t.ok([...threads].every((id) => before.includes(id)), 'only old threads serve');
});

t.test('a new thread that crashes after listening, before every new one listens, fails the reload', async (t) => {
  const { cluster, logs } = await start(t);
  const before = threadIds(cluster);
  process.env.TEST_RELOAD_FAILURE = 'crash-after-listen-2';
  process.env.TEST_RELOAD_SLOW_MS = '600';
  await t.rejects(cluster.reload(), { code: 'ERR_TLS_CACHE_RELOAD_FAILED', workerId: 2, message: /new worker 2 ended .* after listening: .*crashes after listening/ });
  t.same(threadIds(cluster), before, 'the old threads stay');
  const { threads } = await servedBy(cluster.port);
  t.ok([...threads].every((id) => before.includes(id)), 'only old threads serve: the new ones that listened were stopped');
  t.notOk(logs.some((l) => l.msg === 'worker exited unexpectedly; restarting it'), 'no restart: the crashed thread was no worker yet');
});

t.test('an old thread that crashes during a reload: the reload completes, every worker new', async (t) => {
  const { cluster, logs } = await start(t);
  const before = threadIds(cluster);
  process.env.TEST_RELOAD_SLOW_MS = '400';
  const reloading = cluster.reload();
  // While the new threads start, crash the old worker 3.
  for (let i = 0; i < 200; i++) {
    const visit = await visitTls({ port: cluster.port, reply: (served) => (served.workerId === 3 && before.includes(served.threadId) ? 'crash' : undefined) });
    if (visit.served.workerId === 3 && before.includes(visit.served.threadId)) break;
  }
  const result: ReloadResult = await reloading;
  const crash = logs.find((l) => l.msg === 'worker exited unexpectedly; restarting it' && l.workerId === 3);
  const complete = logs.find((l) => l.msg === 'reload complete: every worker replaced');
  t.ok(crash, 'the crash was logged');
  t.ok(Number(crash?.time) < Number(complete?.time), 'during the reload');
  const after = threadIds(cluster);
  t.same(result.workers.map((w) => w.threadId), after);
  t.ok(after.every((id) => !before.includes(id)), 'every worker is a new thread');
  t.ok(cluster.workers().every((w) => w.listening), 'every worker listens');
  const { threads } = await servedBy(cluster.port);
  t.ok([...threads].every((id) => after.includes(id)), 'only the reload\'s threads serve (a restarted thread was retired too)');
});

t.test('a reload asked for during a reload runs after it; more requests join that one', async (t) => {
  const { cluster, logs } = await start(t);
  const before = threadIds(cluster);
  const first = cluster.reload();
  const second = cluster.reload();
  const third = cluster.reload();
  t.equal(second, third, 'the third joins the second');
  const one = await first;
  const two = await second;
  const middle = one.workers.map((w) => w.threadId);
  t.same(one.workers.map((w) => w.replacedThreadId), before);
  t.same(two.workers.map((w) => w.replacedThreadId), middle, 'the second reload replaced the first one\'s threads');
  t.same(two.workers.map((w) => w.threadId), threadIds(cluster));
  t.equal(logs.filter((l) => l.msg === 'reload requested during a reload: another one follows it').length, 1);
  t.same(await reloadsTotal(cluster), { succeeded: 2, failed: 0, aborted: 0 });
});

t.test('stop() during a reload: the reload is aborted, every thread old and new ends', async (t) => {
  const { cluster, logs } = await start(t);
  process.env.TEST_RELOAD_SLOW_MS = '400';
  const reloading = cluster.reload();
  const outcome = reloading.then(
    () => 'completed',
    (error: unknown) => error,
  );
  await new Promise((resolve) => setTimeout(resolve, 600));
  await cluster.stop();
  t.match(await outcome, { code: 'ERR_TLS_CACHE_RELOAD_ABORTED' }, 'the reload was aborted');
  t.ok(logs.some((l) => l.msg === 'reload aborted: the cluster is stopping' && l.level === 40));
  t.ok(logs.some((l) => l.msg === 'stopped'));
  t.notOk(await accepts(cluster.port), 'nothing listens');
  t.ok(cluster.workers().every((w) => w.threadId === -1), 'no thread left');
  await t.rejects(cluster.reload(), { code: 'ERR_TLS_CACHE_RELOAD_ABORTED' }, 'no reload once stopped');
});
