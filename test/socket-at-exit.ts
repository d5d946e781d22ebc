/**
 * No socket file outlives its runtime (issue 32): a `node:cluster`
 * primary's `primary-<pid>.sock`, the thread runtime's `threads-<pid>.sock`
 * and the command's pid file are removed when the process ends by a
 * signal it does not handle (SIGTERM, SIGINT, SIGHUP: their default
 * action), through signal-exit, alongside another signal-exit listener
 * (tap's, a library's) without either waiting for the other. An
 * application that handles SIGTERM itself keeps its socket until its own
 * stop removes it (or its exit does). A socket left by a SIGKILLed primary
 * breaks nothing: `status` still answers, and the next start removes it.
 * Real processes (test/fixtures/stop-signals.ts, the command line).
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accepts, freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { BIN, runStatus, statusJson } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/stop-signals.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'socket-at-exit-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const { certFile, keyFile } = await writeCertificateFiles(dir);

/** How long a stopped process gets to end: a process that waits on itself (the deadlock) never does. */
const ENDS_WITHIN_MS = 15_000;

type Started = Running & { kill(): void; socket: string };

/** Starts the fixture with its socket directory `sub` of the test's directory; resolves once it serves. */
async function start(sub: string, env: Record<string, string> = {}): Promise<Started> {
  const port = await freePort();
  const running = run(FIXTURE, {
    PORT: String(port),
    TLS_CACHE_CERT: certFile,
    TLS_CACHE_KEY: keyFile,
    TLS_CACHE_SOCKET: join(dir, sub, 'app.sock'),
    TLS_CACHE_LOG_FORMAT: 'json',
    TLS_CACHE_SUMMARY_INTERVAL: '0',
    TLS_CACHE_IPC_TIMEOUT: '100ms',
    ...env,
  });
  t.teardown(() => running.kill());
  const line = await waitForLog(running, 'fixture listening', 30_000);
  await until(() => accepts(port), 10_000);
  return Object.assign(running, { socket: String(line.socket) });
}

/** How it ended (exit code or signal), or `still running` after {@link ENDS_WITHIN_MS}. */
function ended(running: Running): Promise<number | string> {
  return Promise.race([running.exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), ENDS_WITHIN_MS))]);
}

const sockets = (sub: string): string[] => readdirSync(join(dir, sub)).filter((name) => name.endsWith('.sock')).sort();

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  t.test(`a node:cluster primary without a handler of its own, ${signal}: it ends by the signal, its socket gone; a fresh start serves`, async (t) => {
    const sub = `cluster-${signal}`;
    const first = await start(sub);
    t.same(sockets(sub), [`primary-${first.child.pid}.sock`], 'its socket while it runs');
    first.child.kill(signal);
    t.equal(await ended(first), signal, `ended by ${signal}, as without the cache`);
    t.notOk(existsSync(first.socket), `no stale primary-${first.child.pid}.sock`);
    const second = await start(sub);
    t.same(sockets(sub), [`primary-${second.child.pid}.sock`], 'a fresh start: its own socket alone');
    t.same((await statusJson({ TLS_CACHE_SOCKET: join(dir, sub, 'app.sock') })).map((owner) => owner.pid), [second.child.pid], 'status finds the new primary alone');
    second.kill();
  });
}

t.test('another signal-exit listener in the primary (a library, tap): both run, the process ends by SIGTERM', async (t) => {
  const app = await start('cluster-other', { OTHER_SIGNAL_EXIT: '1' });
  app.child.kill('SIGTERM');
  t.equal(await ended(app), 'SIGTERM', 'ended by SIGTERM: neither waits for the other');
  t.notOk(existsSync(app.socket), 'its socket gone');
  const other = app.logs.find((line) => line.msg === 'other onExit');
  t.equal(other?.signal, 'SIGTERM', "the other listener ran too, told of the signal");
});

t.test("without tap's instrumentation (NODE_OPTIONS unset, as a user runs it): SIGTERM, the socket gone", async (t) => {
  const port = await freePort();
  const socketFile = join(dir, 'plain', 'app.sock');
  const app = run('-c', { PORT: String(port), TLS_CACHE_CERT: certFile, TLS_CACHE_KEY: keyFile, TLS_CACHE_SOCKET: socketFile, TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0' }, [
    'unset NODE_OPTIONS; exec "$0" "$1"', process.execPath, FIXTURE,
  ], { node: '/bin/sh' });
  t.teardown(() => app.kill());
  const line = await waitForLog(app, 'fixture listening', 30_000);
  t.ok(existsSync(String(line.socket)), 'its socket while it runs');
  app.child.kill('SIGTERM');
  t.equal(await ended(app), 'SIGTERM', 'ended by SIGTERM');
  t.notOk(existsSync(String(line.socket)), 'its socket gone');
});

