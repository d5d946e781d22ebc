/**
 * Renewal of TLS 1.3 tickets through attachTicketKeys, on plain servers in
 * this process, on an injected clock (no waits): the thread's self-test;
 * two tickets per full handshake and exactly one per resumption, each
 * carrying the birth of the full handshake, sealed in its IV; resumed until
 * one millisecond before birth + timeout and refused from then on, however
 * many renewals came between, TLS 1.3 and TLS 1.2; what `renew: false`, the
 * fallback, tickets of unknown birth, forged births and the servers' other
 * listeners do. What happens when a check of Node's callback order fails is
 * in tickets-renewal-guard.ts.
 */
import { randomBytes } from 'node:crypto';
import type { SecureVersion } from 'node:tls';
import t from 'tap';
import { SessionTable } from '../lib/table/session-table.ts';
import { TicketKeyRing } from '../lib/tickets/key-ring.ts';
import { attachTicketKeys, type AttachTicketKeysOptions } from '../lib/tickets/attach-ticket-keys.ts';
import { BIRTH_MAGIC, TicketBirths } from '../lib/tickets/ticket-birth.ts';
import { renewalState } from '../lib/tickets/ticket-links.ts';
import { attachSessionCache } from '../lib/tls/session-hooks.ts';
import { withTicket } from './helpers/session-der.ts';
import { connectOnce, ticketParts, ticketServer } from './fixtures/tls-tickets.ts';

const TIMEOUT_S = 300;

function fakeClock(start = 1_800_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms), set: (ms: number) => (now = ms) };
}

/** A server with a ring on the fake clock; `options` go to attachTicketKeys. */
async function renewingServer(t: Tap, clock = fakeClock(), options: AttachTicketKeysOptions = {}) {
  const ring = TicketKeyRing.create({ timeout: TIMEOUT_S, clock: clock.now });
  const served = await ticketServer({ sessionTimeout: TIMEOUT_S });
  t.teardown(() => served.close());
  const binding = attachTicketKeys(served.server, ring, { clock: clock.now, ...options });
  await binding.ready;
  return { ...served, ring, binding, clock };
}
type Tap = { teardown(fn: () => unknown): void };

/** The birth sealed in a client session's ticket, read with the ring's key. */
function birthOf(ring: TicketKeyRing, session: Buffer, now: number): number | undefined {
  const { name, iv } = ticketParts(session);
  const key = ring.decryptionKey(name);
  return key === undefined ? undefined : new TicketBirths().open(key, ring.generation, iv, now);
}

t.test('the self-test turns renewal on in this thread before the first connection', async (t) => {
  const started = performance.now();
  const { binding } = await renewingServer(t);
  t.same(renewalState(), { state: 'on', reason: undefined });
  t.ok(binding.renewing, 'the binding renews');
  t.comment(`self-test and attach: ${(performance.now() - started).toFixed(1)} ms`);
});

t.test('2 tickets per full handshake, exactly 1 per resumption, all carrying the full handshake\'s birth', async (t) => {
  const { port, ring, binding, clock } = await renewingServer(t);
  const full = await connectOnce(port, undefined);
  t.notOk(full.reused);
  t.equal(full.tickets.length, 2, 'two tickets after the full handshake');
  const birth = clock.now();
  for (const ticket of full.tickets) t.equal(birthOf(ring, ticket, clock.now()), birth, 'sealed with the birth');
  let newest = full.tickets[1];
  for (let i = 1; i <= 10; i++) {
    clock.advance(1000);
    const again = await connectOnce(port, newest);
    t.ok(again.reused, `resumption ${i}`);
    t.equal(again.tickets.length, 1, `resumption ${i}: exactly one fresh ticket`);
    t.equal(birthOf(ring, again.tickets[0], clock.now()), birth, `resumption ${i}: it carries the session's birth, not the renewal's`);
    newest = again.tickets[0];
  }
  t.same({ renewed: binding.counters.renewed, issued: binding.counters.issued, expired: binding.counters.expired }, { renewed: 10, issued: 12, expired: 0 });
  const { iv } = ticketParts(newest);
  t.not(iv.readUInt16BE(6), BIRTH_MAGIC, 'the IV on the wire is sealed: the magic does not show');
});

