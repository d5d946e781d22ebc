/**
 * Why a returning client got a full handshake (issue 25): real clients
 * against 4 worker threads issuing tickets (a 5 s session timeout), and a
 * second server in this process sharing the cluster's table, ticket key
 * ring and counters under another certificate. Each scenario asserts the
 * exact change of its own reason in `tls_session_cache_resumption_misses_total`
 * and no change in any other; a mixed run asserts that the misses add up to
 * the offers that did not resume.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type SecureVersion, type TLSSocket } from 'node:tls';
import { threadId } from 'node:worker_threads';
import { pino } from 'pino';
import { probeNodeCapabilities } from '../lib/tls/node-capabilities.ts';
import t, { type Test } from 'tap';
import { visitTls, type Visit } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';
import { secretsOf, ticketOf, withLifetimeHint, withTicket } from './helpers/session-der.ts';
import { attachRuntime, runtimeServerOptions } from '../lib/runtime/attach-runtime.ts';
import { selfSignedCertificate } from '../lib/tickets/self-signed.ts';
import { MISS_LOG_LINES, MISS_LOG_WINDOW_MS, MISSES, missLogger, type Miss } from '../lib/tls/resumption-misses.ts';
import type { SharedCounters } from '../lib/operations/counters.ts';

t.setTimeout(120_000);
const TIMEOUT_S = 5;
const VERSIONS: SecureVersion[] = ['TLSv1.2', 'TLSv1.3'];

const { cluster } = await startTestCluster('tls', 'shared', { sessionTimeout: TIMEOUT_S }, { tickets: true });
t.teardown(() => cluster.stop());
const port = cluster.port;

type Key = `${Miss['method']}/${Miss['reason']}`;
const keyOf = (miss: Miss): Key => `${miss.method}/${miss.reason}`;
const missCounts = (counters: SharedCounters): Record<Key, number> =>
  Object.fromEntries(MISSES.map((miss) => [keyOf(miss), counters.get(miss.counter)])) as Record<Key, number>;

/** Runs `work`, then asserts that the misses changed by exactly `expected` (every other reason by 0). */
async function expectMisses<T>(t: Test, expected: Partial<Record<Key, number>>, work: () => Promise<T>): Promise<T> {
  const before = missCounts(cluster.counters);
  const result = await work();
  const after = missCounts(cluster.counters);
  for (const miss of MISSES) {
    const key = keyOf(miss);
    t.equal(after[key] - before[key], expected[key] ?? 0, `${key}: +${expected[key] ?? 0}`);
  }
  return result;
}

/** The same ticket with one bit of its encrypted body flipped (name and IV kept: the key is found, the HMAC fails). */
function flipBodyBit(session: Buffer): Buffer {
  const ticket = Buffer.from(ticketOf(session)!);
  const at = 32 + Math.floor((ticket.length - 64) / 2);
  ticket[at] ^= 0x10;
  return withTicket(session, ticket);
}

/** The same ticket under a key name no ring holds. */
const unknownName = (session: Buffer): Buffer => {
  const ticket = ticketOf(session)!;
  return withTicket(session, Buffer.concat([randomBytes(16), ticket.subarray(16)]));
};

/** A session of the cluster: by ticket (TLS 1.2 or 1.3), or by session ID (TLS 1.2, the client offering no ticket). */
async function sessionOf(version: SecureVersion, byId = false): Promise<Buffer> {
  const visit = await visitTls({ port, maxVersion: version, noTicket: byId });
  t.equal(visit.reused, false);
  return visit.session!;
}

const offer = (session: Buffer, version: SecureVersion, byId = false, to = port): Promise<Visit> =>
  visitTls({ port: to, maxVersion: version, session, noTicket: byId });

t.test('clients that offer nothing, and offers that resume, count nothing (a TLS 1.3 legacy session ID is no offer)', async (t) => {
  await expectMisses(t, {}, async () => {
    for (const version of VERSIONS) {
      const first = await visitTls({ port, maxVersion: version });
      t.equal((await offer(first.session!, version)).reused, true, `${version} ticket resumed`);
    }
    const byId = await sessionOf('TLSv1.2', true);
    t.equal((await offer(byId, 'TLSv1.2', true)).reused, true, 'TLS 1.2 session ID resumed');
  });
});

for (const version of VERSIONS) {
  t.test(`${version}: a ticket under a key name the ring does not hold is unknown_key`, async (t) => {
    const session = await sessionOf(version);
    const visit = await expectMisses(t, { 'ticket/unknown_key': 1 }, () => offer(unknownName(session), version));
    t.equal(visit.reused, false);
  });

  t.test(`${version}: a ticket with a flipped bit in its body, under a known key, is refused`, async (t) => {
    const session = await sessionOf(version);
    const visit = await expectMisses(t, { 'ticket/refused': 1 }, () => offer(flipBodyBit(session), version));
    t.equal(visit.reused, false);
  });
}

