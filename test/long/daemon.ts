/**
 * Processes with no primary of their own (issue 23), without PM2: two
 * plain processes on one host share sessions through the cache daemon the
 * first of them starts; the daemon killed with SIGKILL, they go on serving
 * full handshakes without stalling, start another and resume again; the
 * socket is private (another uid cannot connect) and the daemon survives
 * random, truncated and oversized frames, counting them. A new session's
 * handshake ends only once the daemon told the other processes its ID (the
 * daemon stopped mid-handshake, the client offers the session elsewhere the
 * moment its handshake ends, and it resumes).
 */
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import t from 'tap';
import { freePort, run, waitForLog, type Running } from '../fixtures/process.ts';
import { visit, type Visit } from '../helpers/cluster-client.ts';
import { metric } from '../helpers/metric.ts';
import { until } from '../helpers/until.ts';
import { isRunning, removeDeadPrimarySockets } from '../../lib/owner/socket-path.ts';
import { writeCertificateFiles } from '../helpers/certificate-files.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/plain-server.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'daemon-test-'));
const socket = join(dir, 'cache', 'app.sock');
const lock = `${socket}.lock`;
await writeCertificateFiles(dir);
const metricsPort = await freePort();
const env = {
  TLS_CACHE_CERT: join(dir, 'cert.pem'),
  TLS_CACHE_KEY: join(dir, 'key.pem'),
  TLS_CACHE_SOCKET: socket,
  TLS_CACHE_LOG_LEVEL: 'debug',
  TLS_CACHE_LOG_FORMAT: 'json',
  TLS_CACHE_SUMMARY_INTERVAL: '0',
  // Lookups get 100 ms, as in the other process tests: on a loaded machine a lookup can miss the default 5 ms by
  // scheduling alone (missed bounds are tested in cluster-processes-primary-gone.ts).
  TLS_CACHE_OWNER_TIMEOUT: '100ms',
  // The daemon inherits the environment of the process that starts it: its metrics endpoint.
  TLS_CACHE_METRICS_PORT: String(metricsPort),
};
const daemonPid = (): number | undefined => {
  try {
    return Number(readFileSync(lock, 'utf8'));
  } catch {
    return undefined;
  }
};
t.teardown(() => {
  const pid = daemonPid();
  if (pid !== undefined) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(more: Record<string, string> = {}): Promise<Running & { port: number; kill(): void }> {
  const port = await freePort();
  const running = run(FIXTURE, { ...env, ...more, PORT: String(port) });
  t.teardown(() => running.kill());
  await waitForLog(running, 'fixture listening', 20_000);
  return Object.assign(running, { port });
}

/** Visits alternately, each offering the session of the one before; counts resumptions. */
async function alternate(ports: number[], count: number, version: 'TLSv1.2' | 'TLSv1.3'): Promise<{ reused: number; pids: Set<number>; visits: Visit[] }> {
  let session: Buffer | undefined;
  let reused = 0;
  const pids = new Set<number>();
  const visits: Visit[] = [];
  for (let i = 0; i <= count; i++) {
    const v = await visit({ port: ports[i % ports.length], version, noTicket: version === 'TLSv1.2', session });
    visits.push(v);
    if (i > 0 && v.reused) reused++;
    pids.add(v.greeting.pid);
    session = v.session;
  }
  return { reused, pids, visits };
}

const a = await startServer();
const b = await startServer();

t.test('the first process started the daemon; it is private to this user', async (t) => {
  t.ok(daemonPid(), 'a daemon holds the lock beside the socket');
  // At most the hello timeout (2 s) even while the daemon starts: on a quiet machine it answers well within it.
  const attachMs = Number(a.logs.find((l) => l.msg === 'fixture listening')?.attachMs);
  t.ok(attachMs < 2500, `A's attach took ${attachMs.toFixed(0)} ms (hello timeout 2 s)`);
  t.equal(statSync(dirname(socket)).mode & 0o777, 0o700, "the socket's directory is 0700");
  t.equal(statSync(socket).mode & 0o777, 0o600, 'the socket is 0600');
  t.equal(statSync(`${socket}.log`).mode & 0o777, 0o600, "the daemon's log is 0600");
});

t.test('two independent processes share sessions through the daemon', async (t) => {
  const ids = await alternate([a.port, b.port], 20, 'TLSv1.2');
  t.equal(ids.reused, 20, `TLS 1.2 session IDs: ${ids.reused} of 20 alternating offers resumed`);
  t.equal(ids.pids.size, 2, 'on both processes');
  const tickets = await alternate([a.port, b.port], 20, 'TLSv1.3');
  t.equal(tickets.reused, 20, `TLS 1.3 tickets, each used once: ${tickets.reused} of 20 resumed`);
});

t.test('the daemon killed: full handshakes, no stall; another daemon, and sessions shared again', async (t) => {
  const first = daemonPid()!;
  process.kill(first, 'SIGKILL');
  // Served at once, without waiting for the daemon: at most the lookup bound per handshake, plus the handshake.
  const during: Visit[] = [];
  for (let i = 0; i < 10; i++) during.push(await visit({ port: i % 2 === 0 ? a.port : b.port, version: 'TLSv1.2', noTicket: true, timeout: 2000 }));
  t.equal(during.length, 10, 'every connection was served while the daemon was gone');
  t.ok(during.every((v) => v.ms < 1000), `none waited (slowest ${Math.max(...during.map((v) => v.ms)).toFixed(0)} ms)`);
  // The processes start another daemon by themselves.
  await until(() => daemonPid() !== undefined && daemonPid() !== first, 15_000);
  await until(async () => (await alternate([a.port, b.port], 1, 'TLSv1.2')).reused === 1, 15_000);
  const ids = await alternate([a.port, b.port], 20, 'TLSv1.2');
  t.equal(ids.reused, 20, `after: TLS 1.2 session IDs ${ids.reused} of 20 resumed`);
  const tickets = await alternate([a.port, b.port], 20, 'TLSv1.3');
  t.equal(tickets.reused, 20, `after: TLS 1.3 tickets ${tickets.reused} of 20 resumed (the new daemon's keys)`);
});

t.test("TLS 1.3's made-up legacy session IDs are not sent to the daemon; sessions stored before a process started still resume there", async (t) => {
  // Counts reach the daemon within a second (COUNTS_INTERVAL_MS); its metrics add up both processes.
  const skipped = (): Promise<number> => metric(metricsPort, 'tls_session_cache_owner_skipped_total');
  const lookups = (): Promise<number> => metric(metricsPort, 'tls_session_cache_owner_lookups_total');
  // The counts of the tests before: all in once they stop changing for longer than a shipment interval.
  const settled = async (): Promise<[number, number]> => {
    let last = [NaN, NaN];
    await until(async () => {
      const now = [await skipped().catch(() => NaN), await lookups().catch(() => NaN)];
      const same = now.every((n, i) => !Number.isNaN(n) && n === last[i]);
      last = now;
      if (!same) await new Promise((resolve) => setTimeout(resolve, 1200));
      return same;
    }, 15_000);
    return last as [number, number];
  };
  const [skippedBefore, lookupsBefore] = await settled();
  const tickets = await alternate([a.port, b.port], 20, 'TLSv1.3');
  t.equal(tickets.reused, 20, `TLS 1.3 tickets: ${tickets.reused} of 20 resumed`);
  // 21 ClientHellos, each with a random 32-byte legacy session ID that Node looks up: answered without the daemon.
  const [skippedAfter, lookupsAfter] = await settled();
  t.equal(skippedAfter - skippedBefore, 21, `${skippedAfter - skippedBefore} lookups of 21 not sent (the daemon's filter)`);
  t.equal(lookupsAfter - lookupsBefore, 0, `${lookupsAfter - lookupsBefore} sent to the daemon`);

  // Sessions made on A and B before C starts: C gets the daemon's filter with its hello, and asks about them.
  const made: Buffer[] = [];
  for (const port of [a.port, b.port, a.port, b.port]) made.push((await visit({ port, version: 'TLSv1.2', noTicket: true })).session!);
  // Those 4 full handshakes offered no session ID, so nothing was looked up since: the counts stand where they were.
  const c = await startServer();
  const [skippedBeforeC, lookupsBeforeC] = [skippedAfter, lookupsAfter];
  let reused = 0;
  for (const session of made) if ((await visit({ port: c.port, version: 'TLSv1.2', noTicket: true, session })).reused) reused++;
  t.equal(reused, made.length, `a process started afterwards resumed ${reused} of ${made.length} sessions stored before it`);
  for (let i = 0; i < 3; i++) await visit({ port: c.port, version: 'TLSv1.3' });
  // C holds the daemon's filter (the TLS 1.3 IDs were not sent), and the filter held the sessions from before (they were).
  const [skippedAfterC, lookupsAfterC] = await settled();
  t.equal(skippedAfterC - skippedBeforeC, 3, "C answered its 3 TLS 1.3 ClientHellos' lookups itself: it has the filter");
  t.equal(lookupsAfterC - lookupsBeforeC, made.length, `C asked the daemon about the ${made.length} sessions from before: its filter held them`);
  // And sessions stored after it started, by the others (announced by the daemon), both ways.
  const ids = await alternate([a.port, c.port, b.port], 12, 'TLSv1.2');
  t.equal(ids.reused, 12, `then ${ids.reused} of 12 resumed alternating over the three processes`);
  c.kill();
});

t.test("a process whose settings are not the daemon's does not use it, and serves on its own", async (t) => {
  const other = await startServer({ TLS_CACHE_SESSION_TIMEOUT: '2m' });
  await until(() => other.logs.some((l) => typeof l.msg === 'string' && l.msg.startsWith("the cache owner's settings are not this process's")), 10_000);
  const line = other.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith("the cache owner's settings are not this process's"))!;
  t.equal(line.level, 50, 'said at error level');
  t.same(line.owner, { sessionTimeout: 3600, sessionIdContext: 'tls-resumption', tickets: 'on' }, "naming the daemon's settings");
  t.same(line.ours, { sessionTimeout: 120, sessionIdContext: 'tls-resumption', tickets: 'on' }, 'and its own');
  const mixed = await alternate([a.port, other.port], 4, 'TLSv1.2');
  t.equal(mixed.reused, 0, 'no session crosses between it and the others');
  const own = await alternate([other.port], 4, 'TLSv1.2');
  t.equal(own.reused, 4, 'it resumes its own sessions (its local copy)');
  other.kill();
});

t.test('the sockets of node:cluster primaries that are gone are removed, and only those', async (t) => {
  const directory = mkdtempSync(join(dir, 'primaries-'));
  const gone = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => gone.on('exit', resolve));
  for (const name of [`primary-${gone.pid}.sock`, `primary-${process.pid}.sock`, `primary-${process.ppid}.sock`, 'app.sock']) writeFileSync(join(directory, name), '');
  removeDeadPrimarySockets(directory);
  t.same(readdirSync(directory).sort(), ['app.sock', `primary-${process.pid}.sock`, `primary-${process.ppid}.sock`].sort(), "the dead primary's socket went; running ones and others stayed");
});

