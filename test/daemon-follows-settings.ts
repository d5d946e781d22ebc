/**
 * The daemon follows the deployment's settings (issue 32): the default
 * socket is named after the settings a process must share with its owner
 * (the session ID context, `TLS_CACHE_SESSION_TIMEOUT`, `TLS_CACHE_TICKETS`), so a
 * deploy that changes one starts a daemon of the new settings at a new
 * socket (the new processes share again, nobody touching a daemon), and
 * the old daemon stops once its processes are gone (its idle timeout,
 * shortened here). Plain processes, as PM2 instances or systemd units run,
 * with the default socket in a private runtime directory of the test's.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { visit } from './helpers/cluster-client.ts';
import { statusJson } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { isRunning, settingsDigest } from '../lib/owner/socket-path.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const PLAIN_SERVER = fileURLToPath(new URL('./fixtures/plain-server.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'daemon-follows-test-'));
// The default socket's directory: $XDG_RUNTIME_DIR/tls-resumption (made private by the first process).
const runtime = join(dir, 'runtime');
const sockets = join(runtime, 'tls-resumption');
const lockedPids = (): number[] => {
  try {
    return readdirSync(sockets)
      .filter((name) => name.endsWith('.sock.lock'))
      .map((name) => Number(readFileSync(join(sockets, name), 'utf8')));
  } catch {
    return [];
  }
};
t.teardown(() => {
  for (const pid of lockedPids()) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
await writeCertificateFiles(dir);
const base = {
  XDG_RUNTIME_DIR: runtime,
  TLS_CACHE_LOG_FORMAT: 'json',
  TLS_CACHE_SUMMARY_INTERVAL: '0',
  TLS_CACHE_CERT: join(dir, 'cert.pem'),
  TLS_CACHE_KEY: join(dir, 'key.pem'),
  TLS_CACHE_OWNER_TIMEOUT: '100ms',
  TLS_CACHE_DAEMON_IDLE_TIMEOUT: '2s',
};

async function start(t: { teardown(fn: () => unknown): void }, timeout: string): Promise<Running & { port: number; kill(): void }> {
  const port = await freePort();
  const server = run(PLAIN_SERVER, { ...base, TLS_CACHE_SESSION_TIMEOUT: timeout, PORT: String(port) });
  t.teardown(() => server.kill());
  await waitForLog(server, 'fixture listening', 20_000);
  await until(() => server.logs.some((line) => typeof line.msg === 'string' && line.msg.startsWith('attached to')), 15_000, 20);
  return Object.assign(server, { port });
}

/** Alternates between the ports, each visit offering the session of the one before (TLS 1.2 by ID, or TLS 1.3 tickets used once). */
async function alternate(ports: number[], count: number, version: 'TLSv1.2' | 'TLSv1.3'): Promise<number> {
  let session: Buffer | undefined;
  let reused = 0;
  for (let i = 0; i <= count; i++) {
    const v = await visit({ port: ports[i % ports.length], version, noTicket: version === 'TLSv1.2', session });
    if (i > 0 && v.reused) reused++;
    session = v.session;
  }
  return reused;
}

t.test('a deploy with a new TLS_CACHE_SESSION_TIMEOUT gets a daemon of its own; the old one goes with its processes', async (t) => {
  const oldSocket = join(sockets, `tls-resumption-${settingsDigest({ sessionIdContext: 'tls-resumption', sessionTimeout: 3600, tickets: 'on' })}.sock`);
  const newSocket = join(sockets, `tls-resumption-${settingsDigest({ sessionIdContext: 'tls-resumption', sessionTimeout: 120, tickets: 'on' })}.sock`);
  t.not(oldSocket, newSocket, 'the two settings name two sockets');
  const before = [await start(t, '1h'), await start(t, '1h')];
  t.ok(existsSync(oldSocket), `the first deploy's daemon listens at ${oldSocket}`);
  const oldDaemon = Number(readFileSync(`${oldSocket}.lock`, 'utf8'));
  t.equal(await alternate(before.map((s) => s.port), 10, 'TLSv1.2'), 10, 'the first deploy shares its sessions');

  // The deploy: each process replaced, one at a time, by one with TLS_CACHE_SESSION_TIMEOUT=2m.
  const after = [];
  for (const old of before) {
    old.child.kill('SIGTERM');
    await old.exited;
    after.push(await start(t, '2m'));
  }
  t.ok(existsSync(newSocket), `the new processes started a daemon of their settings at ${newSocket}`);
  const newDaemon = Number(readFileSync(`${newSocket}.lock`, 'utf8'));
  t.not(newDaemon, oldDaemon, 'another daemon');
  for (const server of after) {
    t.notOk(server.logs.some((line) => typeof line.msg === 'string' && line.msg.startsWith("the cache owner's settings are not this process's")), 'no process refused a daemon');
    t.equal(server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('attached to'))?.msg, `attached to the cache daemon (pid ${newDaemon})`, 'each attached to the new daemon');
  }
  const ids = await alternate(after.map((s) => s.port), 50, 'TLSv1.2');
  const tickets = await alternate(after.map((s) => s.port), 50, 'TLSv1.3');
  t.ok(ids >= 49, `after the deploy, TLS 1.2 session IDs: ${ids} of 50 resumed across the new processes`);
  t.ok(tickets >= 49, `TLS 1.3 tickets, each used once: ${tickets} of 50`);
  const [owner] = (await statusJson({ ...base, TLS_CACHE_SESSION_TIMEOUT: '2m' })).filter((o) => o.socket === newSocket);
  t.same(owner?.attached.map((a) => a.pid).sort(), after.map((s) => s.child.pid).sort(), 'status: the new processes are attached to the new daemon');

  // The old daemon has no process left: it stops after its idle time (2 s here), and only the new one is left.
  await until(() => !isRunning(oldDaemon), 15_000, 50);
  t.notOk(existsSync(oldSocket), "the old daemon's socket is gone");
  t.notOk(existsSync(`${oldSocket}.lock`), 'and its lock');
  t.same(lockedPids(), [newDaemon], 'one daemon left: the new one');
  t.ok(isRunning(newDaemon), 'serving');
  t.equal(await alternate(after.map((s) => s.port), 4, 'TLSv1.2'), 4, 'and still resuming');
});
