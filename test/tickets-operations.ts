/**
 * Operating the ticket keys of a cluster: rotate now and flush from code and
 * by signal (SIGUSR1, SIGUSR2) across every worker at once, logs that never
 * carry key bytes, tickets switched off, and nginx key files.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadCertificate } from '../examples/certificate.ts';
import { certificateSessionIdContext } from '../lib/runtime/certificate-binding.ts';
import { toNginxKey } from '../lib/tickets/nginx-keys.ts';
import type { TicketKey } from '../lib/tickets/ticket-key.ts';
import { visitHttps, visitTls } from './fixtures/clients.ts';
import { run, waitForLog } from './fixtures/process.ts';
import { startTestCluster } from './fixtures/start.ts';

const RUN_CLUSTER = fileURLToPath(new URL('./fixtures/run-cluster.ts', import.meta.url));

/** Every encoding of every part of `keys` a log line or a message could carry. */
function encodings(keys: TicketKey[]): string[] {
  return keys.flatMap((key) =>
    [key.name, key.hmac, key.aes, Buffer.concat([key.name, key.hmac, key.aes])].flatMap((part) => [
      part.toString('hex'),
      part.toString('base64'),
      part.toString('base64url'),
      JSON.stringify([...part]),
    ]),
  );
}

t.test('flush: every session and every ticket key, in every worker at once', async (t) => {
  const { cluster, logs } = await startTestCluster('tls', 'shared', { logLevel: 'silent' }, { tickets: true });
  t.teardown(() => cluster.stop());
  const ring = cluster.ticketKeys!;
  const tls12 = await visitTls({ port: cluster.port, maxVersion: 'TLSv1.2' });
  const tls13 = await visitTls({ port: cluster.port, maxVersion: 'TLSv1.3' });
  const keysBefore = [ring.encryptionKey()!];
  cluster.rotateTicketKeys();
  keysBefore.push(ring.encryptionKey()!);
  for (const visit of [tls12, tls13]) {
    t.ok((await visitTls({ port: cluster.port, maxVersion: visit.served.protocol as 'TLSv1.2', session: visit.session })).reused,
      `${visit.served.protocol}: resumes after a rotation`);
  }
  const result = cluster.flush();
  t.equal(result.ticketKeys, true);
  for (const visit of [tls12, tls13]) {
    const again = await visitTls({ port: cluster.port, maxVersion: visit.served.protocol as 'TLSv1.2', session: visit.session });
    t.notOk(again.reused, `${visit.served.protocol}: a full handshake after the flush`);
  }
  for (const key of keysBefore) t.equal(ring.decryptionKey(key.name), undefined, 'the old keys are gone');
  const memory = Buffer.from(ring.buffer);
  t.notOk(keysBefore.some((key) => [key.name, key.hmac, key.aes].some((part) => memory.includes(part))), 'and zeroed');

  const flushed = logs.find((line) => line.msg === 'flushed: every session and ticket key is gone');
  t.ok(flushed, 'the flush is logged');
  t.equal(flushed?.level, 30, 'at info level');
  const rotated = logs.find((line) => line.msg === 'ticket keys rotated');
  t.equal(rotated?.level, 20, 'rotations are logged at debug level');
  const keysAfter = [ring.encryptionKey()!];
  const text = JSON.stringify(logs);
  t.notOk(encodings([...keysBefore, ...keysAfter]).some((encoded) => text.includes(encoded)), 'no key bytes in any log line');
});

t.test('session IDs still resume with tickets on, and are flushed too', async (t) => {
  const { cluster } = await startTestCluster('tls', 'shared', {}, { tickets: false });
  t.teardown(() => cluster.stop());
  t.ok(cluster.ticketKeys, 'the ring exists (tickets on), the server just issues none (SSL_OP_NO_TICKET)');
  const first = await visitTls({ port: cluster.port });
  t.ok((await visitTls({ port: cluster.port, session: first.session })).reused, 'resumed by session ID');
  t.equal(cluster.flush().sessions, 1, 'the flush removed the stored session');
  t.notOk((await visitTls({ port: cluster.port, session: first.session })).reused, 'full handshake after the flush');
});

t.test('TLS_CACHE_TICKETS=off', async (t) => {
  await t.rejects(startTestCluster('tls', 'shared', { tickets: 'off', workers: 2 }, { tickets: true }), {
    code: 'ERR_TLS_CACHE_WORKER_START',
    message: /ERR_TLS_CACHE_TICKETS_NOT_DISABLED: Tickets are off \(TLS_CACHE_TICKETS=off\)/,
  }, 'a server that would issue its own tickets is refused');
  const { cluster } = await startTestCluster('tls', 'shared', { tickets: 'off' });
  t.teardown(() => cluster.stop());
  t.equal(cluster.ticketKeys, undefined, 'no ring');
  t.equal(cluster.rotateTicketKeys(), false);
  const first = await visitTls({ port: cluster.port });
  const again = await visitTls({ port: cluster.port, session: first.session });
  t.ok(again.reused, 'TLS 1.2 resumes by session ID');
  t.equal(cluster.table.stats().hits, 1, 'from the shared table');
  t.same(cluster.flush(), { sessions: 1, ticketKeys: false });
});

