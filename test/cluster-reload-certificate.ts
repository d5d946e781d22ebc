/**
 * A renewed certificate, the way operators deploy one: the files are
 * replaced, then SIGHUP. The new certificate is served by every worker;
 * sessions made under the old one (session IDs, TLS 1.2 and 1.3 tickets)
 * get full handshakes; sessions made under the new one resume on every
 * worker. A SIGHUP with the same certificate ends nothing.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadCertificate, type Certificate } from '../examples/certificate.ts';
import { visitTls, type Visit, type VisitOptions } from './fixtures/clients.ts';
import { freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { until } from './helpers/until.ts';

const RUN_CLUSTER = fileURLToPath(new URL('./fixtures/run-cluster.ts', import.meta.url));
const KINDS: Array<[string, Pick<VisitOptions, 'maxVersion' | 'noTicket'>]> = [
  ['session ID', { maxVersion: 'TLSv1.2', noTicket: true }],
  ['TLS 1.2 ticket', { maxVersion: 'TLSv1.2' }],
  ['TLS 1.3 ticket', { maxVersion: 'TLSv1.3' }],
];
const SESSIONS = 10;

const fingerprint = (c: Certificate): string => new X509Certificate(c.cert).fingerprint256;

/** Writes the certificate's files as ACME clients do: a new file renamed over the old. */
function install(dir: string, certificate: Certificate): void {
  for (const [name, pem] of [['cert.pem', certificate.cert], ['key.pem', certificate.key]] as const) {
    writeFileSync(join(dir, `${name}.new`), pem, { mode: 0o600 });
    renameSync(join(dir, `${name}.new`), join(dir, name));
  }
}

/** SIGHUP, then waits for the reload's summary line (the `count`th). */
async function reload(running: Running, count: number): Promise<void> {
  running.child.kill('SIGHUP');
  await until(() => running.logs.filter((l) => l.msg === 'reload complete: every worker replaced').length >= count, 60_000);
}

/** A full handshake per kind and session, each kept for later. */
async function sessions(port: number): Promise<Visit[][]> {
  const made: Visit[][] = [];
  for (const [, kind] of KINDS) {
    const visits: Visit[] = [];
    for (let i = 0; i < SESSIONS; i++) visits.push(await visitTls({ port, ...kind }));
    made.push(visits);
  }
  return made;
}

/** Offers every session again: how many resumed per kind, the certificates and threads seen. */
async function offer(port: number, made: Visit[][]) {
  const resumed: number[] = [];
  const certificates = new Set<string | undefined>();
  const threads = new Set<number>();
  for (const [i, [, kind]] of KINDS.entries()) {
    let count = 0;
    for (const { session } of made[i]) {
      const visit = await visitTls({ port, ...kind, session });
      if (visit.reused) count++;
      certificates.add(visit.fingerprint);
      threads.add(visit.served.threadId);
    }
    resumed.push(count);
  }
  return { resumed, certificates, threads };
}

t.test('certificate files replaced, then SIGHUP: the new certificate, old sessions end, new ones resume', async (t) => {
  const [X, Y] = await Promise.all([loadCertificate({}), loadCertificate({})]);
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-renew-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  install(dir, X);
  const port = await freePort();
  const running = run(RUN_CLUSTER, {
    KIND: 'tls',
    TICKETS: '1',
    CERT_FILES: '1',
    PORT: String(port),
    TLS_CACHE_WORKERS: '4',
    TLS_CACHE_CERT: join(dir, 'cert.pem'),
    TLS_CACHE_KEY: join(dir, 'key.pem'),
  });
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening', 30_000);

  const underX = await sessions(port);
  t.ok(underX.flat().every((v) => v.fingerprint === fingerprint(X) && !v.reused), 'X served, full handshakes');

  // Same certificate: a reload ends nothing.
  await reload(running, 1);
  const same = await offer(port, underX);
  t.same(same.resumed, [SESSIONS, SESSIONS, SESSIONS], 'same certificate: every session from before resumed, of every kind');

  install(dir, Y);
  await reload(running, 2);
  const seen = new Set<string | undefined>();
  const threads = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const visit = await visitTls({ port });
    seen.add(visit.fingerprint);
    threads.add(visit.served.threadId);
  }
  t.same([...seen], [fingerprint(Y)], `every worker (${threads.size} threads seen) serves the new certificate`);
  t.equal(threads.size, 4);

  const old = await offer(port, underX);
  t.same(old.resumed, [0, 0, 0], 'sessions made under the old certificate: full handshakes, of every kind');
  t.same([...old.certificates], [fingerprint(Y)], 'with the new certificate');

  const underY = await sessions(port);
  const fresh = await offer(port, underY);
  t.same(fresh.resumed, [SESSIONS, SESSIONS, SESSIONS], 'sessions made under the new certificate resume, of every kind');
  t.ok(fresh.threads.size > 1, `on ${fresh.threads.size} workers`);
  t.notOk(running.logs.some((l) => l.level === 50), 'no error logged');
});