t.test('a zombie (a killed daemon that no one reaped, as in a container) counts as gone', async (t) => {
  // sh backgrounds a child that exits at once, then becomes a sleep that never reaps it: a zombie for 3 s.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 3'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => parent.kill());
  const [chunk] = (await once(parent.stdout!, 'data')) as [Buffer];
  const zombie = Number(chunk.toString().trim());
  await until(() => readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z '), 2000);
  t.notOk(isRunning(zombie), `pid ${zombie}, a zombie: not running (signal 0 still reaches it)`);
  t.ok(isRunning(process.pid), 'this process runs');
  const directory = mkdtempSync(join(dir, 'zombie-'));
  writeFileSync(join(directory, `primary-${zombie}.sock`), '');
  removeDeadPrimarySockets(directory);
  t.same(readdirSync(directory), [], "a zombie primary's socket is removed");
});

t.test('a process of another uid cannot connect to the socket', { skip: process.getuid?.() !== 0 ? 'needs root to run a process as another user' : false }, async (t) => {
  // uid 65534 runs a copy of this Node from a directory of its own that everyone may enter: the clone (and with it
  // process.execPath) may be where only root can go (under a mktemp -d, or /root), and uid 65534 could not start it.
  const reachable = mkdtempSync(join(tmpdir(), 'daemon-other-uid-'));
  t.teardown(() => rmSync(reachable, { recursive: true, force: true }));
  chmodSync(reachable, 0o755);
  const binary = join(reachable, 'node');
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  /** What uid 65534 gets connecting to `path`: `connected`, the error's code, or why it did not run. */
  const connectAs65534 = (path: string): Promise<string> =>
    new Promise((resolve) => {
      const code = `require('node:net').connect(${JSON.stringify(path)}).on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log(e.code); process.exit(0) })`;
      // Through `env -i`: tap puts its process-tracking loader, a file of the clone, into every child's NODE_OPTIONS.
      const child = spawn('env', ['-i', 'PATH=/usr/bin:/bin', binary, '-e', code], { uid: 65534, gid: 65534, cwd: reachable, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      child.on('error', (error) => resolve(`not started: ${error.message}`));
      child.on('close', (status, signal) => resolve(out.trim() || `exited with ${status ?? signal}, printing nothing: ${err.slice(-300)}`));
    });

  // The control: a socket anyone may use, which uid 65534 reaches.
  const open = createServer();
  const openPath = join(reachable, 'open.sock');
  await new Promise<void>((resolve) => open.listen(openPath, resolve));
  t.teardown(() => open.close());
  chmodSync(openPath, 0o666);
  t.equal(await connectAs65534(openPath), 'connected', 'uid 65534 connects to a socket that everyone may use (the check works)');

  // The test's own directory lets anyone pass through, so that only what the daemon made stands in the way.
  chmodSync(dir, 0o711);
  t.teardown(() => chmodSync(dir, 0o700));
  t.equal(statSync(dirname(socket)).mode & 0o777, 0o700, "the socket's directory: mode 0700");
  t.equal(statSync(socket).mode & 0o777, 0o600, 'the socket: mode 0600');
  t.equal(await connectAs65534(socket), 'EACCES', "uid 65534 is refused: it may not enter the socket's directory");
  // And the socket's own mode refuses it too, the directory opened for a moment.
  chmodSync(dirname(socket), 0o711);
  try {
    t.equal(await connectAs65534(socket), 'EACCES', 'uid 65534 is refused by the socket itself (mode 0600)');
  } finally {
    chmodSync(dirname(socket), 0o700);
  }
});

t.test("SIGUSR2 to the daemon flushes every session: its table and every process's local copy", async (t) => {
  const made = await visit({ port: a.port, version: 'TLSv1.2', noTicket: true });
  for (const port of [a.port, b.port]) t.ok((await visit({ port, version: 'TLSv1.2', noTicket: true, session: made.session })).reused, 'resumed before the flush');
  process.kill(daemonPid()!, 'SIGUSR2');
  const offered = async (port: number): Promise<boolean> => (await visit({ port, version: 'TLSv1.2', noTicket: true, session: made.session })).reused;
  await until(async () => !(await offered(a.port)) && !(await offered(b.port)), 5000);
  t.notOk(await offered(a.port), 'a full handshake on the process that made it (its local copy dropped)');
  t.notOk(await offered(b.port), 'and on the other one');
});

t.test('random, truncated and oversized frames: refused, counted, the daemon alive', async (t) => {
  const malformed = async (): Promise<number> => metric(metricsPort, 'tls_session_cache_owner_malformed_total');
  await until(async () => !Number.isNaN(await malformed().catch(() => NaN)), 10_000);
  const before = await malformed();
  const send = (bytes: Buffer, waitForClose: boolean): Promise<boolean> =>
    new Promise((resolve) => {
      const s = connect(socket);
      s.on('error', () => {});
      s.on('connect', () => {
        s.write(bytes);
        if (!waitForClose) setTimeout(() => (s.destroy(), resolve(false)), 200);
      });
      s.on('close', () => resolve(true));
    });
  const frame = (payload: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, payload.length]), payload]);
  // Well-framed garbage: each counted, the connection kept.
  for (let i = 0; i < 5; i++) await send(frame(randomBytes(40)), false);
  t.ok(await send(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), true), 'an oversized frame: the daemon closed the connection');
  t.ok(await send(Buffer.from([0, 0, 0, 0]), true), 'an empty frame: closed too');
  await send(Buffer.from([0, 0, 0, 50, 1, 2]), false);
  await send(randomBytes(4096), true);
  await until(async () => (await malformed()) - before >= 7, 5000);
  t.ok((await malformed()) - before >= 7, `${(await malformed()) - before} malformed messages counted (5 garbage, oversized, empty, random)`);
  const ids = await alternate([a.port, b.port], 10, 'TLSv1.2');
  t.equal(ids.reused, 10, 'the daemon still serves: 10 of 10 resumed across the processes');
});

