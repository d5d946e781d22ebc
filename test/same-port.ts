/**
 * Two runtimes on one port (issue 32): with `reusePort` both listen, each
 * with its own cache, and the one that starts second warns, naming the
 * other's pid and that sessions are not shared. Real processes: two
 * `tls-resumption` command lines on one port; a `node:cluster` app whose
 * workers listen with `reusePort` and a command line on its port, in both
 * orders (started first, the app's primary lists the port its workers
 * bound themselves, as they told it); plain processes on the cache daemon
 * (as PM2 runs them), then a command line on their port; and a runtime on
 * another port, which says nothing.
 */
import t from 'tap';
import { daemonPid } from './helpers/daemon-lock.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { fileURLToPath } from 'node:url';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';
import { BIN, runStatus, statusJson } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const dir = mkdtempSync(join(tmpdir(), 'same-port-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
t.teardown(removeCertificateFiles);
await writeCertificateFiles(dir);
const MODULE = join(dir, 'server.mjs');
const PLAIN_SERVER = fileURLToPath(new URL('./fixtures/plain-server.ts', import.meta.url));
writeFileSync(
  MODULE,
  `import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
const key = readFileSync(${JSON.stringify(join(dir, 'key.pem'))});
const cert = readFileSync(${JSON.stringify(join(dir, 'cert.pem'))});
export default ({ serverOptions }) => createServer({ key, cert, ...serverOptions }, (socket) => socket.end('hi\\n'));
`,
);
const WARNING = /^another tls-resumption runtime serves port (\d+) too: the (thread runtime|node:cluster primary|cache daemon) pid (\d+); sessions are not shared between them/;
const warnings = (running: Running): Array<Record<string, unknown>> => running.logs.filter((line) => typeof line.msg === 'string' && WARNING.test(line.msg));

/** The command line on `port`, with its socket directory under `sub`. */
async function commandLine(sub: string, port: number): Promise<Running & { kill(): void }> {
  const running = run(BIN, { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_WORKERS: '1', TLS_CACHE_SOCKET: join(dir, sub, 'app.sock') }, [MODULE, '--port', String(port)]);
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening', 30_000);
  return running;
}

t.test('two command lines on one port: the second warns, naming the first', async (t) => {
  const port = await freePort();
  const first = await commandLine('cli', port);
  const second = await commandLine('cli', port);
  await until(() => warnings(second).length > 0, 5000).catch(() => undefined);
  const [warning, ...more] = warnings(second);
  t.ok(warning, 'the second runtime warns');
  t.same(more, [], 'once');
  t.equal(warning?.level, 40, 'at warn');
  t.equal(warning?.otherPid, first.child.pid, "the field otherPid: the first runtime's pid");
  t.equal(warning?.port, port);
  t.equal(warning?.otherKind, 'threads');
  t.match(String(warning?.msg), `serves port ${port} too: the thread runtime pid ${first.child.pid}; sessions are not shared between them`, 'the text names it');
  // A third on another port of the same user: no warning; nor did the first, which started alone.
  const third = await commandLine('cli', await freePort());
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.same(warnings(third), [], 'another port: no warning');
  t.same(warnings(first), [], 'the first started alone: no warning');
});

t.test('a node:cluster app whose workers bind with reusePort, on the port of a command line: each worker names it', async (t) => {
  const socket = join(dir, 'cluster', 'app.sock');
  const port = await freePort();
  const first = await commandLine('cluster', port);
  const app = await startClusterApp({ WORKERS: '2', PORT: String(port), FIXTURE_REUSE_PORT: '1', TLS_CACHE_SOCKET: socket, TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_OWNER_TIMEOUT: '100ms' });
  t.teardown(() => app.kill());
  t.equal(app.port, port);
  const lines = (): Array<Record<string, unknown>> =>
    app.output().split('\n').filter((line) => line.includes('another tls-resumption runtime')).map((line) => JSON.parse(line) as Record<string, unknown>);
  await until(() => lines().length >= 2, 5000).catch(() => undefined);
  t.same(lines().map((line) => line.pid).sort(), [...app.pids].sort(), 'each worker process warns once');
  for (const line of lines()) {
    t.equal(line.otherPid, first.child.pid, "it names the command line's pid");
    t.equal(line.otherKind, 'threads');
    t.match(String(line.msg), `serves port ${port} too: the thread runtime pid ${first.child.pid}; sessions are not shared between them`);
  }
  t.same(warnings(first), [], 'the command line started first, alone: no warning');
});

t.test('a node:cluster app whose workers bind with reusePort, then a command line on its port: the command line names the primary', async (t) => {
  const socket = join(dir, 'cluster-first', 'app.sock');
  const port = await freePort();
  const app = await startClusterApp({ WORKERS: '2', PORT: String(port), FIXTURE_REUSE_PORT: '1', TLS_CACHE_SOCKET: socket, TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_OWNER_TIMEOUT: '100ms' });
  t.teardown(() => app.kill());
  // The primary hears of its workers' own listeners (they tell it), as status shows.
  await until(async () => (await statusJson({ TLS_CACHE_SOCKET: socket }))[0]?.ports?.includes(port) === true, 10_000).catch(() => undefined);
  const [primary] = await statusJson({ TLS_CACHE_SOCKET: socket });
  t.same(primary?.ports, [port], "the primary's status lists the port its workers bound themselves");
  t.equal((await runStatus([], { TLS_CACHE_SOCKET: socket })).stdout.match(/^ {2}ports: (.*)$/m)?.[1], String(port), 'and so does its text');
  const later = await commandLine('cluster-first', port);
  await until(() => warnings(later).length > 0, 5000).catch(() => undefined);
  const [warning, ...more] = warnings(later);
  t.ok(warning, 'the command line started second warns');
  t.same(more, [], 'once');
  t.equal(warning?.level, 40, 'at warn');
  t.equal(warning?.otherPid, app.child.pid, "it names the node:cluster primary's pid");
  t.equal(warning?.otherKind, 'primary');
  t.match(String(warning?.msg), `serves port ${port} too: the node:cluster primary pid ${app.child.pid}; sessions are not shared between them`, 'the text names it');
  const workerLines = app.output().split('\n').filter((line) => line.includes('another tls-resumption runtime'));
  t.same(workerLines, [], 'its workers started first, alone: no warning');
});

t.test('plain processes on the cache daemon (as PM2 runs them), then a command line on their port: the command line names the daemon', async (t) => {
  const socket = join(dir, 'daemon-first', 'app.sock');
  const port = await freePort();
  const env = { TLS_CACHE_SOCKET: socket, TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_OWNER_TIMEOUT: '100ms' };
  t.teardown(() => {
    const pid = daemonPid(socket);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  });
  const instances: Running[] = [];
  for (let i = 0; i < 2; i++) {
    const instance = run(PLAIN_SERVER, { ...env, TLS_CACHE_CERT: join(dir, 'cert.pem'), TLS_CACHE_KEY: join(dir, 'key.pem'), PORT: String(port), FIXTURE_REUSE_PORT: '1' });
    t.teardown(() => instance.kill());
    await waitForLog(instance, 'fixture listening', 20_000);
    instances.push(instance);
  }
  // The daemon hears of its processes' listeners (they tell it over its socket), as status shows.
  await until(async () => (await statusJson({ TLS_CACHE_SOCKET: socket }))[0]?.ports?.includes(port) === true, 10_000).catch(() => undefined);
  const [daemon] = await statusJson({ TLS_CACHE_SOCKET: socket });
  t.equal(daemon?.kind, 'daemon');
  t.same(daemon?.ports, [port], "the daemon's status lists the port its processes listen on");
  t.equal((await runStatus([], { TLS_CACHE_SOCKET: socket })).stdout.match(/^ {2}ports: (.*)$/m)?.[1], String(port), 'and so does its text');
  const later = await commandLine('daemon-first', port);
  await until(() => warnings(later).length > 0, 5000).catch(() => undefined);
  const [warning, ...more] = warnings(later);
  t.ok(warning, 'the command line started after them warns');
  t.same(more, [], 'once');
  t.equal(warning?.otherPid, daemonPid(socket), "it names the daemon's pid");
  t.equal(warning?.otherKind, 'daemon');
  t.match(String(warning?.msg), `serves port ${port} too: the cache daemon pid ${daemonPid(socket)}; sessions are not shared between them`, 'the text names it');
  for (const instance of instances) t.same(warnings(instance), [], 'the processes of one daemon share it: none warns of the others');
});
