/**
 * The node:cluster example (examples/cluster-app.ts), end to end: an HTTPS
 * app written the ordinary way with one call and one attach added, started
 * as a real process with 2 worker processes and its development
 * certificate, driven by Node's HTTPS client (its agent reuses TLS
 * sessions) and `openssl s_client`; its workers accept connections
 * themselves (SCHED_NONE, read from /proc); SIGHUP restarts the worker processes
 * (sessions from before resume on the new ones, no extra worker is forked),
 * SIGUSR1 rotates the ticket keys (old tickets still resume), SIGUSR2
 * flushes (they no longer do), SIGTERM stops (its own handler: the
 * socket goes with its stop).
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:crypto';
import { connect } from 'node:tls';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { exec, hasCommand } from './helpers/exec.ts';
import { COMPILE_CACHE, freePort } from './fixtures/process.ts';

const EXAMPLE = fileURLToPath(new URL('../examples/cluster-app.ts', import.meta.url));

const port = await freePort();
// Its socket directory, to see the primary's socket go when it stops.
const socketDirectory = await mkdtemp(join(tmpdir(), 'cluster-app-example-'));
t.teardown(() => rm(socketDirectory, { recursive: true, force: true }));
const child = spawn(process.execPath, [EXAMPLE], {
  env: {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/',
    NODE_COMPILE_CACHE: COMPILE_CACHE,
    PORT: String(port),
    WORKERS: '2',
    TLS_CACHE_OWNER_TIMEOUT: '100ms',
    TLS_CACHE_SOCKET: join(socketDirectory, 'app.sock'),
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
t.teardown(() => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
const deadline = Date.now() + 30_000;
while (!output.includes('listening: curl -k') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
if (!output.includes('listening: curl -k')) throw new Error(`the example did not start: ${output.slice(-2000)}`);

function request(agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent, rejectUnauthorized: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
  t.test(`Node's HTTPS client (${maxVersion}): new connections resume on both worker processes`, async (t) => {
    // No keep-alive: every request is a new TLS connection, offering the session the agent cached.
    const agent = new Agent({ keepAlive: false, maxVersion, minVersion: maxVersion });
    t.teardown(() => agent.destroy());
    const bodies: string[] = [];
    for (let i = 0; i < 30; i++) bodies.push(await request(agent));
    const pids = new Set(bodies.map((b) => /worker process (\d+)/.exec(b)?.[1]));
    const reused = bodies.slice(1).filter((b) => b.includes('TLS session reused')).length;
    t.comment(bodies[1].trim());
    t.equal(pids.size, 2, 'both worker processes answered');
    t.ok(bodies.every((b) => b.includes(maxVersion)), `every connection was ${maxVersion}`);
    t.equal(reused, 29, 'every connection after the first resumed');
  });
}

const REQUEST = 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n';
const hasOpenssl = await hasCommand('openssl');

t.test('openssl s_client -sess_out, then -sess_in: Reused', { skip: !hasOpenssl && 'openssl is missing' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cluster-app-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, flags] of [
    ['TLS 1.2 session ID', ['-tls1_2', '-no_ticket']],
    ['TLS 1.3 ticket', ['-tls1_3']],
  ] as const) {
    const file = join(dir, `${name.replace(/\W/g, '')}.pem`);
    const common = ['s_client', '-connect', `127.0.0.1:${port}`, ...flags, '-ign_eof'];
    t.match((await exec('openssl', [...common, '-sess_out', file], REQUEST)).stdout, /^New, /m, `${name}: a full handshake first`);
    let reused = 0;
    for (let i = 0; i < 4; i++) if (/^Reused, /m.test((await exec('openssl', [...common, '-sess_in', file], REQUEST)).stdout)) reused++;
    t.equal(reused, 4, `${name}: Reused 4 times out of 4`);
  }
});

t.test('the worker processes accept connections themselves (SCHED_NONE): each holds the listening socket', async (t) => {
  const pids = new Set<string>();
  for (let i = 0; i < 20 && pids.size < 2; i++) pids.add((await visitHttps()).pid!);
  t.equal(pids.size, 2, 'both worker processes answered');
  // The socket listening on the port, from the kernel's table (state 0A: LISTEN), and who holds it.
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((file) => readFileSync(file, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A')
    .map((fields) => fields[9]);
  t.equal(inodes.length, 1, 'one listening socket on the port');
  const holds = (pid: string): boolean =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inodes[0]}]`;
      } catch {
        return false;
      }
    });
  for (const pid of pids) t.ok(holds(pid), `worker process ${pid} holds it (under SCHED_RR only the primary would)`);
});

t.test('SIGHUP restarts every worker process; sessions from before resume on the new ones', async (t) => {
  const tls13 = await visitHttps();
  const tls12 = await visitHttps('TLSv1.2', true);
  const before = new Set<string | undefined>();
  for (let i = 0; i < 8; i++) before.add((await visitHttps()).pid);
  child.kill('SIGHUP');
  const done = Date.now() + 30_000;
  while (!output.includes('restart complete: every worker process replaced') && Date.now() < done) await new Promise((r) => setTimeout(r, 50));
  t.match(output, /restart complete: every worker process replaced/, 'the restart completed');
  await new Promise((r) => setTimeout(r, 300));
  const after = new Set<string | undefined>();
  let reused = 0;
  for (let i = 0; i < 8; i++) {
    const v13 = await visitHttps('TLSv1.3', false, tls13.session);
    const v12 = await visitHttps('TLSv1.2', true, tls12.session);
    after.add(v13.pid).add(v12.pid);
    if (v13.reused) reused++;
    if (v12.reused) reused++;
  }
  t.equal(after.size, 2, `2 worker processes serve (${[...after]})`);
  t.ok([...after].every((pid) => !before.has(pid)), `all new (were ${[...before]})`);
  t.equal(reused, 16, 'the TLS 1.3 ticket and the TLS 1.2 session ID from before resumed every time');
  t.notMatch(output, /worker exited; starting another/, 'the example forked no extra worker for the retired ones');
});

t.test('SIGUSR1 rotates (old tickets resume), SIGUSR2 flushes (nothing resumes), SIGTERM stops', async (t) => {
  const tls13 = (await visitHttps()).session!;
  const tls12 = (await visitHttps('TLSv1.2', true)).session!;
  child.kill('SIGUSR1');
  await new Promise((r) => setTimeout(r, 300));
  let reused = 0;
  const pids = new Set<string | undefined>();
  for (let i = 0; i < 8; i++) {
    const v = await visitHttps('TLSv1.3', false, tls13);
    pids.add(v.pid);
    if (v.reused) reused++;
  }
  t.equal(pids.size, 2, 'tried on both worker processes');
  t.equal(reused, 8, 'after a rotation, a ticket from before still resumes');
  child.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 300));
  let after = 0;
  for (let i = 0; i < 8; i++) {
    if ((await visitHttps('TLSv1.3', false, tls13)).reused) after++;
    if ((await visitHttps('TLSv1.2', true, tls12)).reused) after++;
  }
  t.equal(after, 0, 'after a flush, neither the ticket nor the session ID resumes anywhere (table, local copies and keys)');
  const socket = join(socketDirectory, `primary-${child.pid}.sock`);
  t.ok(existsSync(socket), 'the primary listens on its socket');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: the example stopped with exit code 0');
  t.notOk(existsSync(socket), 'its own stop (cache.close()) removed the socket');
  t.notMatch(output, /the IPC channel to the primary closed/, 'a graceful stop (cluster.disconnect) is not reported as a lost primary');
  t.notMatch(output, /"level":(50|60)/, 'no error logged');
});

/** One HTTP/1.0 request over a fresh TLS connection, offering `session`. */
function visitHttps(version: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3', noTicket = false, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined; pid: string | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      rejectUnauthorized: false,
      minVersion: version,
      maxVersion: version,
      session,
      secureOptions: noTicket ? constants.SSL_OP_NO_TICKET : 0,
    });
    let latest = session;
    let reused = false;
    socket.on('session', (s: Buffer) => (latest = s));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('GET / HTTP/1.0\r\nHost: localhost\r\n\r\n');
    });
    let body = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (body += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ reused, session: latest, pid: /worker process (\d+)/.exec(body)?.[1] }));
  });
}
