/**
 * Two hosts sharing one real redis-server: two separate server processes,
 * each with its own shared table and two worker threads, started with
 * different command lines. Clients alternating between them resume by
 * session ID (TLS 1.2) and by ticket (TLS 1.3), across a fleet-wide
 * rotation, and a flush on one host reaches the other.
 */
import t from 'tap';
import { metric } from './helpers/metric.ts';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SecureVersion } from 'node:tls';
import { visitTls, type Visit } from './fixtures/clients.ts';
import { freePort } from './fixtures/process.ts';
import { ticketOf } from './helpers/session-der.ts';
import { certificateFiles, startHost, type Host } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { until } from './helpers/until.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'resumption-test-secret-0123456789abcdefghijkl';

interface Fleet {
  hosts: [Host, Host];
  metricsPorts: [number, number];
}

async function twoHosts(t: { teardown(fn: () => void | Promise<void>): void }, extra: Record<string, string>): Promise<Fleet> {
  const redis = await startRedis(t);
  const certificate = await certificateFiles(t);
  const metricsPorts: [number, number] = [await freePort(), await freePort()];
  const env = (metricsPort: number) => ({
    ...certificate,
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_REDIS_NAMESPACE: 'shop',
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_LOG_LEVEL: 'info',
    TLS_CACHE_METRICS_PORT: String(metricsPort),
    // Not the 5 ms default: this machine's 2 cores are shared with other jobs, and a lookup whose reply waits
    // behind them is a miss by design, which would break the exact counts below (the bound itself is tested in
    // redis-sessions.ts, the default in the bench).
    TLS_CACHE_REDIS_TIMEOUT: '1s',
    ...extra,
  });
  // Different command lines: Node's default session ID context (a hash of the command line) would differ; the
  // deployment's (TLS_CACHE_SESSION_ID_CONTEXT, docs/configuration.md) does not.
  const hosts = (await Promise.all([
    startHost(t, 'host-a', env(metricsPorts[0])),
    startHost(t, 'host-b', env(metricsPorts[1]), ['--role', 'second-host', 'extra']),
  ])) as [Host, Host];
  return { hosts, metricsPorts };
}

/** `clients` clients, each making a full handshake then `returns` more visits, alternating hosts; returns every visit. */
async function alternate(
  hosts: [Host, Host],
  maxVersion: SecureVersion,
  sessions: Array<Buffer | undefined>,
  returns: number,
  firstHost: (client: number) => number,
): Promise<{ resumed: number; offered: number; last: Visit[] }> {
  let resumed = 0;
  let offered = 0;
  const last: Visit[] = [];
  for (let client = 0; client < sessions.length; client++) {
    let visit: Visit | undefined;
    for (let i = 0; i <= returns; i++) {
      const host = hosts[(firstHost(client) + i) % 2];
      const session = sessions[client];
      visit = await visitTls({ port: host.port, session, maxVersion });
      if (session !== undefined) {
        offered++;
        if (visit.reused) resumed++;
      }
      sessions[client] = visit.session;
    }
    last.push(visit!);
  }
  return { resumed, offered, last };
}

t.test('TLS 1.2 by session ID (tickets off): a client alternating between two hosts resumes >= 99%', async (t) => {
  const { hosts, metricsPorts } = await twoHosts(t, { TLS_CACHE_TICKETS: 'off' });
  // 40 clients, 5 visits each, alternating hosts: 160 resumptions offered, 40 of them a first visit to the other host.
  const sessions: Array<Buffer | undefined> = Array(40).fill(undefined);
  const { resumed, offered } = await alternate(hosts, 'TLSv1.2', sessions, 4, (client) => client % 2);
  t.equal(offered, 160);
  t.ok(resumed >= 0.99 * offered, `${resumed} of ${offered} resumed`);
  const hits = (await metric(metricsPorts[0], 'tls_session_cache_redis_hits_total')) + (await metric(metricsPorts[1], 'tls_session_cache_redis_hits_total'));
  t.equal(hits, 40, 'each session crossed hosts through Redis once, then resumed from the local table');
  const timeouts = (await metric(metricsPorts[0], 'tls_session_cache_redis_timeouts_total')) + (await metric(metricsPorts[1], 'tls_session_cache_redis_timeouts_total'));
  t.comment(`Redis lookups over the timeout (1 s): ${timeouts}`);
  for (const host of hosts) {
    t.equal(host.logs.filter((l) => l.msg === 'redis connected').length, 1, `${host.name}: the primary logs "redis connected" once`);
  }

  // Another real client: openssl s_client, its session saved after a full handshake on host A, resumed on B then A.
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-sess-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'session.pem');
  const sClient = (port: number, session: '-sess_out' | '-sess_in'): Promise<string> =>
    new Promise((resolve) => {
      const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-no_ticket', session, file], { timeout: 10_000 }, (_error, stdout) =>
        resolve(/^(New|Reused),/m.exec(stdout)?.[1] ?? stdout.slice(-300)),
      );
      child.stdin?.end('\n');
    });
  t.equal(await sClient(hosts[0].port, '-sess_out'), 'New', 'openssl s_client: a full handshake on host A');
  t.equal(await sClient(hosts[1].port, '-sess_in'), 'Reused', 'openssl s_client: resumed on host B (through Redis)');
  t.equal(await sClient(hosts[0].port, '-sess_in'), 'Reused', 'and on host A again');
});

