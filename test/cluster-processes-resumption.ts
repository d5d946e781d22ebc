/**
 * node:cluster worker processes (issue 6): 4 worker processes, each started
 * with other command-line arguments, resume each other's sessions through
 * the primary's table over IPC and the pushed ticket keys: a client
 * reconnecting 200 times resumes at least 99% of the time by session ID
 * (TLS 1.2), by TLS 1.2 ticket and by TLS 1.3 ticket, across a ticket key
 * rotation in the middle; `openssl s_client -sess_out / -sess_in` reports
 * Reused; the primary's metrics add up every process's counts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exec, hasCommand } from './helpers/exec.ts';
import { freePort } from './fixtures/process.ts';
import { reconnect } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';
import type { CounterValues } from '../lib/operations/counters.ts';

const RECONNECTS = 200;

t.teardown(removeCertificateFiles);

// On this 2-core machine, shared by 5 server processes, the test's client and
// openssl, the default 5 ms bound was missed by scheduling alone (1 lookup of
// 241 in one run); what a missed bound does is tested in
// cluster-processes-primary-gone.ts. Here every lookup must be answered.
const metricsPort = await freePort();
const app = await startClusterApp({ TLS_CACHE_OWNER_TIMEOUT: '100ms', TLS_CACHE_LOG_LEVEL: 'debug', TLS_CACHE_METRICS_PORT: String(metricsPort) });
t.teardown(() => app.kill());

t.test('every worker process has other command-line arguments', async (t) => {
  const seen = new Map<number, string>();
  for (let i = 0; i < 40 && seen.size < 4; i++) {
    const { visits } = await reconnect({ port: app.port, version: 'TLSv1.3' }, 0);
    seen.set(visits[0].greeting.pid, visits[0].greeting.argv.join(' '));
  }
  t.equal(seen.size, 4, 'connections reached all 4 worker processes');
  t.equal(new Set(seen.values()).size, 4, `4 different command lines: ${[...seen.values()].join(' | ')}`);
});

t.test('a worker process refuses servers not made with the deployment settings, with a code', async (t) => {
  const { refusals } = await app.ask<{ refusals: string[][] }>('refusals');
  t.equal(refusals.length, 4, 'every worker process tried');
  for (const codes of refusals) {
    t.same(codes, ['ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH', 'ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH', 'ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH']);
  }
});

t.test('TLS 1.2 by session ID (no tickets offered): >= 99% over 4 processes', async (t) => {
  const { ratio, pids, visits } = await reconnect({ port: app.port, version: 'TLSv1.2', noTicket: true }, RECONNECTS);
  t.comment(`session ID: ${(ratio * 100).toFixed(1)}% resumed over ${pids.size} processes`);
  t.equal(pids.size, 4, 'connections landed on every worker process');
  t.ok(visits.every((v) => v.greeting.protocol === 'TLSv1.2'));
  t.ok(ratio >= 0.99, `resumed ${(ratio * 100).toFixed(1)}% >= 99%`);
});

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  t.test(`${version} tickets across a rotation: >= 99% over 4 processes`, async (t) => {
    let rotated = false;
    const { ratio, pids, visits } = await reconnect({ port: app.port, version }, RECONNECTS, async (i) => {
      if (i !== RECONNECTS / 2) return;
      const answer = await app.ask<{ rotated: boolean }>('rotate');
      rotated = answer.rotated;
    });
    t.ok(rotated, 'the keys rotated in the middle of the run');
    t.comment(`${version} tickets: ${(ratio * 100).toFixed(1)}% resumed over ${pids.size} processes`);
    t.equal(pids.size, 4, 'connections landed on every worker process');
    t.ok(visits.every((v) => v.greeting.protocol === version));
    t.ok(ratio >= 0.99, `resumed ${(ratio * 100).toFixed(1)}% >= 99%`);
    // The handshake right after the rotation offered a ticket under the old key, and resumed.
    t.ok(visits[RECONNECTS / 2].reused, 'the first ticket offered after the rotation (old key) resumed');
  });
}

t.test('a ticket from before a rotation still resumes after it, on every process', async (t) => {
  const { visits } = await reconnect({ port: app.port, version: 'TLSv1.3' }, 0);
  const old = visits[0].session!;
  t.ok((await app.ask<{ rotated: boolean }>('rotate')).rotated);
  const { visit } = await import('./helpers/cluster-client.ts');
  const pids = new Set<number>();
  let reused = 0;
  for (let i = 0; i < 24; i++) {
    const v = await visit({ port: app.port, version: 'TLSv1.3', session: old });
    pids.add(v.greeting.pid);
    if (v.reused) reused++;
  }
  t.equal(pids.size, 4, 'tried on every worker process');
  t.equal(reused, 24, 'the old ticket resumed every time');
});

const hasOpenssl = await hasCommand('openssl');

t.test('openssl s_client -sess_out, then -sess_in: Reused (session ID and TLS 1.3 ticket)', { skip: !hasOpenssl && 'openssl is missing' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tls-resumption-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, flags] of [
    ['TLS 1.2 session ID', ['-tls1_2', '-no_ticket']],
    ['TLS 1.3 ticket', ['-tls1_3']],
  ] as const) {
    const file = join(dir, `${name.replace(/\W/g, '')}.pem`);
    const common = ['s_client', '-connect', `127.0.0.1:${app.port}`, ...flags, '-ign_eof'];
    const first = await exec('openssl', [...common, '-sess_out', file], '');
    t.match(first.stdout, /^New, /m, `${name}: the first connection is a full handshake`);
    let reused = 0;
    for (let i = 0; i < 4; i++) {
      const again = await exec('openssl', [...common, '-sess_in', file], '');
      if (/^Reused, /m.test(again.stdout)) reused++;
      else t.comment(`${name}: not reused: ${again.stdout.split('\n').find((l) => /^(New|Reused),/.test(l)) ?? again.stdout.slice(0, 200)}`);
    }
    t.equal(reused, 4, `${name}: openssl reports Reused on 4 connections out of 4`);
  }
});

t.test('the primary counts every process: handshakes, IPC lookups, hits', async (t) => {
  const { counters, metrics } = await app.ask<{ counters: CounterValues; metrics: string }>('counters');
  const resumed = counters.resumedTls12 + counters.resumedTls13;
  const full = counters.fullTls12 + counters.fullTls13;
  t.comment(JSON.stringify({ full, resumed, ownerLookups: counters.ownerLookups, ownerHits: counters.ownerHits, localHits: counters.localHits, ownerTimeouts: counters.ownerTimeouts }));
  // Every handshake of this file so far: 4 runs of 201 and 24 + 1 + 40-odd probes, openssl's 10.
  t.ok(resumed >= 3 * RECONNECTS * 0.99, `resumed handshakes counted across processes: ${resumed}`);
  t.ok(counters.ownerHits + counters.localHits >= RECONNECTS * 0.99, 'session-ID resumptions came from the primary or the local copy');
  t.ok(counters.ownerHits > 0, 'some came from the primary over IPC');
  t.equal(counters.ownerMalformed, 0, 'no malformed message');
  t.equal(counters.ownerTimeouts, 0, 'no lookup timed out');
  // Every TLS 1.3 ClientHello carries a made-up legacy session ID that Node looks up: the owner's filter answers it.
  const tls13 = counters.fullTls13 + counters.resumedTls13;
  t.ok(counters.ownerSkipped >= tls13 * 0.95, `${counters.ownerSkipped} lookups answered by the filter, of ${tls13} TLS 1.3 handshakes`);
  t.ok(counters.ownerLookups < RECONNECTS, `${counters.ownerLookups} lookups sent to the primary (session IDs the local copy missed)`);
  t.match(metrics, new RegExp(`tls_session_cache_owner_skipped_total ${counters.ownerSkipped}\\n`));
  t.match(metrics, /tls_session_cache_handshakes_total\{result="resumed",protocol="TLSv1.3"\} [1-9]/);
  t.match(metrics, new RegExp(`tls_session_cache_owner_hits_total ${counters.ownerHits}\\n`), 'the IPC counters are metrics');
  t.match(metrics, new RegExp(`tls_session_cache_local_hits_total ${counters.localHits}\\n`));
  t.match(metrics, /tls_session_cache_owner_malformed_total 0\n/);
});

t.test('no ticket key reaches a log line, at debug level, in any process', async (t) => {
  const { keys } = await app.ask<{ keys: string[] }>('secrets');
  t.ok(keys.length >= 3, `${keys.length} keys (two rotations in this file)`);
  const output = app.output();
  t.ok(output.includes('ticket keys updated by the owner'), 'the workers logged their key updates (at debug)');
  for (const hex of keys) {
    const bytes = Buffer.from(hex, 'hex');
    for (const part of [bytes, bytes.subarray(16, 32), bytes.subarray(32, 48)]) {
      t.notOk(output.includes(part.toString('hex')) || output.includes(part.toString('base64')), 'a key (or its HMAC or AES part) is not in the output');
    }
  }
});

t.test('the metrics endpoint in the primary: /health ready with every worker process listening, /metrics with their counts', async (t) => {
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}${path}`);
    return { status: response.status, body: await response.text() };
  };
  const health = await get('/health');
  t.equal(health.status, 200);
  t.equal(health.body, 'ready\n');
  // Workers ship their counts every second: wait for the latest.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const { body } = await get('/metrics');
  t.match(body, /tls_session_cache_workers_listening 4\n/);
  t.match(body, /tls_session_cache_owner_hits_total [1-9]/);
  t.match(body, /tls_session_cache_handshakes_total\{result="resumed",protocol="TLSv1.2"\} [1-9]/);
});
