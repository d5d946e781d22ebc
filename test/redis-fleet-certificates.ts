/**
 * A fleet that says why it does not share (issue 21): hosts on one Redis
 * that serve different certificates resume nothing of each other's (the
 * right rule), and each says so once, naming both fingerprints and what to
 * do; a metric counts the hosts with another certificate; with one
 * certificate nobody warns; once a host moves to the other's certificate
 * (files replaced, SIGHUP), the warnings stop and sessions cross again.
 * Real hosts (the cluster runtime as programs), a real redis-server.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { metric } from './helpers/metric.ts';
import { loadCertificate, type Certificate } from '../examples/certificate.ts';
import { visitTls } from './fixtures/clients.ts';
import { freePort } from './fixtures/process.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { startHost, type Host } from './helpers/redis-hosts.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';
import { until } from './helpers/until.ts';
import { hostsKey, otherCertificateWarning } from '../lib/redis/fleet-certificates.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'fleet-certificates-test-secret-0123456789abcdef';
const WARNING = otherCertificateWarning();
const AGAIN = 'every host of this deployment serves the same certificate again: sessions resume across them';
/** The hosts announce and compare every 250 ms here (2 s by default: the same code, only sooner). */
const INTERVAL_MS = 250;
/** "A few rounds" of announcements and comparisons. */
const ROUNDS = 3;

const fingerprint = (c: Certificate): string => new X509Certificate(c.cert).fingerprint256;

/** A directory holding a certificate's files, replaced as ACME clients do (renamed over). */
function certificateDir(t: { teardown(fn: () => void): void }, certificate: Certificate): { dir: string; install(c: Certificate): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-fleet-cert-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const install = (c: Certificate): void => {
    for (const [name, pem] of [['cert.pem', c.cert], ['key.pem', c.key]] as const) {
      writeFileSync(join(dir, `${name}.new`), pem, { mode: 0o600 });
      renameSync(join(dir, `${name}.new`), join(dir, name));
    }
  };
  install(certificate);
  return { dir, install };
}

async function host(t: Parameters<typeof startHost>[0], name: string, redisUrl: string, namespace: string, dir: string, metricsPort: number): Promise<Host> {
  return startHost(
    t,
    name,
    {
      TICKETS: '1',
      CERT_FILES: '1',
      TLS_CACHE_CERT: join(dir, 'cert.pem'),
      TLS_CACHE_KEY: join(dir, 'key.pem'),
      TLS_CACHE_WORKERS: '2',
      TLS_CACHE_REDIS_URL: redisUrl,
      TLS_CACHE_REDIS_SECRET: SECRET,
      TLS_CACHE_REDIS_NAMESPACE: namespace,
      TLS_CACHE_REDIS_TIMEOUT: '1s',
      TLS_CACHE_METRICS_PORT: String(metricsPort),
      FLEET_INTERVAL_MS: String(INTERVAL_MS),
    },
    [name],
  );
}

/**
 * Waits until every host announced (and so compared) {@link ROUNDS} more
 * times: each announcement is sealed afresh, so its value in Redis changes.
 */
async function rounds(t: Test, redis: TestRedis, namespace: string, hosts: number): Promise<void> {
  const seen = new Map<string, Set<string>>();
  const enough = async (): Promise<boolean> => {
    for (const [host, value] of Object.entries(await redis.client().hgetall(hostsKey(namespace)))) {
      if (!seen.has(host)) seen.set(host, new Set());
      seen.get(host)!.add(value);
    }
    // The first value of each was there already.
    return seen.size === hosts && [...seen.values()].every((values) => values.size > ROUNDS);
  };
  await until(enough, 30 * INTERVAL_MS, INTERVAL_MS / 5);
  t.pass(`${ROUNDS} more rounds of every host's announcement`);
}

const warnings = (h: Host) => h.logs.filter((line) => line.msg === WARNING);
const agreements = (h: Host) => h.logs.filter((line) => line.msg === AGAIN);

const otherCertificateGauge = (metricsPort: number): Promise<number> => metric(metricsPort, 'tls_session_cache_fleet_hosts_other_certificate');

/** TLS 1.2 session IDs made on `from`, offered to `to`: how many of `count` resumed. */
async function crossHost(from: Host, to: Host, count: number): Promise<number> {
  let resumed = 0;
  for (let i = 0; i < count; i++) {
    const made = await visitTls({ port: from.port, maxVersion: 'TLSv1.2', noTicket: true });
    if ((await visitTls({ port: to.port, maxVersion: 'TLSv1.2', noTicket: true, session: made.session })).reused) resumed++;
  }
  return resumed;
}

