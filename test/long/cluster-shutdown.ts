/**
 * SIGTERM and SIGINT: the runtime stops accepting, lets the requests in
 * flight finish, and exits 0; after shutdownTimeout it closes what is left.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { visitHttps } from '../fixtures/clients.ts';
import { accepts, freePort, run, waitForLog } from '../fixtures/process.ts';

const RUN_CLUSTER = fileURLToPath(new URL('../fixtures/run-cluster.ts', import.meta.url));

async function startProcess(t: { teardown(fn: () => unknown): void }, env: Record<string, string>) {
  const port = await freePort();
  const running = run(RUN_CLUSTER, { KIND: 'https', PORT: String(port), TLS_CACHE_WORKERS: '2', ...env });
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening');
  return { running, port };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  t.test(`${signal}: the request in flight completes, then the process exits 0`, async (t) => {
    const { running, port } = await startProcess(t, { TLS_CACHE_SHUTDOWN_TIMEOUT: '10s' });
    t.ok((await visitHttps({ port })).served.workerId > 0, 'serving');
    const inFlight = visitHttps({ port, path: '/slow?ms=1200' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalledAt = Date.now();
    running.child.kill(signal);
    await waitForLog(running, 'stopping: accepting no new connections, letting open ones finish');
    t.notOk(await accepts(port), 'no new connection is accepted once stopping');
    const visit = await inFlight;
    t.ok(visit.served.workerId > 0, 'the request in flight got its answer');
    t.equal(await running.exited, 0, 'exit code 0');
    const took = Date.now() - signalledAt;
    t.ok(took < 5000, `exited ${took} ms after the signal, once the request was done`);
    t.ok(running.logs.some((l) => l.msg === 'signal received' && l.signal === signal), 'the signal was logged');
    t.ok(running.logs.some((l) => l.msg === 'stopped'));
  });
}

t.test('open connections are closed after shutdownTimeout, and the exit code is still 0', async (t) => {
  const { running, port } = await startProcess(t, { TLS_CACHE_SHUTDOWN_TIMEOUT: '400ms' });
  const tooSlow = visitHttps({ port, path: '/slow?ms=20000' }).then(
    () => 'answered',
    () => 'cut',
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  const signalledAt = Date.now();
  running.child.kill('SIGTERM');
  t.equal(await running.exited, 0, 'exit code 0');
  t.ok(Date.now() - signalledAt < 3000, 'did not wait for the slow request');
  t.equal(await tooSlow, 'cut', 'the slow request was cut');
  t.ok(running.logs.some((l) => l.msg === 'shutdown timeout: closing the connections still open'));
});
