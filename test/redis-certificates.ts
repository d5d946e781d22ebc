/**
 * Certificates across hosts: three hosts share one real redis-server (its
 * sessions and its fleet-wide ticket keys), two with certificate X (started
 * with other command lines, as on other machines), one with certificate Y.
 * Sessions made on an X host resume on the other X host, by session ID and
 * by TLS 1.2 and 1.3 ticket, and never on the Y host, which the client then
 * sees.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadCertificate, type Certificate } from '../examples/certificate.ts';
import { visitTls, type VisitOptions } from './fixtures/clients.ts';
import { startHost } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'certificates-test-secret-0123456789abcdefghij';

function files(t: { teardown(fn: () => unknown): void }, certificate: Certificate): { TLS_CACHE_CERT: string; TLS_CACHE_KEY: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-cert-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cert.pem'), certificate.cert);
  writeFileSync(join(dir, 'key.pem'), certificate.key, { mode: 0o600 });
  return { TLS_CACHE_CERT: join(dir, 'cert.pem'), TLS_CACHE_KEY: join(dir, 'key.pem') };
}

t.test('a session resumes on another host with the same certificate, never on one with another', async (t) => {
  const redis = await startRedis(t);
  const [X, Y] = await Promise.all([loadCertificate({}), loadCertificate({})]);
  const env = {
    TICKETS: '1',
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_LOG_LEVEL: 'info',
    // Not the 5 ms default: this machine's cores are shared (see redis-resumption.ts).
    TLS_CACHE_REDIS_TIMEOUT: '1s',
  };
  const [a, b, c] = await Promise.all([
    startHost(t, 'host-a', { ...env, ...files(t, X) }),
    startHost(t, 'host-b', { ...env, ...files(t, X) }, ['--role', 'second-host']),
    startHost(t, 'host-c', { ...env, ...files(t, Y) }, ['--role', 'third-host', 'extra']),
  ]);
  // Every host holds the fleet's ticket keys before any ticket is issued.
  for (const host of [a, b, c]) await host.waitForLog((l) => l.msg === 'ticket keys shared through redis');

  const kinds: Array<[string, Pick<VisitOptions, 'maxVersion' | 'noTicket'>]> = [
    ['session ID', { maxVersion: 'TLSv1.2', noTicket: true }],
    ['TLS 1.2 ticket', { maxVersion: 'TLSv1.2' }],
    ['TLS 1.3 ticket', { maxVersion: 'TLSv1.3' }],
  ];
  for (const [name, kind] of kinds) {
    let sameResumed = 0;
    let otherResumed = 0;
    const certificates = new Set<string | undefined>();
    for (let i = 0; i < 10; i++) {
      const made = await visitTls({ port: a.port, ...kind });
      const same = await visitTls({ port: b.port, ...kind, session: made.session });
      if (same.reused) sameResumed++;
      const other = await visitTls({ port: c.port, ...kind, session: made.session });
      if (other.reused) otherResumed++;
      certificates.add(other.fingerprint);
    }
    t.equal(sameResumed, 10, `${name}: X host to X host, 10 of 10 resumed`);
    t.equal(otherResumed, 0, `${name}: X host to Y host, none resumed`);
    t.same([...certificates], [new X509Certificate(Y.cert).fingerprint256], `${name}: the client got Y's certificate`);
  }
});