t.test("a new session's handshake ends only once the daemon told every other process its ID: offered elsewhere at once, it resumes", async (t) => {
  // A deployment of its own, whose daemon (started by D, with D's environment) gives lookups a bound of 5 s.
  const heldSocket = join(dir, 'held', 'app.sock');
  const more = { TLS_CACHE_SOCKET: heldSocket, TLS_CACHE_OWNER_TIMEOUT: '5s', TLS_CACHE_METRICS_PORT: '0' };
  const heldDaemon = (): number => Number(readFileSync(`${heldSocket}.lock`, 'utf8'));
  const d = await startServer(more);
  t.teardown(() => {
    try {
      process.kill(heldDaemon(), 'SIGKILL');
    } catch {
      // gone
    }
  });
  const e = await startServer(more);
  // Both hold the daemon's filter once a session made on one resumes on the other.
  await until(async () => (await alternate([d.port, e.port], 1, 'TLSv1.2')).reused === 1, 10_000);
  for (let round = 0; round < 2; round++) {
    const [maker, other] = round === 0 ? [d, e] : [e, d];
    // The client offers its new session to the other process the moment its handshake ends.
    process.kill(heldDaemon(), 'SIGSTOP');
    let continued = false;
    const making = visit({ port: maker.port, version: 'TLSv1.2', noTicket: true, timeout: 10_000 }).then(async (made) => ({
      made,
      endedWhileStopped: !continued,
      offered: await visit({ port: other.port, version: 'TLSv1.2', noTicket: true, session: made.session, timeout: 10_000 }),
    }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    continued = true;
    process.kill(heldDaemon(), 'SIGCONT');
    const { made, endedWhileStopped, offered } = await making;
    t.notOk(endedWhileStopped, `the daemon stopped for 300 ms: the handshake of a new session ended only after it ran again (${made.ms.toFixed(0)} ms)`);
    t.ok(offered.reused, "offered at once to the other process, it resumed there: that process's filter held the ID");
  }
});
