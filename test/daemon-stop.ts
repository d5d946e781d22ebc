/**
 * Stopping the cache daemon (issue 32): `tls-resumption daemon --stop`
 * finds the daemon by asking it, stops it and waits until it is gone; the
 * daemon logs "cache daemon stopped", exits promptly on SIGTERM (with a
 * process attached and a metrics client keeping its connection open), and
 * leaves neither its socket nor its lock behind.
 */
import t from 'tap';
import { daemonPid } from './helpers/daemon-lock.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'node:http';
import { freePort, run, waitForLog } from './fixtures/process.ts';
import { reconnect } from './helpers/cluster-client.ts';
import { BIN, runStatus } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { isRunning } from '../lib/owner/socket-path.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const PLAIN_SERVER = fileURLToPath(new URL('./fixtures/plain-server.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'daemon-stop-test-'));
const quiet = { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0' };
/** Every daemon pid seen: none may outlive the test. */
const pids = new Set<number>();
t.teardown(() => {
  for (const pid of pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
await writeCertificateFiles(dir);

/** Runs `tls-resumption ...args` to its end. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const running = run(BIN, env, args);
  return running.exited.then((code) => ({ code, stdout: running.output().replace(running.stderr(), ''), stderr: running.stderr() }));
}


t.test('daemon --stop: the detached daemon stops, logs it, and leaves no socket or lock', async (t) => {
  const socket = join(dir, 'detached', 'app.sock');
  const env = { ...quiet, TLS_CACHE_SOCKET: socket };
  t.equal((await cli(['daemon', '--detach'], env)).code, 0);
  await until(async () => (await runStatus([], env)).code === 0, 15_000, 100);
  const pid = daemonPid(socket)!;
  pids.add(pid);
  const stopped = await cli(['daemon', '--stop'], env);
  t.equal(stopped.code, 0, 'exit 0');
  t.match(stopped.stdout, `tls-resumption: cache daemon pid ${pid} stopped; ${socket} removed`);
  t.notOk(isRunning(pid), 'the daemon is gone');
  t.notOk(existsSync(socket), 'its socket is gone');
  t.notOk(existsSync(`${socket}.lock`), 'its lock is gone');
  const log = readFileSync(`${socket}.log`, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { msg: string; ms?: number });
  t.ok(log.some((line) => line.msg === 'cache daemon stopping'), 'it logged "cache daemon stopping"');
  const last = log.at(-1)!;
  t.equal(last.msg, 'cache daemon stopped', 'and, last, "cache daemon stopped"');
  t.ok(last.ms! < 1000, `within ${last.ms} ms`);
  const again = await cli(['daemon', '--stop'], env);
  t.equal(again.code, 3, 'none running: exit 3');
  t.match(again.stderr, `tls-resumption daemon --stop: ERR_TLS_CACHE_NOT_RUNNING: no cache daemon answers at ${socket}`);
});

t.test('SIGTERM with a process attached and a metrics client connected: exits promptly, logs "stopped"', async (t) => {
  const socket = join(dir, 'foreground', 'app.sock');
  const metricsPort = await freePort();
  const env = { ...quiet, TLS_CACHE_SOCKET: socket, TLS_CACHE_METRICS_PORT: String(metricsPort), TLS_CACHE_CERT: join(dir, 'cert.pem'), TLS_CACHE_KEY: join(dir, 'key.pem') };
  const daemon = run(BIN, env, ['daemon']);
  t.teardown(() => daemon.kill());
  await waitForLog(daemon, 'cache daemon listening', 15_000);
  pids.add(daemon.child.pid!);
  const port = await freePort();
  const server = run(PLAIN_SERVER, { ...env, TLS_CACHE_OWNER_TIMEOUT: '100ms', PORT: String(port) });
  t.teardown(() => server.kill());
  await waitForLog(server, 'fixture listening', 20_000);
  t.equal((await reconnect({ port, version: 'TLSv1.2', noTicket: true }, 3)).reused, 3, 'sessions resumed through the daemon');
  // A scraper that keeps its connection open (as Prometheus does).
  const keptOpen = request({ host: '127.0.0.1', port: metricsPort, path: '/metrics', agent: undefined, headers: { connection: 'keep-alive' } });
  keptOpen.on('error', () => {});
  keptOpen.end();
  await new Promise((resolve) => keptOpen.on('response', resolve));
  const signalled = performance.now();
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'exit 0');
  const ms = performance.now() - signalled;
  t.ok(ms < 1000, `exited ${ms.toFixed(0)} ms after SIGTERM`);
  const stopped = daemon.logs.find((line) => line.msg === 'cache daemon stopped');
  t.ok(stopped, 'logged "cache daemon stopped"');
  t.equal(daemon.logs.at(-1)?.msg, 'cache daemon stopped', 'as its last line');
  t.equal(daemon.logs.find((line) => line.msg === 'cache daemon stopping')?.attached, 1, 'with the one process attached');
  // The process stopped too, so that it does not start another daemon; whatever it started meanwhile is stopped.
  server.child.kill('SIGTERM');
  await server.exited;
  // A daemon it started meanwhile may still be starting (its marker beside the socket): let it listen, then stop it.
  await until(() => !existsSync(`${socket}.starting`), 15_000, 50);
  const restarted = daemonPid(socket);
  if (restarted !== undefined && isRunning(restarted)) {
    pids.add(restarted);
    t.equal((await cli(['daemon', '--stop'], env)).code, 0, "the daemon the process started meanwhile is stopped");
  }
  await until(() => !existsSync(socket), 5000);
  t.notOk(existsSync(socket), 'no socket left');
});

t.test('--stop goes with daemon alone', async (t) => {
  const both = await cli(['daemon', '--stop', '--detach'], quiet);
  t.equal(both.code, 2);
  t.match(both.stderr, 'ERR_TLS_CACHE_USAGE: --detach and --stop do not go together');
  const alone = await cli(['--stop'], quiet);
  t.equal(alone.code, 2);
  t.match(alone.stderr, 'ERR_TLS_CACHE_USAGE: --stop goes with the daemon command');
});
