/**
 * Clients that use each TLS 1.3 ticket once (RFC 8446 appendix C.4), as
 * OpenSSL-based clients and browsers do, against 4 worker threads sharing
 * the ticket keys. Every resumption brings one fresh ticket, so such a
 * client keeps resuming:
 *
 * - a chain of `openssl s_client -sess_in / -sess_out` that drops every
 *   ticket once used resumes at least 19 of 20 connections (the first is
 *   the full handshake);
 * - curl with several URLs and `Connection: close` (a new connection each)
 *   resumes all but the first;
 * - Node's own client offering only its newest ticket resumes all but the
 *   first.
 *
 * (Before renewal the chain resumed 10 of 20 here, curl every other
 * connection: the two tickets of each full handshake, then a full one.)
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exec, hasCommand } from './helpers/exec.ts';
import { visitHttps } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';

const { cluster } = await startTestCluster('https', 'shared', {}, { tickets: true, closeConnections: true });
t.teardown(() => cluster.stop());
const port = cluster.port;
const dir = await mkdtemp(join(tmpdir(), 'tls-cache-single-use-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

const hasOpenssl = await hasCommand('openssl');
const hasCurl = await hasCommand('curl');

t.test('openssl s_client chain, each ticket used once: at least 19 of 20 connections resumed', { skip: !hasOpenssl && 'openssl is missing' }, async (t) => {
  const request = 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n';
  let offered: string | undefined;
  let sequence = '';
  const workers = new Set<number>();
  for (let i = 0; i < 20; i++) {
    const out = join(dir, `session-${i}.pem`);
    const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_3', '-ign_eof', '-sess_out', out];
    if (offered !== undefined) args.push('-sess_in', offered);
    const { stdout } = await exec('openssl', args, request);
    const reused = /^Reused, TLSv1\.3/m.test(stdout) && /"reused":true/.test(stdout);
    sequence += reused ? 'R' : 'F';
    const worker = /"workerId":(\d+)/.exec(stdout)?.[1];
    if (worker !== undefined) workers.add(Number(worker));
    // Single use: the ticket offered is gone; the next connection offers what this one received, if anything.
    if (offered !== undefined) await rm(offered, { force: true });
    offered = existsSync(out) ? out : undefined;
  }
  const resumed = [...sequence].filter((c) => c === 'R').length;
  t.comment(`openssl chain: ${sequence} (${resumed} of 20 resumed) on workers ${[...workers].sort().join(', ')}`);
  t.equal(sequence[0], 'F', 'the first connection is a full handshake');
  t.ok(resumed >= 19, `${resumed} of 20 resumed`);
  t.ok(workers.size >= 2, 'across workers');
});

t.test('curl, several URLs with Connection: close, TLS 1.3: all but the first resumed', { skip: !hasCurl && 'curl is missing' }, async (t) => {
  const urls = Array.from({ length: 8 }, (_, i) => `https://127.0.0.1:${port}/request/${i}`);
  const { stdout, code } = await exec('curl', ['-sk', '--tlsv1.3', '-H', 'Connection: close', ...urls]);
  t.equal(code, 0, 'curl succeeded');
  const answers = [...stdout.matchAll(/\{[^}]*\}/g)].map((m) => JSON.parse(m[0]) as { reused: boolean; protocol: string; workerId: number });
  t.equal(answers.length, urls.length, 'one answer per URL, each on a new connection');
  t.ok(answers.every((a) => a.protocol === 'TLSv1.3'), 'TLS 1.3');
  const sequence = answers.map((a) => (a.reused ? 'R' : 'F')).join('');
  t.comment(`curl: ${sequence} on workers ${[...new Set(answers.map((a) => a.workerId))].sort().join(', ')}`);
  t.equal(sequence, `F${'R'.repeat(urls.length - 1)}`, 'new, then reused every time');
});

t.test("Node's client offering only its newest ticket: all but the first resumed", async (t) => {
  let session: Buffer | undefined;
  let sequence = '';
  for (let i = 0; i < 40; i++) {
    const visit = await visitHttps({ port, session, maxVersion: 'TLSv1.3' });
    sequence += visit.reused ? 'R' : 'F';
    t.not(visit.session, session, 'a fresh ticket every time');
    session = visit.session;
  }
  t.equal(sequence, `F${'R'.repeat(39)}`);
});
