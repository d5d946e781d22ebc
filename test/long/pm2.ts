/**
 * PM2 cluster mode (issue 23), with real PM2 from npm: 4 instances of
 * `examples/pm2/` (the app imports the built package by its name). Under
 * PM2 the `node:cluster` primary is PM2's own daemon: the instances share
 * sessions through the cache daemon the first of them starts, which
 * outlives every instance. Listening soon after `pm2 start`; TLS 1.2
 * session IDs and TLS 1.3 tickets resume across instances; `pm2 reload`
 * under load fails no connection, and the sessions made before it resume
 * after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { freePort } from '../fixtures/process.ts';
import { reconnect, visit, type Visit } from '../helpers/cluster-client.ts';
import { until } from '../helpers/until.ts';
import { writeCertificateFiles } from '../helpers/certificate-files.ts';
import { APP, ECOSYSTEM, pm2With } from '../helpers/pm2.ts';
import { daemonPid } from '../helpers/daemon-lock.ts';


const dir = mkdtempSync(join(tmpdir(), 'pm2-test-'));
const socket = join(dir, 'cache', 'app.sock');
await writeCertificateFiles(dir);
const port = await freePort();
const env: NodeJS.ProcessEnv = {
  // PM2, its daemon and the instances run on this Node (24), first on the PATH.
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  HOME: process.env.HOME ?? '/',
  PM2_HOME: join(dir, 'pm2'),
  PORT: String(port),
  WORKERS: '4',
  APP_CERT: join(dir, 'cert.pem'),
  APP_KEY: join(dir, 'key.pem'),
  TLS_CACHE_SOCKET: socket,
  TLS_CACHE_LOG_FORMAT: 'json',
  // Right after a reload, on this 2-core machine shared by PM2, 4 new instances, the daemon and the clients, a lookup
  // missed the default 5 ms bound by scheduling alone (19 of 20 sessions resumed in one CI run). Here every lookup
  // must be answered; what a missed bound does is tested in daemon.ts and cluster-processes-primary-gone.ts.
  TLS_CACHE_OWNER_TIMEOUT: '100ms',
};
const pm2 = pm2With(env);
t.teardown(async () => {
  await pm2('kill').catch(() => {});
  const pid = daemonPid(socket);
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const http = { port, http: true } as const;
/** The pids of the instances PM2 runs now. */
async function instancePids(): Promise<number[]> {
  const list = JSON.parse((await pm2('jlist')).stdout) as Array<{ name: string; pid: number; pm2_env: { status: string } }>;
  return list.filter((p) => p.name === APP && p.pm2_env.status === 'online').map((p) => p.pid);
}

// PM2's own daemon first, so that what is timed below is the app's start.
await pm2('ping');
const started = performance.now();
await pm2('start', ECOSYSTEM);
const commandMs = performance.now() - started;
let firstMs = NaN;
for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
  try {
    await visit({ ...http, version: 'TLSv1.3', timeout: 1000 });
    firstMs = performance.now() - started;
    break;
  } catch {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t.test('pm2 start: the instances listen at once, and share one cache daemon', async (t) => {
  t.ok(firstMs - commandMs < 2000, `an instance answered ${(firstMs - commandMs).toFixed(0)} ms after pm2 start returned (it took ${commandMs.toFixed(0)} ms)`);
  const pids = new Set<number>();
  for (const deadline = Date.now() + 20_000; pids.size < 4 && Date.now() < deadline; ) pids.add((await visit({ ...http, version: 'TLSv1.3' })).greeting.pid);
  t.equal(pids.size, 4, 'all 4 instances answer');
  t.same([...pids].sort(), (await instancePids()).sort(), "they are PM2's instances");
  const daemon = daemonPid(socket);
  t.ok(daemon !== undefined && !pids.has(daemon), `one cache daemon (pid ${daemon}), not an instance`);
});

t.test('sessions resume across instances: TLS 1.2 session IDs and TLS 1.3 tickets', async (t) => {
  // An instance that listened before the daemon answered takes its keys within a moment of it.
  await until(async () => (await reconnect({ ...http, version: 'TLSv1.3' }, 8)).reused === 8, 10_000);
  const ids = await reconnect({ ...http, version: 'TLSv1.2', noTicket: true }, 100);
  t.ok(ids.reused >= 99, `TLS 1.2 session IDs: ${ids.reused} of 100 resumed`);
  t.equal(ids.pids.size, 4, 'served by all 4 instances');
  // Each ticket used once, as browsers and curl do: every resumption hands the next one over.
  const tickets = await reconnect({ ...http, version: 'TLSv1.3' }, 100);
  t.ok(tickets.reused >= 99, `TLS 1.3 tickets: ${tickets.reused} of 100 resumed`);
  t.equal(tickets.pids.size, 4, 'served by all 4 instances');
});

t.test('pm2 reload under load: no connection fails, every session made before resumes after', async (t) => {
  const before: Record<'TLSv1.2' | 'TLSv1.3', Buffer[]> = { 'TLSv1.2': [], 'TLSv1.3': [] };
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    for (let i = 0; i < 20; i++) before[version].push((await visit({ ...http, version, noTicket: version === 'TLSv1.2' })).session!);
  }
  const oldPids = await instancePids();
  const daemon = daemonPid(socket);
  let running = true;
  let failed = 0;
  const served: Visit[] = [];
  const errors: string[] = [];
  // 4 clients, each returning with its newest session, now and then starting over with a full handshake.
  const clients = Array.from({ length: 4 }, async (_, c) => {
    let session: Buffer | undefined;
    for (let i = 0; running; i++) {
      try {
        const v = await visit({ ...http, version: c % 2 === 0 ? 'TLSv1.2' : 'TLSv1.3', noTicket: c === 0, session: i % 10 === 0 ? undefined : session });
        served.push(v);
        session = v.session;
      } catch (error) {
        failed++;
        errors.push((error as Error).message);
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  await pm2('reload', APP);
  await new Promise((resolve) => setTimeout(resolve, 500));
  running = false;
  await Promise.all(clients);
  const newPids = await instancePids();
  t.equal(newPids.length, 4, '4 instances after the reload');
  t.notOk(newPids.some((pid) => oldPids.includes(pid)), 'every instance was replaced');
  t.equal(failed, 0, `no connection failed during the reload (${served.length} served${errors.length > 0 ? `; ${[...new Set(errors)].join(', ')}` : ''})`);
  t.ok(served.length >= 40, `the clients kept connecting (${served.length} connections)`);
  t.equal(daemonPid(socket), daemon, 'the cache daemon outlived every instance');
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    let reused = 0;
    const pids = new Set<number>();
    for (const session of before[version]) {
      const v = await visit({ ...http, version, noTicket: version === 'TLSv1.2', session });
      if (v.reused) reused++;
      pids.add(v.greeting.pid);
    }
    t.equal(reused, 20, `${version === 'TLSv1.2' ? 'TLS 1.2 session IDs' : 'TLS 1.3 tickets'} made before the reload: ${reused} of 20 resumed after it`);
    t.ok([...pids].every((pid) => newPids.includes(pid)), 'on the new instances');
  }
});