t.test("the application's own SIGTERM handler (as examples/cluster-app.ts): its stop decides; the socket goes with it", async (t) => {
  const closing = await start('cluster-app-close', { APP_HANDLER: 'close' });
  closing.child.kill('SIGTERM');
  t.equal(await ended(closing), 0, "it ends as the application's handler says: exit code 0");
  const handled = closing.logs.find((line) => line.msg === 'app handler');
  t.equal(handled?.socketExists, true, 'the socket is still there while its handler runs (the workers may still need it)');
  t.equal(closing.logs.find((line) => line.msg === 'app closed')?.socketExists, false, 'cache.close() removed it');
  t.notOk(existsSync(closing.socket), 'no stale socket');

  const exiting = await start('cluster-app-exit', { APP_HANDLER: 'exit' });
  exiting.child.kill('SIGTERM');
  t.equal(await ended(exiting), 0, 'a handler that calls process.exit(0) without closing the cache: exit code 0');
  t.equal(exiting.logs.find((line) => line.msg === 'app handler')?.socketExists, true, 'the socket is there while its handler runs');
  t.notOk(existsSync(exiting.socket), 'its exit removed the socket');
});

t.test('the thread runtime as a library (startThreadCluster): SIGTERM without a handler removes threads-<pid>.sock; with one, its stop does', async (t) => {
  const bare = await start('threads', { RUNTIME: 'threads' });
  t.ok(existsSync(bare.socket), `its status socket ${bare.socket} while it runs`);
  bare.child.kill('SIGTERM');
  t.equal(await ended(bare), 'SIGTERM', 'ended by SIGTERM');
  t.notOk(existsSync(bare.socket), 'no stale threads-<pid>.sock');

  const handled = await start('threads', { RUNTIME: 'threads', APP_HANDLER: 'close' });
  handled.child.kill('SIGTERM');
  t.equal(await ended(handled), 0, "the application's handler stops it: exit code 0");
  t.equal(handled.logs.find((line) => line.msg === 'app handler')?.socketExists, true, 'the status socket is there while its handler runs');
  t.equal(handled.logs.find((line) => line.msg === 'app closed')?.socketExists, false, 'stop() removed it');
  t.same(sockets('threads'), [], 'nothing left in the directory');
});

t.test('the command line: SIGTERM while it starts (before it handles signals) removes the pid file', async (t) => {
  const work = join(dir, 'cli');
  mkdirSync(work);
  // A server module that takes its time to load: the runtime is still starting when the signal comes.
  writeFileSync(join(work, 'slow.mjs'), 'await new Promise((resolve) => setTimeout(resolve, 600_000));\nexport default () => undefined;\n');
  const pidFile = join(work, 'server.pid');
  const cli = run(BIN, { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_WORKERS: '1', TLS_CACHE_SOCKET: join(work, 'sock', 'app.sock') }, [
    join(work, 'slow.mjs'), '--port', String(await freePort()), '--pid-file', pidFile,
  ]);
  t.teardown(() => cli.kill());
  await until(() => existsSync(pidFile), 30_000);
  await waitForLog(cli, 'starting', 30_000);
  cli.child.kill('SIGTERM');
  t.equal(await ended(cli), 'SIGTERM', 'ended by SIGTERM (its default action, as before)');
  t.notOk(existsSync(pidFile), 'no stale pid file');
});

t.test('a socket left by a SIGKILLed primary breaks nothing: status says so and goes on, the next start removes it', async (t) => {
  const sub = 'killed';
  const killed = await start(sub);
  killed.child.kill('SIGKILL');
  t.equal(await ended(killed), 'SIGKILL', 'killed');
  t.ok(existsSync(killed.socket), 'SIGKILL leaves the socket (nothing runs at a SIGKILL)');
  const env = { TLS_CACHE_SOCKET: join(dir, sub, 'app.sock') };
  const alone = await runStatus([], env);
  t.equal(alone.code, 3, 'status with the stale socket alone: not running (exit 3)');
  t.match(alone.stderr, `${killed.socket}: ECONNREFUSED`, 'naming the stale socket and why');
  const next = await start(sub);
  t.notOk(existsSync(killed.socket), 'the next start removed it');
  t.same((await statusJson(env)).map((owner) => owner.pid), [next.child.pid], 'status finds the new primary');
  next.kill();
});
