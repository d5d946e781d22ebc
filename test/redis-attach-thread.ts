/**
 * One attach path (issue 22): a server module that attaches the cache
 * itself with the node:cluster line (`await attachSharedCache(server)`),
 * run on worker threads by the command line on two hosts sharing a real
 * redis-server. Its servers get the thread's store, Redis included: TLS 1.2
 * session IDs made on one host resume on the other, the sessions are in
 * Redis, and a session ended by a fatal alert on one host is ended on the
 * other. (Before, the module's attach took the bare table: 0 of 40 crossed
 * and Redis held no session.)
 */
import t from 'tap';
import { metric } from './helpers/metric.ts';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:tls';
import { constants } from 'node:crypto';
import { endConnection } from './helpers/alert-clients.ts';
import { corruptingProxy } from './helpers/corrupting-proxy.ts';
import { certificateFiles } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { freePort, run, waitForLog } from './fixtures/process.ts';
import { until } from './helpers/until.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const BIN = fileURLToPath(new URL('../dist/lib/cli/bin.js', import.meta.url));
const MODULE = fileURLToPath(new URL('./fixtures/attach-in-thread.mjs', import.meta.url));

/** One TLS 1.2 connection by session ID (no ticket): whether it resumed, and the session to offer next. */
function visit(port: number, session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let newest = session;
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, session, maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET });
    socket.on('session', (s: Buffer) => (newest = s));
    socket.once('data', () => {
      const reused = socket.isSessionReused();
      socket.end();
      socket.once('close', () => resolve({ reused, session: newest }));
    });
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
  });
}

t.test('a module attaching with attachSharedCache(), on threads of the command line, on two hosts with Redis', async (t) => {
  const redis = await startRedis(t);
  const certificate = await certificateFiles(t);
  const hosts = await Promise.all(
    ['host-a', 'host-b'].map(async (name) => {
      const port = await freePort();
      const metricsPort = await freePort();
      const running = run(
        BIN,
        {
          ...certificate,
          TLS_CACHE_WORKERS: '2',
          TLS_CACHE_TICKETS: 'off',
          TLS_CACHE_REDIS_URL: redis.url,
          TLS_CACHE_REDIS_SECRET: 'attach-in-thread-test-secret-0123456789abcdef',
          TLS_CACHE_REDIS_NAMESPACE: 'attach',
          TLS_CACHE_REDIS_TIMEOUT: '1s',
          TLS_CACHE_METRICS_PORT: String(metricsPort),
        },
        [MODULE, '--port', String(port), '--host', '127.0.0.1'],
      );
      t.teardown(() => running.kill());
      await waitForLog(running, 'listening', 30_000);
      return { name, port, metricsPort, running };
    }),
  );
  const [a, b] = hosts;

  // 40 sessions, each made on one host and offered to the other: alternating.
  let resumed = 0;
  const sessions: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
    const made = await visit(first.port);
    t.notOk(made.reused, 'a full handshake makes it');
    if ((await visit(second.port, made.session)).reused) resumed++;
    sessions.push(made.session!);
  }
  t.ok(resumed >= 39, `session IDs across the hosts: ${resumed} of 40 resumed`);
  const keys = await redis.client().keys('attach:s:*');
  t.ok(keys.length >= 40, `the sessions are in Redis (${keys.length} keys)`);

  // A fatal alert on host B ends a session on host A too.
  const doomed = sessions[0];
  t.ok((await visit(a.port, doomed)).reused && (await visit(b.port, doomed)).reused, 'the session resumes on both hosts');
  const proxy = await corruptingProxy(b.port, 'client-data');
  t.teardown(() => proxy.close());
  const bad = await endConnection(proxy.port, doomed, 'corrupted');
  t.ok(bad.reused, 'the corrupted connection resumed it on host B');
  await until(async () => (await metric(b.metricsPort, 'tls_session_cache_sessions_ended_total')) === 1, 5000, 50);
  await until(async () => !(await visit(a.port, doomed)).reused, 5000, 50);
  let after = 0;
  for (let i = 0; i < 8; i++) if ((await visit(a.port, doomed)).reused || (await visit(b.port, doomed)).reused) after++;
  t.equal(after, 0, 'ended by the alert: 0 of 8 offers resumed on either host');
  t.ok((await visit(a.port, sessions[1])).reused, 'another session still resumes');
});
