/**
 * node:cluster worker processes (issue 6): expiry stays absolute. With a
 * 2 s session timeout, a session resumes on every process (each keeps a
 * local copy) until 2 s after its full handshake, and not after: every
 * process then makes a full handshake, by session ID and by TLS 1.3 ticket,
 * and no local copy answers (OpenSSL counts whole seconds, so "2 s" is 1 to
 * 2 s after the handshake).
 */
import t from 'tap';
import type { CounterValues } from '../../lib/operations/counters.ts';
import { visit } from '../helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from '../helpers/cluster-app.ts';

t.teardown(removeCertificateFiles);
const app = await startClusterApp({ TLS_CACHE_SESSION_TIMEOUT: '2', TLS_CACHE_OWNER_TIMEOUT: '100ms' });
t.teardown(() => app.kill());

t.test('a 2 s session resumes everywhere before, nowhere after, and no local copy outlives it', async (t) => {
  const counters = async (): Promise<CounterValues> => (await app.ask<{ counters: CounterValues }>('counters')).counters;
  const made = performance.now();
  const id = (await visit({ port: app.port, version: 'TLSv1.2', noTicket: true })).session!;
  const ticket = (await visit({ port: app.port, version: 'TLSv1.3' })).session!;
  const before = { idPids: new Set<number>(), ticketPids: new Set<number>(), reused: 0, tried: 0 };
  // Every process, well within the first second, so each holds a local copy of the session.
  // (One kind after the other: under round-robin scheduling, alternating would reach half the processes with each.)
  for (const [session, noTicket, version, pids] of [[id, true, 'TLSv1.2', before.idPids], [ticket, false, 'TLSv1.3', before.ticketPids]] as const) {
    for (let i = 0; i < 8; i++) {
      const v = await visit({ port: app.port, version, noTicket, session });
      pids.add(v.greeting.pid);
      before.tried++;
      if (v.reused) before.reused++;
    }
  }
  const elapsed = performance.now() - made;
  t.ok(elapsed < 1000, `within ${elapsed.toFixed(0)} ms of the handshake`);
  t.equal(before.idPids.size, 4, 'the session ID resumed on every process (each keeps a copy)');
  t.equal(before.ticketPids.size, 4, 'the ticket too');
  t.equal(before.reused, before.tried, `resumed ${before.reused} of ${before.tried} times before the timeout`);
  const atExpiry = await counters();
  t.ok(atExpiry.localHits > 0, 'local copies answered');

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, made + 2300 - performance.now())));
  const after = { idPids: new Set<number>(), ticketPids: new Set<number>(), reused: 0 };
  for (const [session, noTicket, version, pids] of [[id, true, 'TLSv1.2', after.idPids], [ticket, false, 'TLSv1.3', after.ticketPids]] as const) {
    for (let i = 0; i < 8; i++) {
      const v = await visit({ port: app.port, version, noTicket, session });
      pids.add(v.greeting.pid);
      if (v.reused) after.reused++;
    }
  }
  t.equal(after.idPids.size, 4, 'after the timeout, the session ID was tried on every process');
  t.equal(after.ticketPids.size, 4, 'the ticket too');
  t.equal(after.reused, 0, 'nothing resumed after the timeout, by session ID or by ticket');
  const end = await counters();
  t.equal(end.localHits, atExpiry.localHits, 'no local copy answered after the expiry');
});