for (const version of ['TLSv1.3', 'TLSv1.2'] as SecureVersion[]) {
  t.test(`${version}: resumed until birth + timeout - 1 ms, refused at birth + timeout, after any number of renewals`, async (t) => {
    const { port, binding, clock } = await renewingServer(t);
    const full = await connectOnce(port, undefined, version);
    const birth = clock.now();
    let newest = full.newest;
    // 60 resumptions, the last one millisecond before the bound.
    for (let i = 1; i <= 60; i++) {
      clock.set(birth + Math.round((i * (TIMEOUT_S * 1000 - 1)) / 60));
      const again = await connectOnce(port, newest, version);
      if (!again.reused) t.fail(`resumption at +${clock.now() - birth} ms`);
      newest = again.newest;
    }
    t.equal(clock.now() - birth, TIMEOUT_S * 1000 - 1, 'the last resumption was at birth + timeout - 1 ms');
    t.equal(binding.counters.renewed, version === 'TLSv1.3' ? 60 : 0, version === 'TLSv1.3' ? 'each got a fresh ticket' : 'TLS 1.2 tickets are never renewed');
    clock.advance(1);
    const late = await connectOnce(port, newest, version);
    t.notOk(late.reused, 'at birth + timeout: a full handshake');
    t.equal(binding.counters.expired, 1, 'refused by its birth');
    t.equal(late.tickets.length, version === 'TLSv1.3' ? 2 : 1, 'and a new session');
    t.ok((await connectOnce(port, late.newest, version)).reused, 'which resumes');
  });
}

t.test('renew: false accepts tickets without a fresh one; the lifetime holds the same', async (t) => {
  const { port, binding, clock } = await renewingServer(t, fakeClock(), { renew: false });
  t.notOk(binding.renewing);
  const full = await connectOnce(port, undefined);
  t.equal(full.tickets.length, 2);
  clock.advance(TIMEOUT_S * 1000 - 1);
  const again = await connectOnce(port, full.newest);
  t.ok(again.reused);
  t.equal(again.tickets.length, 0, 'no fresh ticket');
  clock.advance(1);
  t.notOk((await connectOnce(port, full.newest)).reused, 'refused at birth + timeout');
  t.same({ renewed: binding.counters.renewed, expired: binding.counters.expired }, { renewed: 0, expired: 1 });
});

t.test('the fallback (one key through setTicketKeys) does not renew', async (t) => {
  const ring = TicketKeyRing.create({ timeout: TIMEOUT_S });
  const { server, port, close } = await ticketServer({ sessionTimeout: TIMEOUT_S });
  t.teardown(close);
  const binding = attachTicketKeys(server, ring, { mode: 'fallback' });
  await binding.ready;
  t.equal(binding.mode, 'fallback');
  t.notOk(binding.renewing);
  const full = await connectOnce(port, undefined);
  const again = await connectOnce(port, full.newest);
  t.ok(again.reused);
  t.equal(again.tickets.length, 0, 'no fresh ticket');
});

t.test('a ticket of unknown birth (an IV this code did not seal: nginx, an older version) resumes without renewal', async (t) => {
  const { port, ring, binding } = await renewingServer(t);
  // Another server holding the same key through the public API: OpenSSL picks the IV.
  const other = await ticketServer({ sessionTimeout: TIMEOUT_S, ticketKeys: ring.currentKeyBytes() });
  t.teardown(() => other.close());
  const foreign = await connectOnce(other.port, undefined);
  const again = await connectOnce(port, foreign.newest);
  t.ok(again.reused, 'resumed');
  t.equal(again.tickets.length, 0, 'no fresh ticket: its birth is unknown');
  t.same({ decrypted: binding.counters.decrypted, renewed: binding.counters.renewed }, { decrypted: 1, renewed: 0 });
});

