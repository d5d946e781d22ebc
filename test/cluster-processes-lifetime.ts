/**
 * node:cluster worker processes (issue 17): 4 processes, a 5 s session
 * timeout, a client resuming every 1.8 s offering only its newest session
 * (each TLS 1.3 ticket once: every resumption brings a fresh one, from
 * whichever process served it; TLS 1.2 tickets are re-offered). It resumes
 * while its session is younger than 5 s and never after, then starts a new
 * session; the fresh TLS 1.3 tickets carry the session's birth across
 * processes.
 */
import t from 'tap';
import type { CounterValues } from '../lib/operations/counters.ts';
import { visit } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';
import { checkLifetime, lifetimeChain } from './helpers/lifetime-chain.ts';

t.teardown(removeCertificateFiles);
const app = await startClusterApp({ TLS_CACHE_SESSION_TIMEOUT: '5', TLS_CACHE_OWNER_TIMEOUT: '100ms' });
t.teardown(() => app.kill());

t.test('single-use TLS 1.3 and re-offered TLS 1.2 tickets: resumed within 5 s of the full handshake, never after', async (t) => {
  const chain = (version: 'TLSv1.2' | 'TLSv1.3') =>
    lifetimeChain(async (session) => {
      const v = await visit({ port: app.port, version, session });
      return { reused: v.reused, session: v.session, servedBy: v.greeting.pid };
    }, 1800, 7);
  const [tls12, tls13] = await Promise.all([chain('TLSv1.2'), chain('TLSv1.3')]);
  checkLifetime(t, 'TLS 1.2 tickets', tls12, 5000);
  checkLifetime(t, 'TLS 1.3 tickets, each once', tls13, 5000);
  t.ok(new Set(tls13.map((s) => s.servedBy)).size >= 2, 'the chain crossed processes');
  const { counters } = await app.ask<{ counters: CounterValues }>('counters');
  t.ok(counters.renewed >= 4, `TLS 1.3 resumptions were renewed in the worker processes (${counters.renewed})`);
  t.ok(counters.expired >= 2, `tickets of 5 s old sessions were refused by their birth (${counters.expired})`);
  t.equal(counters.renewalOff, 0, 'renewal stayed on in every process');
});