t.test('TLS 1.3 by ticket: alternating hosts resumes >= 99%, across a fleet-wide rotation; a flush reaches every host', async (t) => {
  const { hosts, metricsPorts } = await twoHosts(t, { TLS_CACHE_TICKETS: 'on', TICKETS: '1' });
  const [a, b] = hosts;
  // Phase 1: 20 clients get a ticket (full handshake) and resume on both hosts.
  const before: Array<Buffer | undefined> = Array(20).fill(undefined);
  const first = await alternate(hosts, 'TLSv1.3', before, 2, (client) => client % 2);
  const oldKeys = new Set(before.map((s) => ticketOf(s!)!.subarray(0, 16).toString('hex')));
  t.equal(oldKeys.size, 1, 'every ticket so far under one key, whichever host issued it');

  // A rotation on host A only (SIGUSR1): host B loads the new key.
  const rotationsB = await metric(metricsPorts[1], 'tls_session_cache_ticket_key_rotations_total');
  a.child.kill('SIGUSR1');
  await until(async () => (await metric(metricsPorts[1], 'tls_session_cache_ticket_key_rotations_total')) > rotationsB, 10_000);
  t.pass('host B converged on the rotation made on host A');

  // Phase 2: the old tickets still resume on both hosts; 20 new clients get tickets under the new key and resume on both.
  const old = await alternate(hosts, 'TLSv1.3', before, 4, (client) => (client + 1) % 2);
  const after: Array<Buffer | undefined> = Array(20).fill(undefined);
  const fresh = await alternate(hosts, 'TLSv1.3', after, 4, (client) => client % 2);
  const newKeys = new Set(after.map((s) => ticketOf(s!)!.subarray(0, 16).toString('hex')));
  t.equal(newKeys.size, 1, 'new tickets under one key on both hosts');
  t.notOk(oldKeys.has([...newKeys][0]), 'a new key');
  const resumed = first.resumed + old.resumed + fresh.resumed;
  const offered = first.offered + old.offered + fresh.offered;
  t.equal(offered, 220, "40 + 100 (old tickets, every visit) + 80");
  t.ok(resumed >= 0.99 * offered, `${resumed} of ${offered} resumed by ticket (old tickets after the rotation: ${old.resumed} of ${old.offered})`);

  // A flush on host B (SIGUSR2): host A drops its keys too, so no earlier ticket resumes anywhere.
  b.child.kill('SIGUSR2');
  await a.waitForLog((l) => l.msg === 'flushed by another host: every session of this host is gone');
  await until(async () => {
    const visit = await visitTls({ port: a.port, session: after[0], maxVersion: 'TLSv1.3' });
    return !visit.reused;
  }, 5000);
  let refused = 0;
  for (const session of [...before, ...after]) {
    for (const host of hosts) if (!(await visitTls({ port: host.port, session, maxVersion: 'TLSv1.3' })).reused) refused++;
  }
  t.equal(refused, 80, 'after the flush, no earlier ticket resumes on either host');
  const again = await alternate(hosts, 'TLSv1.3', Array(5).fill(undefined), 2, (client) => client % 2);
  t.equal(again.resumed, again.offered, 'and new ones resume on both');
});