t.test('nginx key files: the first encrypts, the others decrypt; a Node server with the same key resumes the tickets', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ticket-key-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const current = Buffer.alloc(48);
  const previous = Buffer.alloc(48);
  for (let i = 0; i < 48; i++) {
    current[i] = (i * 7 + 1) & 0xff;
    previous[i] = (i * 13 + 5) & 0xff;
  }
  // The files are in nginx's order; `current` and `previous` are in Node's.
  writeFileSync(join(dir, 'current.key'), toNginxKey(current));
  writeFileSync(join(dir, 'previous.key'), toNginxKey(previous));
  const files = `${join(dir, 'current.key')},${join(dir, 'previous.key')}`;
  const { cert, key } = await loadCertificate({});

  // A plain Node server holding one of the keys through the public API, with the cluster's session ID context:
  // the one the runtime derives from the deployment's and the certificate.
  const sessionIdContext = certificateSessionIdContext('tls-resumption-test', new X509Certificate(cert).raw);
  const plain = async (ticketKeys: Buffer) => {
    const server = createTlsServer({ cert, key, ticketKeys, sessionTimeout: 300, sessionIdContext }, (socket) => {
      socket.end(`${JSON.stringify({ workerId: 0, threadId: 0, reused: socket.isSessionReused(), protocol: socket.getProtocol() })}\n`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    return (server.address() as { port: number }).port;
  };
  const withPrevious = await plain(previous);
  const withCurrent = await plain(current);
  // The same certificate as the plain servers: sessions resume only under the certificate they were made with.
  const { cluster } = await startTestCluster('tls', 'shared', { ticketKeyFile: files, sessionIdContext: 'tls-resumption-test' }, { tickets: true, cert, key });
  t.teardown(() => cluster.stop());
  t.ok(cluster.ticketKeys!.fixed, 'fixed keys');
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const old = await visitTls({ port: withPrevious, maxVersion: version });
    t.ok((await visitTls({ port: cluster.port, maxVersion: version, session: old.session })).reused,
      `${version}: the cluster resumes a ticket under the second file's key`);
    const issued = await visitTls({ port: cluster.port, maxVersion: version });
    t.ok((await visitTls({ port: withCurrent, maxVersion: version, session: issued.session })).reused,
      `${version}: the cluster encrypts with the first file's key`);
  }
  await t.rejects(startTestCluster('tls', 'shared', { ticketKeyFile: join(dir, 'missing.key'), workers: 1 }), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    message: /Invalid option "ticketKeyFile": .*missing\.key", which cannot be read \(ENOENT\)/,
  }, 'a missing file stops the start');
  writeFileSync(join(dir, 'short.key'), Buffer.alloc(32, 0x5c));
  await t.rejects(startTestCluster('tls', 'shared', { ticketKeyFile: join(dir, 'short.key'), workers: 1 }), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    message: /which is 32 bytes, not 48/,
  }, 'so does a file of the wrong size');
});

t.test('signals: SIGUSR1 rotates, SIGUSR2 flushes, and the process keeps serving', async (t) => {
  const running = run(RUN_CLUSTER, { TICKETS: '1', TLS_CACHE_WORKERS: '2', TLS_CACHE_LOG_LEVEL: 'debug', KIND: 'https' });
  t.teardown(() => running.kill());
  const listening = await waitForLog(running, 'listening');
  const port = listening.port as number;
  const first = await visitHttps({ port, maxVersion: 'TLSv1.3' });
  running.child.kill('SIGUSR1');
  await waitForLog(running, 'ticket keys rotated');
  const afterRotation = await visitHttps({ port, maxVersion: 'TLSv1.3', session: first.session });
  t.ok(afterRotation.reused, 'after SIGUSR1 the previous key still decrypts');
  running.child.kill('SIGUSR2');
  const flushed = await waitForLog(running, 'flushed: every session and ticket key is gone');
  t.equal(flushed.level, 30);
  const afterFlush = await visitHttps({ port, maxVersion: 'TLSv1.3', session: first.session });
  t.notOk(afterFlush.reused, 'after SIGUSR2 a full handshake');
  t.equal(running.child.exitCode, null, 'still running');
  t.notOk(running.stderr().includes('Debugger listening'), 'SIGUSR1 did not start the inspector');
  running.child.kill('SIGTERM');
  t.equal(await running.exited, 0, 'stops cleanly on SIGTERM');
});
