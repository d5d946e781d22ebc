/**
 * Missed resumptions (issue 25) on `node:cluster` worker processes, with
 * real processes and clients: counted in each worker, shipped to the
 * primary and summed there like the other counters; a session ID the
 * primary's table does not hold is `not_found`, its TLS 1.3 legacy ID is
 * no offer, a ticket under an unknown key is `unknown_key`, and a lookup
 * the stopped primary does not answer in time is `timeout`. The debug
 * line says why, and never carries a session ID.
 */
import { randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import type { CounterValues } from '../../lib/operations/counters.ts';
import { MISSES } from '../../lib/tls/resumption-misses.ts';
import { visit } from '../helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp, type ClusterApp } from '../helpers/cluster-app.ts';
import { foreignSessions } from '../helpers/foreign-sessions.ts';
import { secretsOf, ticketOf, withTicket } from '../helpers/session-der.ts';

t.teardown(removeCertificateFiles);

const OWNER_TIMEOUT_MS = 20;

const missesOf = async (app: ClusterApp): Promise<Record<string, number>> => {
  const { counters } = await app.ask<{ counters: CounterValues }>('counters');
  return Object.fromEntries(MISSES.map((m) => [`${m.method}/${m.reason}`, counters[m.counter]]));
};

/** Asserts that the misses changed by exactly `expected` since `before` (every other reason by 0). */
async function expectMisses(t: Test, app: ClusterApp, before: Record<string, number>, expected: Record<string, number>): Promise<Record<string, number>> {
  const after = await missesOf(app);
  for (const key of Object.keys(after)) t.equal(after[key] - before[key], expected[key] ?? 0, `${key}: +${expected[key] ?? 0}`);
  return after;
}

async function certificate(): Promise<{ cert: string; key: string }> {
  const { loadCertificate } = await import('../../examples/certificate.ts');
  const { cert, key } = await loadCertificate({});
  return { cert, key };
}

t.test('worker processes: not_found, unknown_key and, with the primary stopped, timeout; the debug lines', async (t) => {
  const app = await startClusterApp({ NODE_CLUSTER_SCHED_POLICY: 'none', TLS_CACHE_OWNER_TIMEOUT: `${OWNER_TIMEOUT_MS}ms`, TLS_CACHE_LOG_LEVEL: 'debug' });
  t.teardown(() => app.kill());
  const foreign = await foreignSessions(2, await certificate());
  let before = await missesOf(app);

  // Fresh clients and resumed ones count nothing; nor do TLS 1.3's random legacy session IDs (the owner's filter answers them).
  const tls13 = await visit({ port: app.port, version: 'TLSv1.3' });
  t.equal((await visit({ port: app.port, version: 'TLSv1.3', session: tls13.session })).reused, true);
  const byId = await visit({ port: app.port, version: 'TLSv1.2', noTicket: true });
  t.equal((await visit({ port: app.port, version: 'TLSv1.2', noTicket: true, session: byId.session })).reused, true);
  before = await expectMisses(t, app, before, {});

  t.equal((await visit({ port: app.port, version: 'TLSv1.2', noTicket: true, session: foreign[0] })).reused, false);
  before = await expectMisses(t, app, before, { 'session_id/not_found': 1 });

  const ticket = ticketOf(tls13.session!)!;
  const forged = withTicket(tls13.session!, Buffer.concat([randomBytes(16), ticket.subarray(16)]));
  t.equal((await visit({ port: app.port, version: 'TLSv1.3', session: forged })).reused, false);
  before = await expectMisses(t, app, before, { 'ticket/unknown_key': 1 });

  process.kill(app.child.pid!, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(app.child.pid!, 'SIGCONT');
    } catch {
      // gone
    }
  });
  // An ID the primary holds (made before the stop, on whichever process) is asked about on the other processes: it times
  // out there. (A foreign one never leaves the process now: the owner's filter says the table cannot hold it.)
  let missed = false;
  for (let i = 0; i < 40 && !missed; i++) missed = !(await visit({ port: app.port, version: 'TLSv1.2', noTicket: true, session: byId.session })).reused;
  t.ok(missed, 'a process other than the one that made the session took a connection');
  process.kill(app.child.pid!, 'SIGCONT');
  await expectMisses(t, app, before, { 'session_id/timeout': 1 });

  const lines = app
    .output()
    .split('\n')
    .filter((line) => line.includes('resumption missed'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const reasons = lines.map((l) => `${String(l.method)}/${String(l.reason)}`).sort();
  t.same(reasons, ['session_id/not_found', 'session_id/timeout', 'ticket/unknown_key'], 'one debug line per miss');
  for (const line of lines) {
    t.equal(line.level, 20, 'at debug level');
    t.ok(typeof line.pid === 'number' && typeof line.thread === 'number', 'names the worker');
    t.ok(line.protocol === 'TLSv1.2' || line.protocol === 'TLSv1.3', 'and the protocol');
  }
  const text = lines.map((l) => JSON.stringify(l)).join('\n');
  for (const session of foreign) {
    const id = secretsOf(session).sessionId.toString('hex');
    t.notOk(text.includes(id.slice(0, 8)), `no session ID, not even its start (${id.slice(0, 4)}...)`);
  }
  const allowed = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'method', 'reason', 'protocol', 'thread', 'skipped']);
  t.same(lines.flatMap((l) => Object.keys(l).filter((k) => !allowed.has(k))), [], 'no other field (no session data, no key)');
});
