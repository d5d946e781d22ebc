/**
 * Sessions ended by a fatal alert (RFC 5246 §7.2.2), 4 worker threads, TLS
 * 1.2 by session ID: a session whose connection ended in a fatal alert,
 * sent (the client's record corrupted: the server answers
 * `bad_record_mac`) or received (the server's record corrupted: the client
 * sends it), or whose resumption failed on a corrupted Finished, gets a full
 * handshake on every worker afterwards (0 resumed); a session closed
 * cleanly, or whose client just dropped the connection (FIN without
 * close_notify, or a reset), still resumes everywhere, as in nginx.
 */
import t, { type Test } from 'tap';
import { isFatalAlert } from '../lib/tls/fatal-alerts.ts';
import { sessionIdOf } from '../lib/tls/session-der.ts';
import { visitTls } from './fixtures/clients.ts';
import { derOf, secretsOf } from './helpers/session-der.ts';
import { startTestCluster } from './fixtures/start.ts';
import { endConnection, offer, type Ending } from './helpers/alert-clients.ts';
import { corruptingProxy, type Corruption } from './helpers/corrupting-proxy.ts';
import { until } from './helpers/until.ts';

const OFFERS = 24;

const { cluster } = await startTestCluster('tls', 'shared');
t.teardown(() => cluster.stop());
const port = cluster.port;

t.test('what counts as a fatal alert, and reading the session ID', async (t) => {
  const openssl = (code: string, library = 'SSL routines'): Error => Object.assign(new Error(code), { code, library });
  t.ok(isFatalAlert(openssl('ERR_SSL_SSL/TLS_ALERT_BAD_RECORD_MAC')), 'an alert received');
  t.ok(isFatalAlert(openssl('ERR_SSL_CIPHER_OPERATION_FAILED', 'Provider routines')), 'a record that did not decrypt (the server sends one)');
  t.ok(isFatalAlert(Object.assign(new Error('x'), { code: 'ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC' })));
  t.notOk(isFatalAlert(openssl('ERR_SSL_UNEXPECTED_EOF_WHILE_READING')), 'a peer that closed without close_notify');
  for (const code of ['ECONNRESET', 'EPIPE', 'ETIMEDOUT']) t.notOk(isFatalAlert(Object.assign(new Error(code), { code })), code);
  t.notOk(isFatalAlert(undefined));
  t.notOk(isFatalAlert('ERR_SSL_X'));
  const { session } = await visitTls({ port: cluster.port, maxVersion: 'TLSv1.2' });
  t.same(sessionIdOf(derOf(session!)), secretsOf(session!).sessionId, 'the ID of a real session');
  for (const bad of [Buffer.alloc(0), Buffer.from([0x30, 0x80]), Buffer.from([0x04, 0x01, 0x00]), Buffer.from([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x03]), 'text' as unknown as Buffer]) {
    t.equal(sessionIdOf(bad), undefined, `not a session: ${Buffer.isBuffer(bad) ? bad.toString('hex') || 'empty' : typeof bad}`);
  }
});

const visit = async (session: Buffer) => {
  const v = await visitTls({ port, session, maxVersion: 'TLSv1.2' });
  return { reused: v.reused, servedBy: v.served.workerId };
};

/** A full handshake, then the session offered on every worker: it resumes (the table has it). */
async function freshSession(t: Test): Promise<Buffer> {
  const first = await visitTls({ port, maxVersion: 'TLSv1.2' });
  t.notOk(first.reused);
  const { resumed, servers } = await offer(8, visit, first.session!);
  t.equal(resumed, 8, `the new session resumes (${servers.size} workers)`);
  return first.session!;
}

/**
 * Asserts that exactly one session ended since the count was `ended`. The
 * server thread counts when its side of the connection ends, which may be
 * after the client saw its error (the alert the client sends is still on
 * its way): it waits for the count to change first.
 */
async function endedSince(t: Test, ended: number, message: string): Promise<void> {
  await until(async () => (await cluster.sessionCounters()).endedByAlert !== ended);
  t.equal((await cluster.sessionCounters()).endedByAlert, ended + 1, message);
}

for (const [corruption, what] of [
  ['client-data', 'the client\'s record corrupted: the server sends bad_record_mac'],
  ['server-data', 'the server\'s record corrupted: the client sends bad_record_mac'],
] as Array<[Corruption, string]>) {
  t.test(`${what}: 0 of ${OFFERS} resumed afterwards, on any worker`, async (t) => {
    const session = await freshSession(t);
    const ended = (await cluster.sessionCounters()).endedByAlert;
    const proxy = await corruptingProxy(port, corruption);
    t.teardown(() => proxy.close());
    const bad = await endConnection(proxy.port, session, 'corrupted');
    t.ok(bad.reused, 'the corrupted connection itself had resumed the session');
    t.equal(proxy.corrupted, 1, 'one record corrupted');
    if (corruption === 'server-data') t.match(bad.error ?? '', /^ERR_SSL_/, `the client saw an SSL error (${bad.error})`);
    await endedSince(t, ended, 'counted');
    const { resumed, servers } = await offer(OFFERS, visit, session);
    t.equal(resumed, 0, `0 of ${OFFERS} resumed, workers ${[...servers].sort().join(', ')}`);
    t.ok(servers.size >= 3, `several workers tried it (${servers.size})`);
    t.equal((await cluster.sessionCounters()).endedByAlert, ended + 1, 'counted once');
  });
}

t.test('a resumption whose Finished was corrupted: the session ends too', async (t) => {
  const session = await freshSession(t);
  const proxy = await corruptingProxy(port, 'client-finished');
  t.teardown(() => proxy.close());
  const ended = (await cluster.sessionCounters()).endedByAlert;
  // The client sends its Finished last in an abbreviated handshake: it counts the handshake as done.
  await endConnection(proxy.port, session, 'corrupted');
  t.equal(proxy.corrupted, 1);
  await endedSince(t, ended, 'the failed handshake counted once');
  const { resumed } = await offer(OFFERS, visit, session);
  t.equal(resumed, 0, `0 of ${OFFERS} resumed`);
});

for (const ending of ['clean', 'fin', 'reset'] as Ending[]) {
  t.test(`a connection ended by ${ending === 'clean' ? 'close_notify' : ending === 'fin' ? 'a FIN without close_notify' : 'a reset'}: the session still resumes everywhere`, async (t) => {
    const session = await freshSession(t);
    const ended = (await cluster.sessionCounters()).endedByAlert;
    const last = await endConnection(port, session, ending);
    t.ok(last.reused);
    const { resumed, servers } = await offer(OFFERS, visit, session);
    t.equal(resumed, OFFERS, `${resumed} of ${OFFERS} resumed on ${servers.size} workers`);
    t.equal((await cluster.sessionCounters()).endedByAlert, ended, 'nothing counted as ended');
  });
}

t.test('TLS 1.3: a fatal alert ends the connection; nothing is stored, nothing removed, the server goes on', async (t) => {
  const proxy = await corruptingProxy(port, 'client-data');
  t.teardown(() => proxy.close());
  const ended = (await cluster.sessionCounters()).endedByAlert;
  const bad = await endConnection(proxy.port, undefined, 'corrupted', 'TLSv1.3');
  t.match(bad.error ?? '', /^ERR_SSL_/);
  t.equal((await cluster.sessionCounters()).endedByAlert, ended);
  t.equal((await visitTls({ port, maxVersion: 'TLSv1.3' })).served.protocol, 'TLSv1.3');
  t.ok(cluster.workers().every((w) => w.restarts === 0), 'no worker died');
});
