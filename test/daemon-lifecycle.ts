/**
 * The cache daemon follows its processes (issue 32): with no process
 * attached for `TLS_CACHE_DAEMON_IDLE_TIMEOUT` it stops, removing its
 * socket and lock, and a new attach starts a fresh one; while one is
 * attached it stays; a process shutting down (its server closed, a
 * connection still draining) never starts one; every attach logs one info
 * line naming its owner and the owner's pid (daemon or `node:cluster`
 * primary); a bad idle time is refused with a coded error.
 */
import t from 'tap';
import { daemonPid } from './helpers/daemon-lock.ts';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { reconnect } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';
import { BIN } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { isRunning } from '../lib/owner/socket-path.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const PLAIN_SERVER = fileURLToPath(new URL('./fixtures/plain-server.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'daemon-lifecycle-test-'));
const pids = new Set<number>();
t.teardown(() => {
  // Every daemon of the test: those seen, and any holding a lock in its directories.
  for (const name of readdirSync(dir)) {
    const pid = existsSync(join(dir, name, 'app.sock.lock')) ? daemonPid(join(dir, name, 'app.sock')) : undefined;
    if (pid !== undefined) pids.add(pid);
  }
  for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
t.teardown(removeCertificateFiles);
await writeCertificateFiles(dir);


function envFor(name: string, more: Record<string, string> = {}): Record<string, string> {
  return {
    TLS_CACHE_LOG_FORMAT: 'json',
    TLS_CACHE_SUMMARY_INTERVAL: '0',
    TLS_CACHE_SOCKET: join(dir, name, 'app.sock'),
    TLS_CACHE_CERT: join(dir, 'cert.pem'),
    TLS_CACHE_KEY: join(dir, 'key.pem'),
    TLS_CACHE_OWNER_TIMEOUT: '100ms',
    ...more,
  };
}

async function startServer(t: Tap, env: Record<string, string>): Promise<Running & { port: number; kill(): void }> {
  const port = await freePort();
  const server = run(PLAIN_SERVER, { ...env, PORT: String(port) });
  t.teardown(() => server.kill());
  await waitForLog(server, 'fixture listening', 20_000);
  // A daemon being started answers within a second or two: the process attaches then, and says so.
  await until(() => server.logs.some((line) => typeof line.msg === 'string' && line.msg.startsWith('attached to')), 15_000, 20);
  const daemon = daemonPid(env.TLS_CACHE_SOCKET);
  if (daemon !== undefined) pids.add(daemon);
  return Object.assign(server, { port });
}
type Tap = { teardown(fn: () => unknown): void };

t.test('idle: the daemon stops once no process is attached for its idle time; a new attach starts a fresh one', async (t) => {
  const env = envFor('idle', { TLS_CACHE_DAEMON_IDLE_TIMEOUT: '1s' });
  const socket = env.TLS_CACHE_SOCKET;
  const server = await startServer(t, env);
  const first = daemonPid(socket)!;
  t.ok(first !== undefined && isRunning(first), 'the process started a daemon');
  const attached = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('attached to the cache daemon'));
  t.equal(attached?.msg, `attached to the cache daemon (pid ${first})`, 'the attach logs one line naming the daemon and its pid');
  t.equal(attached?.level, 30, 'at info');
  t.equal(attached?.ownerPid, first);
  t.equal(server.logs.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('attached to')).length, 1, 'one line');
  // Attached for longer than the idle time: the daemon stays.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  t.ok(isRunning(first), 'still running while a process is attached (2 s, idle time 1 s)');
  t.equal((await reconnect({ port: server.port, version: 'TLSv1.2', noTicket: true }, 2)).reused, 2, 'and serving');
  server.child.kill('SIGTERM');
  await server.exited;
  const gone = Date.now();
  await until(() => !isRunning(first), 10_000, 20);
  t.ok(Date.now() - gone < 5000, `gone ${Date.now() - gone} ms after the last process (idle time 1 s)`);
  t.notOk(existsSync(socket), 'its socket removed');
  t.notOk(existsSync(`${socket}.lock`), 'its lock removed');
  const log = readFileSync(`${socket}.log`, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { msg: string; reason?: string });
  t.ok(log.some((line) => line.msg === 'no process attached for TLS_CACHE_DAEMON_IDLE_TIMEOUT: the cache daemon stops'), 'it logged why');
  t.same(log.at(-1) && { msg: log.at(-1)!.msg, reason: log.at(-1)!.reason }, { msg: 'cache daemon stopped', reason: 'idle' }, 'and that it stopped');
  const again = await startServer(t, env);
  const second = daemonPid(socket)!;
  t.ok(second !== undefined && second !== first && isRunning(second), 'a new attach starts a fresh daemon');
  t.equal((await reconnect({ port: again.port, version: 'TLSv1.3' }, 2)).reused, 2, 'which serves');
});

t.test('a process shutting down (server closed, a connection draining) starts no daemon', async (t) => {
  const env = envFor('shutdown');
  const socket = env.TLS_CACHE_SOCKET;
  const server = await startServer(t, env);
  const daemon = daemonPid(socket)!;
  // A connection that never says hello: closing the server waits for it (the grace period of a deploy).
  const held = connect({ host: '127.0.0.1', port: server.port });
  held.on('error', () => {});
  await new Promise((resolve) => held.once('connect', resolve));
  server.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(server.child.exitCode, null, 'the process is draining');
  // Its daemon goes meanwhile.
  process.kill(daemon, 'SIGTERM');
  await until(() => !isRunning(daemon), 5000);
  // The process looks again within a second (100 ms, doubling): it must not start one.
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.equal(daemonPid(socket), undefined, 'no daemon holds the lock');
  t.notOk(existsSync(`${socket}.starting`), 'none is starting');
  t.notOk(existsSync(socket), 'no socket');
  held.destroy();
  t.equal(await server.exited, 0, 'the process ends once its connection does');
  t.notOk(existsSync(socket), 'and left no daemon behind');
});

t.test('a node:cluster worker logs one info line naming its primary and its pid', async (t) => {
  const app = await startClusterApp({ ...envFor('cluster'), WORKERS: '2', TLS_CACHE_LOG_FORMAT: 'json' });
  t.teardown(() => app.kill());
  const lines = app
    .output()
    .split('\n')
    .filter((line) => line.includes('"msg":"attached to'))
    .map((line) => JSON.parse(line) as { msg: string; pid: number; level: number; owner: string });
  t.equal(lines.length, 2, 'one line per worker process');
  for (const line of lines) t.same({ msg: line.msg, level: line.level, owner: line.owner }, { msg: `attached to the node:cluster primary (pid ${app.child.pid})`, level: 30, owner: 'primary' });
  t.same(lines.map((line) => line.pid).sort(), [...app.pids].sort(), 'from each worker');
});

t.test('a bad idle time is refused before anything listens', async (t) => {
  const running = run(BIN, { ...envFor('bad'), TLS_CACHE_DAEMON_IDLE_TIMEOUT: 'soon' }, ['daemon']);
  t.equal(await running.exited, 1);
  t.match(running.stderr(), /ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_DAEMON_IDLE_TIMEOUT: /);
  t.notOk(existsSync(join(dir, 'bad', 'app.sock')), 'no socket');
});
