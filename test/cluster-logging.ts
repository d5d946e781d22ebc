/**
 * What the runtime logs: cache statistics at debug level every
 * statsInterval, and never session data.
 */
import t from 'tap';
import { visitTls, type Visit } from './fixtures/clients.ts';
import { startTestCluster } from './fixtures/start.ts';

/**
 * The session ID and master key inside a client's session: Node wraps
 * OpenSSL's DER (SSL_SESSION_ASN1) in a small header, so find the DER's
 * `INTEGER 1, INTEGER 0x0303` and read on: OCTET STRING cipher, OCTET
 * STRING id, OCTET STRING master key.
 */
function secretsOf(session: Buffer): Buffer[] {
  let at = session.indexOf(Buffer.from('02010102020303', 'hex')) + 7;
  const fields: Buffer[] = [];
  while (fields.length < 3 && at > 6 && at < session.length) {
    const length = session[at + 1];
    fields.push(session.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return [fields[1], fields[2]];
}

t.test('statistics are logged at debug level, without session data', async (t) => {
  const { cluster, logs } = await startTestCluster('tls', 'shared', { workers: 2, statsInterval: 100 });
  t.teardown(() => cluster.stop());
  const visits: Visit[] = [];
  let session: Buffer | undefined;
  for (let i = 0; i < 10; i++) {
    const visit = await visitTls({ port: cluster.port, session });
    visits.push(visit);
    session = visit.session;
  }
  await visitTls({ port: cluster.port, maxVersion: 'TLSv1.3' });
  await new Promise((resolve) => setTimeout(resolve, 350));
  const stats = logs.filter((l) => l.msg === 'cache statistics');
  t.ok(stats.length >= 2, `${stats.length} statistics lines`);
  const last = stats[stats.length - 1];
  t.equal(last.level, 20, 'at debug level');
  t.match(last, {
    stats: { entries: 1, inserts: 1, hits: 9, capacityEntries: Number },
    hooks: { stored: 1, lookupHits: 9, skippedTls13: Number },
  });
  t.ok((last.hooks as { skippedTls13: number }).skippedTls13 >= 1, 'the skipped TLS 1.3 sessions are reported');

  const [id, masterKey] = secretsOf(visits[0].session!);
  t.equal(id.length, 32, 'found the session id');
  t.equal(masterKey.length, 48, 'found the master key');
  const text = JSON.stringify(logs);
  for (const secret of [id, masterKey]) {
    for (const encoding of ['hex', 'base64', 'base64url'] as const) {
      t.notOk(text.includes(secret.toString(encoding)), `no ${encoding} of a session secret in the log`);
    }
  }
  t.notOk(text.includes(JSON.stringify([...id])), 'no byte array of the session id in the log');
});

t.test('a server module that drops serverOptions is refused before the cluster starts', async (t) => {
  await t.rejects(startTestCluster('https', 'shared', { workers: 2 }, { omitServerOptions: true }), {
    code: 'ERR_TLS_CACHE_WORKER_START',
    message: /ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH: The server's TLS sessionIdContext is "[0-9a-f]{32}", not the deployment's "tls-resumption"/,
  });
  await t.rejects(startTestCluster('https', 'shared', { workers: 2, sessionIdContext: 'shop' }, { omitServerOptions: true, sessionIdContext: 'shop' }), {
    code: 'ERR_TLS_CACHE_WORKER_START',
    message: /ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH: The server has no sessionTimeout/,
  }, 'with the right context, the missing timeout is named');
});

t.test('a server with another session ID context is refused', async (t) => {
  await t.rejects(startTestCluster('tls', 'shared', { workers: 1 }, { sessionIdContext: 'other' }), {
    code: 'ERR_TLS_CACHE_WORKER_START',
    message: /ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH: The server's TLS sessionIdContext is "other", not the deployment's "tls-resumption" \(TLS_CACHE_SESSION_ID_CONTEXT\)/,
  });
});