t.test('a forged birth never resumes: the ticket HMAC covers the IV', async (t) => {
  const { port, ring, binding, clock } = await renewingServer(t);
  const full = await connectOnce(port, undefined);
  const { name, ticket } = ticketParts(full.newest!);
  const key = ring.decryptionKey(name)!;
  const births = new TicketBirths();
  const forge = (birth: number): Buffer => {
    const iv = births.seal(key, ring.generation, birth, Buffer.alloc(16));
    return withTicket(full.newest!, Buffer.concat([name, iv, ticket.subarray(32)]));
  };
  // A younger birth, sealed under the right key: OpenSSL's HMAC check fails.
  const younger = await connectOnce(port, forge(clock.now() + 1000));
  t.notOk(younger.reused, 'a younger birth: full handshake');
  // A birth past the lifetime: refused before OpenSSL looks ([0, zeros, zeros], never [0]).
  const older = await connectOnce(port, forge(clock.now() - TIMEOUT_S * 1000 - 1));
  t.notOk(older.reused, 'an expired birth: full handshake');
  t.equal(binding.counters.expired, 1);
  // Garbage IVs and unknown names, many at once.
  const outcomes = await Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const forged = i % 2 === 0 ? Buffer.concat([name, randomBytes(16), ticket.subarray(32)]) : Buffer.concat([randomBytes(16), ticket.subarray(16)]);
      return connectOnce(port, withTicket(full.newest!, forged)).then((c) => c.reused, () => 'refused');
    }),
  );
  t.equal(outcomes.filter((o) => o === true).length, 0, 'none of 200 forged tickets resumed');
  t.ok((await connectOnce(port, full.newest)).reused, 'the real ticket still resumes; the process is alive');
});

t.test('with the session cache, in either order, and beside an application\'s own resumeSession listener', async (t) => {
  const table = SessionTable.create({ size: 1 << 20, timeout: TIMEOUT_S });
  t.teardown(() => table.close());
  for (const order of ['tickets first', 'cache first'] as const) {
    const ring = TicketKeyRing.create({ timeout: TIMEOUT_S });
    const { server, port, close } = await ticketServer({ sessionTimeout: TIMEOUT_S });
    t.teardown(close);
    if (order === 'cache first') attachSessionCache(server, table);
    const binding = attachTicketKeys(server, ring);
    if (order === 'tickets first') attachSessionCache(server, table);
    await binding.ready;
    t.equal(server.listenerCount('resumeSession'), 1, `${order}: one resumeSession listener`);
    t.equal(server.listenerCount('newSession'), 1, `${order}: one newSession listener`);
    const full = await connectOnce(port, undefined);
    const again = await connectOnce(port, full.newest);
    t.ok(again.reused && again.tickets.length === 1, `${order}: renewed`);
  }

  // The application answers resumeSession itself: no lookup is answered twice, and the ticket is still renewed (Node's
  // hand-over of the ClientHello to OpenSSL, which node-internals.ts follows, ties it to its connection).
  const ring = TicketKeyRing.create({ timeout: TIMEOUT_S });
  const { server, port, close } = await ticketServer({ sessionTimeout: TIMEOUT_S });
  t.teardown(close);
  const binding = attachTicketKeys(server, ring);
  let asked = 0;
  server.on('resumeSession', (_id: Buffer, done: (error: null, session: null) => void) => {
    asked++;
    done(null, null);
  });
  await binding.ready;
  const full = await connectOnce(port, undefined);
  const again = await connectOnce(port, full.newest);
  t.ok(again.reused, 'resumed');
  t.equal(again.tickets.length, 1, 'renewed: one fresh ticket');
  const third = await connectOnce(port, again.newest);
  t.ok(third.reused, 'the renewed ticket resumes');
  t.equal(asked, 3, "the application's listener answered every lookup");
});