t.test('TLS 1.3 with a HelloRetryRequest (the client\'s first key share is X448): OpenSSL reads the ticket twice, it counts once', async (t) => {
  const session = await sessionOf('TLSv1.3');
  await expectMisses(t, { 'ticket/unknown_key': 1 }, async () => {
    const visit = await visitTls({ port, maxVersion: 'TLSv1.3', session: unknownName(session), ecdhCurve: 'X448:X25519' });
    t.equal(visit.reused, false);
  });
  await expectMisses(t, {}, async () => {
    t.equal((await visitTls({ port, maxVersion: 'TLSv1.3', session, ecdhCurve: 'X448:X25519' })).reused, true, 'the real ticket resumes after the retry');
  });
});

t.test('after a flush: session IDs are not_found, tickets unknown_key', async (t) => {
  const byId = await sessionOf('TLSv1.2', true);
  const tickets = await Promise.all(VERSIONS.map((version) => sessionOf(version)));
  t.ok(cluster.flush().sessions >= 1);
  await expectMisses(t, { 'session_id/not_found': 1, 'ticket/unknown_key': 2 }, async () => {
    t.equal((await offer(byId, 'TLSv1.2', true)).reused, false);
    for (const [i, version] of VERSIONS.entries()) t.equal((await offer(tickets[i], version)).reused, false);
  });
});

t.test('a server with another certificate sharing the table and the keys: its sessions and tickets are bound to that certificate, name_mismatch', async (t) => {
  const other = await otherCertificateServer();
  t.teardown(() => other.close());
  const otherPort = (other.address() as { port: number }).port;
  const byId = await sessionOf('TLSv1.2', true);
  // Without session_names, OpenSSL refuses them instead (the session ID context holds the certificate); so it does a TLS 1.3
  // ticket where names come late (Node 26), let in before its name is known.
  const capabilities = await probeNodeCapabilities();
  const names = capabilities.session_names.on;
  const late = capabilities.session_names.late === true;
  await expectMisses(t, { [names ? 'session_id/name_mismatch' : 'session_id/refused']: 1 }, async () => {
    t.equal((await offer(byId, 'TLSv1.2', true, otherPort)).reused, false, 'the ID is found in the table, made under another certificate: not handed back');
  });
  for (const version of VERSIONS) {
    const session = await sessionOf(version);
    await expectMisses(t, { [names && !(late && version === 'TLSv1.3') ? 'ticket/name_mismatch' : 'ticket/refused']: 1 }, async () => {
      t.equal((await offer(session, version, false, otherPort)).reused, false, `${version}: the ticket's key is in the ring, its session made under another certificate: refused`);
    });
  }
  // And its own sessions resume there.
  const own = await visitTls({ port: otherPort, maxVersion: 'TLSv1.2', noTicket: true });
  t.equal((await offer(own.session!, 'TLSv1.2', true, otherPort)).reused, true);
});

t.test('a mixed run: the misses add up to the offers that did not resume', async (t) => {
  const other = await otherCertificateServer();
  t.teardown(() => other.close());
  const otherPort = (other.address() as { port: number }).port;
  // Sessions made before a flush are gone from the table (and their tickets' keys from the ring).
  const flushed = [await sessionOf('TLSv1.2', true), await sessionOf('TLSv1.3')];
  cluster.flush();
  type Offer = () => Promise<{ offered: boolean; reused: boolean }>;
  const offers: Offer[] = [];
  const visit = (run: () => Promise<Visit>, offered: boolean): Offer => async () => ({ offered, reused: (await run()).reused });
  for (let i = 0; i < 4; i++) {
    for (const version of VERSIONS) {
      const session = await sessionOf(version);
      offers.push(visit(() => visitTls({ port, maxVersion: version }), false));
      offers.push(visit(() => offer(session, version), true));
      offers.push(visit(() => offer(unknownName(session), version), true));
      offers.push(visit(() => offer(flipBodyBit(session), version), true));
      offers.push(visit(() => offer(session, version, false, otherPort), true));
    }
    const byId = await sessionOf('TLSv1.2', true);
    offers.push(visit(() => offer(byId, 'TLSv1.2', true), true));
    offers.push(visit(() => offer(byId, 'TLSv1.2', true, otherPort), true));
    offers.push(visit(() => offer(flushed[0], 'TLSv1.2', true), true));
    offers.push(visit(() => offer(flushed[1], 'TLSv1.3'), true));
  }
  const before = missCounts(cluster.counters);
  const results: Array<{ offered: boolean; reused: boolean }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < offers.length) results.push(await offers[next++]());
    }),
  );
  const after = missCounts(cluster.counters);
  const missed = Object.values(after).reduce((sum, n) => sum + n, 0) - Object.values(before).reduce((sum, n) => sum + n, 0);
  const notResumed = results.filter((r) => r.offered && !r.reused).length;
  t.ok(notResumed >= 4 * 7, `offers that did not resume: ${notResumed}`);
  t.ok(results.some((r) => r.offered && r.reused), 'some offers resumed');
  t.equal(missed, notResumed, 'one miss per offer that did not resume');
  t.comment(JSON.stringify(Object.fromEntries(Object.keys(after).map((k) => [k, after[k as Key] - before[k as Key]]))));
});