t.test('one certificate on every host: nobody warns, the gauge stays 0', async (t) => {
  const redis = await startRedis(t);
  const shared = await loadCertificate({});
  const { dir } = certificateDir(t, shared);
  const metrics = [await freePort(), await freePort()];
  const hosts = [await host(t, 'A', redis.url, 'same', dir, metrics[0]), await host(t, 'B', redis.url, 'same', dir, metrics[1])];
  await until(async () => Object.keys(await redis.client().hgetall(hostsKey('same'))).length === 2, 10_000, 100);
  await rounds(t, redis, 'same', 2);
  for (const [i, h] of hosts.entries()) {
    t.equal(warnings(h).length, 0, `host ${h.name} did not warn`);
    t.equal(await otherCertificateGauge(metrics[i]), 0, `host ${h.name}: fleet_hosts_other_certificate 0`);
  }
  t.equal(await crossHost(hosts[0], hosts[1], 10), 10, 'session IDs cross the hosts: 10 of 10');
  const announced = Object.values(await redis.client().hgetall(hostsKey('same')));
  t.notOk(announced.some((value) => value.includes(fingerprint(shared))), 'the announcements in Redis are sealed');
});

t.test('two certificates: each host warns once, naming both; after a move to one certificate the warnings stop', async (t) => {
  const redis = await startRedis(t);
  const [X, Y] = await Promise.all([loadCertificate({}), loadCertificate({})]);
  const a = certificateDir(t, X);
  const b = certificateDir(t, Y);
  const metrics = [await freePort(), await freePort()];
  const A = await host(t, 'A', redis.url, 'two', a.dir, metrics[0]);
  const B = await host(t, 'B', redis.url, 'two', b.dir, metrics[1]);

  await until(() => warnings(A).length > 0 && warnings(B).length > 0, 15_000);
  await rounds(t, redis, 'two', 2);
  t.equal(warnings(A).length, 1, 'host A warned once, over several rounds');
  t.equal(warnings(B).length, 1, 'host B warned once');
  t.match(warnings(A)[0], { level: 40, certificate: fingerprint(X), otherCertificate: fingerprint(Y), hosts: 1 }, "A's warning names its certificate and B's");
  t.match(warnings(B)[0], { level: 40, certificate: fingerprint(Y), otherCertificate: fingerprint(X), hosts: 1 }, "B's names its own and A's");
  t.match(WARNING, /TLS_CACHE_CERT \/ TLS_CACHE_KEY/, 'the warning says what to do');
  t.match(WARNING, /renewed certificate is rolled out host by host/, 'and that a renewal rolled out host by host passes through this');
  t.equal(await otherCertificateGauge(metrics[0]), 1, 'A: fleet_hosts_other_certificate 1');
  t.equal(await otherCertificateGauge(metrics[1]), 1, 'B: fleet_hosts_other_certificate 1');
  t.equal(await crossHost(A, B, 5), 0, 'sessions do not cross the certificates (the rule the warning explains)');
  for (const h of [A, B]) {
    const text = h.output();
    t.notOk(text.includes(SECRET), `host ${h.name} logged no secret`);
  }

  // B moves to A's certificate: files replaced, SIGHUP (a reload).
  const from = B.logs.length;
  b.install(X);
  B.child.kill('SIGHUP');
  await B.waitForLog((line) => line.msg === 'reload complete: every worker replaced', 60_000, from);
  await until(() => agreements(A).length > 0 && agreements(B).length > 0, 15_000);
  await rounds(t, redis, 'two', 2);
  t.equal(warnings(A).length, 1, 'A warned no more');
  t.equal(warnings(B).length, 1, 'B warned no more');
  t.equal(agreements(A).length, 1, 'A said once that every host serves the same certificate again');
  t.equal(agreements(B).length, 1, 'so did B');
  t.equal(await otherCertificateGauge(metrics[0]), 0, 'A: fleet_hosts_other_certificate back to 0');
  t.equal(await otherCertificateGauge(metrics[1]), 0, 'B: back to 0');
  t.equal(await crossHost(A, B, 10), 10, 'session IDs cross the hosts again: 10 of 10');
});

t.test('a host that stops takes its announcement with it; a forged one is refused and counted', async (t) => {
  const redis = await startRedis(t);
  const { dir } = certificateDir(t, await loadCertificate({}));
  const metricsPort = await freePort();
  const A = await host(t, 'A', redis.url, 'stop', dir, metricsPort);
  await until(async () => Object.keys(await redis.client().hgetall(hostsKey('stop'))).length === 1, 10_000, 100);
  // Someone with write access to Redis but not the secret announces a host with another certificate.
  await redis.client().hset(hostsKey('stop'), 'forged', Buffer.from(JSON.stringify({ certificates: ['AA'], at: Date.now() })).toString('base64'));
  const rejected = (): Promise<number> => metric(metricsPort, 'tls_session_cache_redis_rejected_total');
  await until(async () => (await rejected()) > 0, 10_000, 200);
  t.equal(warnings(A).length, 0, 'the forged announcement made no warning');
  t.equal(await otherCertificateGauge(metricsPort), 0, 'and is not counted as a host');
  await A.stop();
  t.same(Object.keys(await redis.client().hgetall(hostsKey('stop'))), ['forged'], "the stopped host's own announcement is gone");
});
