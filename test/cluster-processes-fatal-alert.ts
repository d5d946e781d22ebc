/**
 * node:cluster worker processes (issue 17), TLS 1.2 by session ID: a session
 * every process holds a local copy of ends in a fatal alert on one of them
 * (the client's record corrupted: the server sends bad_record_mac).
 * Afterwards it gets a full handshake on every process (0 resumed): that
 * process dropped its copy and told the primary, which deleted it from the
 * table and had every other process drop its copy. A session closed
 * cleanly still resumes everywhere.
 */
import t, { type Test } from 'tap';
import type { CounterValues } from '../lib/operations/counters.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';
import { endConnection, offer } from './helpers/alert-clients.ts';
import { corruptingProxy } from './helpers/corrupting-proxy.ts';

t.teardown(removeCertificateFiles);
const app = await startClusterApp({ FIXTURE_NO_TICKETS: '1', FIXTURE_WAIT_FOR_CLIENT: '1', TLS_CACHE_OWNER_TIMEOUT: '100ms' });
t.teardown(() => app.kill());

const OFFERS = 16;
const counters = async (): Promise<CounterValues> => (await app.ask<{ counters: CounterValues }>('counters')).counters;
const visit = async (session: Buffer) => {
  const ended = await endConnection(app.port, session, 'clean');
  return { reused: ended.reused, servedBy: (JSON.parse(ended.greeting!) as { pid: number }).pid };
};

/** A full handshake, then the session resumed on every process (each keeps a local copy). */
async function everywhere(t: Test): Promise<Buffer> {
  const first = await endConnection(app.port, undefined, 'clean');
  const { resumed, servers } = await offer(OFFERS, visit, first.session!);
  t.equal(resumed, OFFERS, 'the new session resumes');
  t.equal(servers.size, 4, 'on every process');
  return first.session!;
}

t.test('a fatal alert on one process ends the session on every process and in the primary', async (t) => {
  const session = await everywhere(t);
  const before = await counters();
  const proxy = await corruptingProxy(app.port, 'client-data');
  t.teardown(() => proxy.close());
  const bad = await endConnection(proxy.port, session, 'corrupted');
  t.ok(bad.reused, 'the corrupted connection itself had resumed the session');
  t.equal(proxy.corrupted, 1);
  await new Promise((resolve) => setTimeout(resolve, 200)); // the primary tells the other processes
  const ended = await counters();
  const { resumed, servers } = await offer(OFFERS, visit, session);
  t.equal(resumed, 0, `0 of ${OFFERS} resumed, on ${servers.size} processes`);
  t.equal(servers.size, 4, 'every process was offered it');
  const after = await counters();
  t.equal(after.endedByAlert - before.endedByAlert, 1, 'counted once');
  t.equal(after.localHits - ended.localHits, 0, 'no local copy answered afterwards');
  t.equal(after.ownerMalformed, 0);
});

t.test('a session closed cleanly, or dropped, still resumes everywhere', async (t) => {
  const session = await everywhere(t);
  for (const ending of ['clean', 'fin', 'reset'] as const) t.ok((await endConnection(app.port, session, ending)).reused, `ended by ${ending}`);
  t.equal((await offer(OFFERS, visit, session)).resumed, OFFERS);
});