t.test(`past the ${TIMEOUT_S} s timeout: tickets are ticket_expired, session IDs expired (or not_found once swept)`, async (t) => {
  // A fresh key: it still decrypts past the timeout (a key decrypts for the timeout after it stops encrypting; a
  // ticket whose key is gone is unknown_key instead).
  t.ok(cluster.rotateTicketKeys());
  const byId = await sessionOf('TLSv1.2', true);
  const tickets = await Promise.all(VERSIONS.map((version) => sessionOf(version)));
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT_S * 1000 + 1100));
  const before = missCounts(cluster.counters);
  // Node's client (OpenSSL) stops offering a TLS 1.3 ticket once its session is older than the ticket's lifetime
  // hint, in whole seconds (the timeout): a longer hint makes it offer, as a client that ignores the hint would.
  await expectMisses(t, { 'ticket/ticket_expired': 2 }, async () => {
    for (const [i, version] of VERSIONS.entries()) t.equal((await offer(withLifetimeHint(tickets[i], 3600), version)).reused, false);
  });
  // The table's sweep (every 10 s, in this thread) may remove the expired entry at any time: look before and after.
  const id = secretsOf(byId).sessionId;
  const held = cluster.table.lookUp(id);
  t.equal((await offer(byId, 'TLSv1.2', true)).reused, false);
  const stillHeld = cluster.table.lookUp(id);
  const after = missCounts(cluster.counters);
  const ids = MISSES.filter((m) => m.method === 'session_id').map(keyOf);
  if (held === stillHeld) {
    const reason: Key = held === 'expired' ? 'session_id/expired' : 'session_id/not_found';
    for (const key of ids) t.equal(after[key] - before[key], key === reason ? 1 : 0, `${key} (${held === 'expired' ? 'still in the table' : 'swept'})`);
  } else {
    // Swept during the handshake: either answer was right.
    t.equal(after['session_id/expired'] - before['session_id/expired'] + after['session_id/not_found'] - before['session_id/not_found'], 1);
  }
});

t.test('the metric', async (t) => {
  const text = await cluster.metrics();
  for (const { method, reason } of MISSES) {
    t.match(text, new RegExp(`^tls_session_cache_resumption_misses_total\\{method="${method}",reason="${reason}"\\} \\d+$`, 'm'), `${method}/${reason}`);
  }
  t.match(text, /^tls_session_cache_resumption_misses_total\{method="ticket",reason="unknown_key"\} [1-9]/m);
});

/** A server in this process with another certificate, attached to the cluster's table, ring and counters. */
async function otherCertificateServer(): Promise<Server> {
  const { cert, key } = selfSignedCertificate('another certificate');
  const server = createServer({ cert, key, ...runtimeServerOptions(cluster.table, cluster.config) });
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.end(`${JSON.stringify({ workerId: 0, threadId, reused: socket.isSessionReused(), protocol: socket.getProtocol() })}\n`);
  });
  const attached = attachRuntime(server, {
    store: cluster.table,
    ticketKeys: cluster.ticketKeys,
    ticketMode: 'auto',
    counters: cluster.counters,
    logger: pino({ level: 'silent' }),
    sessionIdContext: cluster.config.sessionIdContext,
  });
  await attached.tickets?.ready;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

t.test('the debug line: method, reason, protocol and worker; at most 10 a window of 10 s, the next saying how many were skipped; nothing below debug', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  const clock = { now: 1_000_000 };
  const log = missLogger(pino({ level: 'debug' }, sink), () => clock.now);
  const miss = MISSES.find((m) => m.reason === 'unknown_key')!;
  for (let i = 0; i < 25; i++) log(miss, 'TLSv1.3');
  t.equal(lines.length, MISS_LOG_LINES, `${MISS_LOG_LINES} lines in the window`);
  t.match(lines[0], { level: 20, method: 'ticket', reason: 'unknown_key', protocol: 'TLSv1.3', pid: process.pid, thread: threadId });
  t.notOk('skipped' in lines[0]);
  clock.now += MISS_LOG_WINDOW_MS;
  log(MISSES[0], 'TLSv1.2');
  t.match(lines.at(-1), { method: 'session_id', reason: 'not_found', protocol: 'TLSv1.2', skipped: 15 }, 'the next window says how many were left out');
  log(MISSES[0], 'TLSv1.2');
  t.notOk('skipped' in lines.at(-1)!, 'once');

  const quiet: unknown[] = [];
  const info = missLogger(pino({ level: 'info' }, { write: (line: string) => quiet.push(line) }));
  info(miss, 'TLSv1.3');
  t.same(quiet, [], 'no line at info');
});
