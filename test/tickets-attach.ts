/**
 * attachTicketKeys on a plain tls.Server: the internal callback is
 * feature-detected, the fallback can be forced, bad arguments are refused
 * with coded errors, and a detached server stops resuming through the ring.
 */
import { createServer, type Server } from 'node:tls';
import t from 'tap';
import { loadCertificate } from '../examples/certificate.ts';
import { TicketKeyRing } from '../lib/tickets/key-ring.ts';
import { attachTicketKeys, ticketKeysOf } from '../lib/tickets/attach-ticket-keys.ts';
import { hasTicketKeyCallback } from '../lib/tls/node-internals.ts';
import { visitTls } from './fixtures/clients.ts';

const { cert, key } = await loadCertificate({});

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert, key, sessionTimeout: 300 }, (socket) => {
    socket.end(`${JSON.stringify({ workerId: 0, threadId: 0, reused: socket.isSessionReused(), protocol: socket.getProtocol() })}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { server, port: (server.address() as { port: number }).port };
}

t.test('two servers on one ring resume each other; detaching stops it', async (t) => {
  const ring = TicketKeyRing.create({ timeout: 300 });
  const a = await listen();
  const b = await listen();
  t.ok(hasTicketKeyCallback(a.server), 'Node 24 offers the internal callback');
  const bindingA = attachTicketKeys(a.server, TicketKeyRing.open(ring.buffer));
  const bindingB = attachTicketKeys(b.server, TicketKeyRing.open(ring.buffer));
  // Listen after ready, as the runtimes do: the renewal self-test runs its own handshakes meanwhile.
  await Promise.all([bindingA.ready, bindingB.ready]);
  t.equal(bindingA.mode, 'callback');
  t.equal(ticketKeysOf(a.server), bindingA);
  t.throws(() => attachTicketKeys(a.server, ring), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'one ring per server');
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await visitTls({ port: a.port, maxVersion: version });
    t.ok((await visitTls({ port: b.port, maxVersion: version, session: first.session })).reused, `${version}: b resumes a's ticket`);
  }
  bindingB.detach();
  t.equal(ticketKeysOf(b.server), undefined);
  const first = await visitTls({ port: a.port, maxVersion: 'TLSv1.3' });
  t.notOk((await visitTls({ port: b.port, maxVersion: 'TLSv1.3', session: first.session })).reused, 'detached: full handshake');
  t.ok(bindingA.counters.issued >= 3 && bindingB.counters.decrypted >= 2);
});

t.test('the fallback holds the current key only', async (t) => {
  const ring = TicketKeyRing.create({ timeout: 300 });
  const a = await listen();
  const b = await listen();
  attachTicketKeys(a.server, ring);
  const fallback = attachTicketKeys(b.server, TicketKeyRing.open(ring.buffer), { mode: 'fallback' });
  t.equal(fallback.mode, 'fallback');
  const first = await visitTls({ port: a.port, maxVersion: 'TLSv1.3' });
  t.ok((await visitTls({ port: b.port, maxVersion: 'TLSv1.3', session: first.session })).reused, 'same current key');
  ring.rotateNow();
  fallback.refresh();
  t.notOk((await visitTls({ port: b.port, maxVersion: 'TLSv1.3', session: first.session })).reused,
    'after a rotation the fallback no longer decrypts the previous key');
  t.ok((await visitTls({ port: a.port, maxVersion: 'TLSv1.3', session: first.session })).reused, 'the callback still does');
  t.equal(fallback.counters.keyUpdates, 2);
  fallback.detach();
});

t.test('bad arguments', async (t) => {
  const ring = TicketKeyRing.create({ timeout: 300 });
  const { server } = await listen();
  t.throws(() => attachTicketKeys({} as Server, ring), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'server' });
  t.throws(() => attachTicketKeys(server, {} as TicketKeyRing), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'ring' });
  t.throws(() => attachTicketKeys(server, ring, { mode: 'sometimes' as 'auto' }), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'mode' });
  t.throws(() => attachTicketKeys(server, ring, { pollInterval: 0 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'pollInterval' });
});

t.test('a closed ring: handshakes go on, without tickets', async (t) => {
  const ring = TicketKeyRing.create({ timeout: 300 });
  const { server, port } = await listen();
  const binding = attachTicketKeys(server, TicketKeyRing.open(ring.buffer));
  const before = await visitTls({ port, maxVersion: 'TLSv1.3' });
  ring.close();
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const visit = await visitTls({ port, maxVersion: version });
    t.equal(visit.served.protocol, version, `${version}: the handshake completed`);
  }
  const again = await visitTls({ port, maxVersion: 'TLSv1.3', session: before.session });
  t.notOk(again.reused, 'a ticket under an erased key: full handshake');
  t.ok(binding.counters.failures >= 2, `no key to encrypt with, counted (${binding.counters.failures})`);
});
