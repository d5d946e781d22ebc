/**
 * Issue 17's promise with the default settings, on an injected clock (no
 * waits): a TLS 1.3 client that uses each ticket once and comes back every
 * minute resumes at least 95% of the time (one full handshake per
 * TLS_CACHE_SESSION_TIMEOUT), and no session resumes later than the documented
 * bound, TLS_CACHE_SESSION_TIMEOUT after its full handshake, however many fresh
 * tickets it went through. The key ring rotates on that clock too, as the
 * primary rotates it.
 */
import t from 'tap';
import { loadConfig } from '../lib/config/load.ts';
import { TicketKeyRing } from '../lib/tickets/key-ring.ts';
import { attachTicketKeys } from '../lib/tickets/attach-ticket-keys.ts';
import { connectOnce, ticketServer } from './fixtures/tls-tickets.ts';

const defaults = loadConfig({}, {});
const TIMEOUT_MS = defaults.sessionTimeout * 1000;

for (const returnEvery of [60_000, 15_000]) {
  t.test(`default settings: a single-use client back every ${returnEvery / 1000} s resumes >= 95%, never past the timeout`, async (t) => {
    let now = 1_800_000_000_000;
    const clock = (): number => now;
    const ring = TicketKeyRing.create({ timeout: defaults.sessionTimeout, rotate: defaults.ticketRotate, clock });
    const served = await ticketServer({ sessionTimeout: defaults.sessionTimeout });
    t.teardown(() => served.close());
    const binding = attachTicketKeys(served.server, ring, { clock });
    await binding.ready;

    // Three timeouts' worth of visits; each offers only the newest ticket, once.
    const visits = Math.round((3 * TIMEOUT_MS) / returnEvery);
    let newest: Buffer | undefined;
    let birth = now;
    let resumed = 0;
    let oldest = 0;
    for (let i = 0; i <= visits; i++) {
      if (now >= ring.nextDueAt()) ring.tick();
      const visit = await connectOnce(served.port, newest);
      if (i > 0 && visit.reused) {
        resumed++;
        oldest = Math.max(oldest, now - birth);
      }
      if (!visit.reused) birth = now;
      newest = visit.newest;
      now += returnEvery;
    }
    const ratio = resumed / visits;
    t.ok(ratio >= 0.95, `${resumed} of ${visits} visits resumed (${(ratio * 100).toFixed(1)}%)`);
    t.ok(oldest < TIMEOUT_MS, `the oldest session resumed was ${oldest / 1000} s old: under the ${defaults.sessionTimeout} s timeout`);
    t.ok(binding.counters.expired >= 2, `sessions ended at their bound (${binding.counters.expired} refused by birth)`);
    t.ok(ring.stats().generation > 2, 'the key ring rotated meanwhile');
  });
}
