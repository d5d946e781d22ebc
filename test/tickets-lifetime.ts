/**
 * Absolute session lifetime with real waits, 4 worker threads, a 5 s
 * session timeout and ticket keys rotating every second:
 *
 * - a client resuming with its latest session resumes at 2 s and 3.5 s
 *   (under a key rotated out seconds before: the previous keys still
 *   decrypt) and gets a full handshake at 6 s, under TLS 1.2 and TLS 1.3.
 *   Under TLS 1.3 each resumption now brings a fresh ticket, which carries
 *   the session's birth: the fresh ticket of 3.5 s is refused at 6 s all
 *   the same. By 7 s the first key is out of its retention window;
 * - a client resuming every 1.8 s offering only its newest ticket (single
 *   use under TLS 1.3, as browsers do) resumes while its session is younger
 *   than 5 s and never after, however many fresh tickets it went through,
 *   then starts a new session; TLS 1.2 tickets alike.
 *
 * (No visit falls in the second before the bound: OpenSSL keeps a
 * session's time in whole seconds, and may end it there already.)
 *
 * The exact bound, to the millisecond and across many renewals, is tested
 * on an injected clock in tickets-renewal.ts.
 */
import t from 'tap';
import type { SecureVersion } from 'node:tls';
import { visitTls, type Visit } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';
import { checkLifetime, lifetimeChain } from './helpers/lifetime-chain.ts';

const sleepUntil = (at: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, at - Date.now())));

interface Step {
  at: number;
  visit: Visit;
}

async function scenario(port: number, version: SecureVersion): Promise<{ steps: Step[]; first: Visit; late: Visit }> {
  const start = Date.now();
  const first = await visitTls({ port, maxVersion: version });
  let session = first.session;
  const steps: Step[] = [];
  for (const at of [2000, 3500, 6000]) {
    // 50 ms past the mark, as in NOTES §3 (OpenSSL counts whole seconds).
    await sleepUntil(start + at + 50);
    const visit = await visitTls({ port, maxVersion: version, session });
    steps.push({ at, visit });
    session = visit.session;
  }
  await sleepUntil(start + 7050);
  const late = await visitTls({ port, maxVersion: version, session: first.session });
  return { steps, first, late };
}

const { cluster, logs } = await startTestCluster('tls', 'shared', { sessionTimeout: 5, ticketRotate: 1000, logLevel: 'silent' }, { tickets: true });
t.teardown(() => cluster.stop());

t.test('5 s timeout, keys rotating every second: resumed at 2 s and 3.5 s, full handshake at 6 s; single-use clients never resumed past 5 s', async (t) => {
  t.equal(cluster.config.ticketRotate, 1000);
  const generation = cluster.ticketKeys!.generation;
  const single = (version: SecureVersion) =>
    lifetimeChain(async (session) => {
      const visit = await visitTls({ port: cluster.port, maxVersion: version, session });
      return { reused: visit.reused, session: visit.session, servedBy: visit.served.workerId };
    }, 1800, 7);
  // Every scenario at once, to keep the test short.
  const [tls12, tls13, single12, single13] = await Promise.all([scenario(cluster.port, 'TLSv1.2'), scenario(cluster.port, 'TLSv1.3'), single('TLSv1.2'), single('TLSv1.3')]);
  for (const [version, result] of [['TLSv1.2', tls12], ['TLSv1.3', tls13]] as const) {
    t.equal(result.first.reused, false, `${version}: the first connection is a full handshake`);
    t.equal(result.first.served.protocol, version);
    const [two, later, six] = result.steps;
    t.equal(two.visit.reused, true, `${version}: resumed at 2 s`);
    t.equal(later.visit.reused, true, `${version}: resumed at 3.5 s, under a key rotated out 2.5 s before`);
    t.equal(six.visit.reused, false, `${version}: full handshake at 6 s (the lifetime counts from the full handshake)`);
    t.equal(result.late.reused, false, `${version}: the first ticket at 7 s: full handshake`);
    t.comment(`${version}: resumed by ${[two, later, six].map((s) => `${s.at / 1000}s:${s.visit.reused ? 'resumed' : 'full'}@worker${s.visit.served.workerId}`).join(' ')}`);
  }
  const renewed = (visit: Visit, offered: Buffer | undefined): boolean => visit.session !== undefined && !visit.session.equals(offered!);
  t.ok(renewed(tls13.steps[0].visit, tls13.first.session) && renewed(tls13.steps[1].visit, tls13.steps[0].visit.session), 'TLS 1.3: each resumption brought a fresh ticket');
  t.notOk(renewed(tls12.steps[0].visit, tls12.first.session), 'TLS 1.2: no new ticket on resumption');
  checkLifetime(t, 'TLS 1.2, every 1.8 s', single12, 5000);
  checkLifetime(t, 'TLS 1.3, every 1.8 s, each ticket once', single13, 5000);

  const ring = cluster.ticketKeys!;
  t.ok(ring.generation - generation >= 6, `the keys rotated (generation +${ring.generation - generation})`);
  const stats = ring.stats();
  t.ok(stats.keys <= 7, `keys alive: ${stats.keys} (current plus those retired within the last 5 s)`);
  const tickets = await cluster.ticketCounters();
  t.ok(tickets.unknownKey >= 2, `the first key was gone for the late visits (${tickets.unknownKey} unknown)`);
  t.ok(tickets.expired >= 2, `tickets of sessions 5 s old were refused by their birth (${tickets.expired})`);
  t.ok(tickets.renewed >= 6, `TLS 1.3 resumptions were renewed (${tickets.renewed})`);
  t.equal(tickets.renewalOff, 0);
  t.ok(logs.some((line) => line.msg === 'ticket keys rotated' && line.level === 20), 'rotations are logged at debug');
});
