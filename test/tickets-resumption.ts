/**
 * Tickets through the shared key ring, with 4 worker threads on one port: a
 * client reconnecting with its latest ticket resumes (nearly) every time,
 * under TLS 1.2 and TLS 1.3, whichever thread it lands on; `openssl
 * s_client -tls1_3 -sess_out / -sess_in` reports the session reused; the
 * fallback (one key through the public API) resumes too until a rotation,
 * after which a ticket under the previous key costs a full handshake.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exec, hasCommand } from './helpers/exec.ts';
import { reconnect, visitTls } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';

const RECONNECTS = 200;

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  t.test(`${version} tickets resume across 4 threads`, async (t) => {
    const { cluster } = await startTestCluster('tls', 'shared', {}, { tickets: true });
    t.teardown(() => cluster.stop());
    const { ratio, workers, visits } = await reconnect(visitTls, cluster.port, RECONNECTS, version);
    t.comment(`${version} tickets: ${(ratio * 100).toFixed(1)}% resumed over ${workers.size} workers`);
    t.ok(visits.every((v) => v.served.protocol === version), `every handshake was ${version}`);
    t.equal(workers.size, 4, 'connections landed on every worker');
    t.ok(ratio >= 0.99, `resumed ${(ratio * 100).toFixed(1)}% >= 99%`);
    const tickets = await cluster.ticketCounters();
    t.ok(tickets.decrypted >= RECONNECTS * 0.99, `the ring decrypted ${tickets.decrypted} tickets`);
    t.equal(tickets.unknownKey, 0);
    const hooks = await cluster.sessionCounters();
    t.equal(hooks.lookupHits, 0, 'no resumption by session ID: every one went by ticket');
    t.equal(cluster.table.stats().hits, 0);
    if (version === 'TLSv1.3') {
      // Every TLS 1.3 resumption is renewed: exactly one fresh ticket each, carrying the session's birth.
      t.equal(tickets.renewed, visits.filter((v) => v.reused).length, `every resumption was answered "renew" (${tickets.renewed})`);
      t.equal(tickets.issued, 2 + tickets.renewed, 'two tickets from the full handshake, then one per resumption');
    } else {
      // TLS 1.2 tickets are never renewed (a renewed one would carry a lifetime hint of 0).
      t.equal(tickets.renewed, 0);
      t.equal(tickets.issued, 1, 'one ticket, from the full handshake only');
    }
    t.equal(tickets.expired, 0);
  });
}

const hasOpenssl = await hasCommand('openssl');

t.test('openssl s_client -tls1_3 -sess_out, then -sess_in: Reused', { skip: !hasOpenssl && 'openssl is missing' }, async (t) => {
  const { cluster } = await startTestCluster('https', 'shared', {}, { tickets: true });
  t.teardown(() => cluster.stop());
  const dir = await mkdtemp(join(tmpdir(), 'tls-resumption-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'session.pem');
  const request = 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n';
  const common = ['s_client', '-connect', `127.0.0.1:${cluster.port}`, '-tls1_3', '-ign_eof'];
  const first = await exec('openssl', [...common, '-sess_out', file], request);
  t.match(first.stdout, /New, TLSv1\.3/, 'the first connection is a full handshake');
  const runs = 12;
  let reused = 0;
  const workers = new Set<number>();
  for (let i = 0; i < runs; i++) {
    const { stdout } = await exec('openssl', [...common, '-sess_in', file], request);
    if (/Reused, TLSv1\.3/.test(stdout) && /"reused":true/.test(stdout)) reused++;
    const worker = /"workerId":(\d+)/.exec(stdout)?.[1];
    if (worker) workers.add(Number(worker));
  }
  t.equal(reused, runs, `openssl reported Reused ${reused} times of ${runs}`);
  t.ok(workers.size >= 2, `served by workers ${[...workers].join(', ')}`);
});

t.test('fallback (public setTicketKeys): resumes until a rotation, then costs a full handshake', async (t) => {
  const { cluster } = await startTestCluster('tls', 'shared', {}, { tickets: true }, { ticketMode: 'fallback' });
  t.teardown(() => cluster.stop());
  const { ratio, workers } = await reconnect(visitTls, cluster.port, 100, 'TLSv1.3');
  t.comment(`fallback, TLS 1.3: ${(ratio * 100).toFixed(1)}% resumed over ${workers.size} workers`);
  t.ok(ratio >= 0.99, 'every thread holds the same current key');
  const before = await visitTls({ port: cluster.port, maxVersion: 'TLSv1.3' });
  cluster.rotateTicketKeys();
  await new Promise((resolve) => setTimeout(resolve, 200)); // the threads set the new key
  const after = await visitTls({ port: cluster.port, maxVersion: 'TLSv1.3', session: before.session });
  t.notOk(after.reused, 'a ticket under the previous key costs a full handshake (one key at a time)');
  const tickets = await cluster.ticketCounters();
  t.ok(tickets.keyUpdates >= 8, `each of 4 threads set a key at start and after the rotation (${tickets.keyUpdates})`);
  t.equal(tickets.issued + tickets.decrypted, 0, 'the callback was not used');
});

t.test('with the callback, a rotation keeps tickets under the previous key valid', async (t) => {
  const { cluster } = await startTestCluster('tls', 'shared', {}, { tickets: true });
  t.teardown(() => cluster.stop());
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await visitTls({ port: cluster.port, maxVersion: version });
    cluster.rotateTicketKeys();
    const again = await visitTls({ port: cluster.port, maxVersion: version, session: first.session });
    t.ok(again.reused, `${version}: the previous key still decrypts`);
  }
});
