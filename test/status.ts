/**
 * `tls-resumption status` (issue 32) against each shape of a deployment,
 * each real: the command line's thread runtime, a `node:cluster` app, and
 * the cache daemon with plain processes (as PM2 instances or systemd units
 * run). After real handshakes (TLS 1.2 session IDs, TLS 1.3 tickets, and
 * sessions no store has seen), with the traffic stopped, every figure
 * `status --json` gives equals the owner's `/metrics` scraped right after,
 * and the text for a person carries the same, with the ports the kernel
 * says its processes listen on. Nothing running: a coded
 * message and exit 3. Another user (uid 65534): refused.
 */
import t, { type Test } from 'tap';
import { daemonPid } from './helpers/daemon-lock.ts';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { reconnect } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';
import { foreignSessions } from './helpers/foreign-sessions.ts';
import { visit } from './helpers/cluster-client.ts';
import { BIN, figures, runStatus, scrape, statusJson } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { listeningPorts } from './helpers/listening-ports.ts';
import type { OwnerStatus } from '../lib/runtime/owner-status.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const PLAIN_SERVER = fileURLToPath(new URL('./fixtures/plain-server.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'status-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const { cert, key } = await writeCertificateFiles(dir);
const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
// A server module for the command line greeting each connection with a JSON line, as the process fixtures do.
const MODULE = join(dir, 'server.mjs');
writeFileSync(
  MODULE,
  `import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
export default ({ serverOptions }) =>
  createServer({ key: readFileSync(process.env.APP_KEY), cert: readFileSync(process.env.APP_CERT), ...serverOptions }, (socket) => {
    socket.on('error', () => {});
    socket.end(JSON.stringify({ pid: process.pid, reused: socket.isSessionReused(), protocol: socket.getProtocol(), argv: [] }) + '\\n');
  });
`,
);
const quiet = { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0' };

/** TLS 1.2 by session ID (5 resumed), TLS 1.3 by ticket (5 resumed), 3 sessions found nowhere: the same traffic for each shape. */
async function traffic(port: number): Promise<void> {
  await reconnect({ port, version: 'TLSv1.2', noTicket: true }, 5);
  await reconnect({ port, version: 'TLSv1.3' }, 5);
  for (const session of await foreignSessions(3, { cert, key })) await visit({ port, version: 'TLSv1.2', noTicket: true, session });
}

/** Asserts that every figure of the owner equals its metric, and that the text says the same. */
async function matchesMetrics(t: Test, owner: OwnerStatus, metricsPort: number, env: Record<string, string>): Promise<void> {
  const metrics = await scrape(metricsPort);
  const compared = figures(owner, metrics);
  for (const [what, status, metric] of compared) {
    if (what.startsWith('ticket key age')) t.ok(metric !== undefined && Math.abs(status - metric) <= 1, `${what}: status ${status}, /metrics ${metric}`);
    else t.equal(status, metric, `${what}: status ${status}, /metrics ${metric}`);
  }
  t.ok(compared.length >= 30, `${compared.length} figures compared`);
  const since = owner.sinceStart;
  const resumed = Object.values(since.handshakes.resumed).reduce((a, b) => a + b, 0);
  const full = Object.values(since.handshakes.full).reduce((a, b) => a + b, 0);
  t.equal(resumed, 10, '10 resumptions since start (5 by session ID, 5 by ticket)');
  t.equal(since.misses.session_id.not_found, 3, 'the 3 unknown sessions: session_id not_found');
  t.ok(owner.lastMinute.seconds < 55, `the owner is younger than a minute (${owner.lastMinute.seconds} s)`);
  t.same(
    { handshakes: owner.lastMinute.handshakes, misses: owner.lastMinute.misses, evictions: owner.lastMinute.evictions },
    { handshakes: since.handshakes, misses: since.misses, evictions: since.evictions },
    'the last minute spans the whole run: the same counts',
  );
  // The text for a person, asked right after (nothing moved).
  const text = await runStatus([], env);
  t.equal(text.code, 0, 'status exits 0');
  t.match(text.stdout, `${owner.table.entries} of ${owner.table.capacityEntries} entries`, 'the table');
  t.match(text.stdout, `since start: ${full + resumed} handshakes, ${resumed} resumed`, 'handshakes and resumptions since start');
  t.match(text.stdout, `session_id not_found 3`, 'misses by reason');
  t.match(text.stdout, /session age at resumption: session_id median \d+s, p99 \d+s; ticket median \d+s, p99 \d+s/, 'the session ages at resumption, by method');
  t.match(text.stdout, /ticket keys: \d+ decrypting \(random\), current key \d+s old, next rotation in 59m \d+s/, 'the ticket keys');
  t.match(text.stdout, 'redis: not configured');
  for (const { pid } of owner.attached) t.match(text.stdout, String(pid), `names pid ${pid}`);
  // The ports its servers listen on: those the kernel says its processes listen on, but for the metrics endpoint.
  const said = /^ {2}ports: (.*)$/m.exec(text.stdout)?.[1];
  // The daemon's own port is its metrics endpoint: the processes attached listen on their own, and tell it.
  const real = listeningPorts([owner.pid, ...owner.attached.map((w) => w.pid)]).filter((port) => port !== metricsPort);
  t.ok(real.length > 0, `it listens (the kernel: ${real.join(', ')})`);
  t.equal(said, real.join(', '), `the text's ports are the ports it listens on (${said})`);
  t.same(owner.ports, real, 'and so are those of --json');
}

t.test('nothing running: a clear message, exit 3', async (t) => {
  const socket = join(dir, 'none', 'app.sock');
  const missing = await runStatus([], { TLS_CACHE_SOCKET: socket });
  t.equal(missing.code, 3);
  t.match(missing.stderr, `tls-resumption status: ERR_TLS_CACHE_NOT_RUNNING: nothing answers: no cache daemon at ${socket}`);
  t.equal(missing.stdout, '');
  // A socket file left behind answers nothing either.
  const stale = join(dir, 'stale', 'app.sock');
  mkdirSync(join(dir, 'stale'), { mode: 0o700 });
  const killed = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await new Promise((resolve) => killed.on('exit', resolve));
  t.ok(existsSync(stale), 'a socket file left by a killed process');
  const left = await runStatus(['--json'], { TLS_CACHE_SOCKET: stale });
  t.equal(left.code, 3);
  t.match(left.stderr, `${stale}: ECONNREFUSED`, 'names the socket and why');
  const usage = await runStatus(['--detach'], {});
  t.equal(usage.code, 2, 'status --detach: a usage error');
  t.match(usage.stderr, 'ERR_TLS_CACHE_USAGE: tls-resumption status takes no module');
});

t.test('an answer that is not a status is refused; dead runtimes\' sockets are removed', async (t) => {
  const { createServer } = await import('node:net');
  const { frame } = await import('../lib/owner/frames.ts');
  const { pack, O_STATUS } = await import('../lib/owner/messages.ts');
  const { removeDeadPrimarySockets } = await import('../lib/owner/socket-path.ts');
  mkdirSync(join(dir, 'forged'), { mode: 0o700 });
  const socket = join(dir, 'forged', 'app.sock');
  // Something at the socket answering with a status of the wrong shape (a table without its capacity).
  const server = createServer((connection) => {
    connection.on('error', () => {});
    connection.once('data', () => connection.write(frame(pack([O_STATUS, 1, { version: 1, kind: 'daemon', pid: 1, table: { entries: 1 } }]))));
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(() => server.close());
  const forged = await runStatus([], { TLS_CACHE_SOCKET: socket });
  t.equal(forged.code, 3, 'nothing usable answered: exit 3');
  t.match(forged.stderr, `${socket}: a malformed answer`);
  t.equal(forged.stdout, '', 'nothing of it printed');
  // A thread runtime or primary killed leaves its socket: the next one to start removes it.
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => dead.on('exit', resolve));
  const names = [`threads-${dead.pid}.sock`, `threads-${dead.pid}-2.sock`, `primary-${dead.pid}.sock`, `threads-${process.pid}.sock`];
  for (const name of names) writeFileSync(join(dir, 'forged', name), '');
  removeDeadPrimarySockets(join(dir, 'forged'));
  t.same(readdirSync(join(dir, 'forged')).filter((name) => name !== 'app.sock').sort(), [`threads-${process.pid}.sock`], "only a running process's is kept");
});

t.test('the thread runtime (the command line): every figure is its /metrics', async (t) => {
  const socket = join(dir, 'threads', 'app.sock');
  const port = await freePort();
  const metricsPort = await freePort();
  const env = { ...quiet, TLS_CACHE_SOCKET: socket };
  const running = run(BIN, { ...env, TLS_CACHE_WORKERS: '2', TLS_CACHE_METRICS_PORT: String(metricsPort), APP_CERT: files.cert, APP_KEY: files.key }, [MODULE, '--port', String(port)]);
  t.teardown(() => running.kill());
  const listening = await waitForLog(running, 'listening', 30_000);
  t.equal(listening.statusSocket, join(dir, 'threads', `threads-${running.child.pid}.sock`), 'the runtime logs its status socket');
  await traffic(port);
  const [owner, ...others] = await statusJson(env);
  t.same(others, [], 'one owner');
  t.equal(owner.kind, 'threads');
  t.equal(owner.pid, running.child.pid);
  t.same(owner.attached.map((w) => [w.workerId, w.pid, w.listening]), [[1, running.child.pid, true], [2, running.child.pid, true]], 'its two worker threads');
  await matchesMetrics(t, owner, metricsPort, env);
  t.match((await runStatus([], env)).stdout, 'workers: 2 of 2 threads listening (workers 1, 2)');
  running.child.kill('SIGTERM');
  t.equal(await running.exited, 0);
  const after = await runStatus([], env);
  t.equal(after.code, 3, 'stopped: nothing answers, its status socket is gone');
});

t.test('a node:cluster app: every figure is its /metrics, with its worker pids', async (t) => {
  const socket = join(dir, 'cluster', 'app.sock');
  const metricsPort = await freePort();
  const env = { ...quiet, TLS_CACHE_SOCKET: socket };
  const app = await startClusterApp({ ...env, WORKERS: '2', TLS_CACHE_METRICS_PORT: String(metricsPort), TLS_CACHE_OWNER_TIMEOUT: '100ms' });
  t.teardown(() => app.kill());
  await traffic(app.port);
  const [owner, ...others] = await statusJson(env);
  t.same(others, [], 'one owner');
  t.equal(owner.kind, 'primary');
  t.equal(owner.pid, app.child.pid);
  t.equal(owner.socket, join(dir, 'cluster', `primary-${app.child.pid}.sock`));
  t.same(owner.attached.map((w) => w.pid), [...app.pids].sort((a, b) => a - b), 'its two worker processes, by pid');
  await matchesMetrics(t, owner, metricsPort, env);
});

t.test('the cache daemon with plain processes: every figure is its /metrics, with their pids', async (t) => {
  const socket = join(dir, 'daemon', 'app.sock');
  const metricsPort = await freePort();
  const env = { ...quiet, TLS_CACHE_SOCKET: socket };
  t.teardown(() => {
    const pid = daemonPid(socket);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  });
  const servers: Array<Running & { port: number; kill(): void }> = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    // The daemon inherits the environment of the process that starts it: its metrics endpoint.
    const server = run(PLAIN_SERVER, { ...env, TLS_CACHE_CERT: files.cert, TLS_CACHE_KEY: files.key, TLS_CACHE_METRICS_PORT: String(metricsPort), TLS_CACHE_OWNER_TIMEOUT: '100ms', PORT: String(port) });
    t.teardown(() => server.kill());
    await waitForLog(server, 'fixture listening', 20_000);
    servers.push(Object.assign(server, { port }));
  }
  await until(async () => (await statusJson(env))[0]?.workers.listening === 2, 10_000);
  await traffic(servers[0].port);
  const [owner, ...others] = await statusJson(env);
  t.same(others, [], 'one owner');
  t.equal(owner.kind, 'daemon');
  t.equal(owner.pid, daemonPid(socket));
  t.equal(owner.socket, socket);
  t.same(owner.attached.map((w) => w.pid), servers.map((s) => s.child.pid!).sort((a, b) => a - b), 'both processes, by pid');
  await matchesMetrics(t, owner, metricsPort, env);
  t.match((await runStatus([], env)).stdout, /^cache daemon pid \d+, up \d+s/m);
});

t.test('another user cannot ask: its directory is not theirs', { skip: process.getuid?.() !== 0 ? 'needs root to run a process as another user' : false }, async (t) => {
  const socket = join(dir, 'private', 'app.sock');
  const port = await freePort();
  const env = { ...quiet, TLS_CACHE_SOCKET: socket };
  const running = run(BIN, { ...env, TLS_CACHE_WORKERS: '1', APP_CERT: files.cert, APP_KEY: files.key }, [MODULE, '--port', String(port)]);
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening', 30_000);
  t.equal((await runStatus([], env)).code, 0, 'its own user gets an answer');
  // uid 65534 runs a copy of this Node (the clone may be where it cannot go) on the sources, if it can read them.
  const reachable = mkdtempSync(join(tmpdir(), 'status-other-uid-'));
  t.teardown(() => rmSync(reachable, { recursive: true, force: true }));
  chmodSync(reachable, 0o755);
  const binary = join(reachable, 'node');
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  // The test's directory lets anyone pass through: only the socket's own private directory stands in the way.
  chmodSync(dir, 0o711);
  t.teardown(() => chmodSync(dir, 0o700));
  const as65534 = (more: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      // Through `env -i`: tap puts its process-tracking loader into every child's NODE_OPTIONS.
      const child = spawn('env', ['-i', 'PATH=/usr/bin:/bin', ...Object.entries(more).map(([k, v]) => `${k}=${v}`), binary, BIN, 'status'], {
        uid: 65534,
        gid: 65534,
        cwd: reachable,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const other = await as65534({ TLS_CACHE_SOCKET: socket });
  if (/Cannot find module|EACCES.*lib\/cli/.test(other.stderr)) {
    t.comment(`skipped: uid 65534 cannot read the sources here: ${other.stderr.slice(0, 200)}`);
    return;
  }
  t.equal(other.code, 1, 'refused, exit 1');
  t.match(other.stderr, /tls-resumption status: ERR_TLS_CACHE_SOCKET: The socket's directory .* belongs to uid 0, not to this user \(uid 65534\)/);
  t.equal(other.stdout, '', 'nothing of the owner printed');
  const own = await as65534({ TMPDIR: reachable });
  t.equal(own.code, 3, "with its own default directory: nothing of this user's is found");
});

t.teardown(removeCertificateFiles);
