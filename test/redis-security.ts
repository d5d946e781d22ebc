/**
 * What Redis holds and what the logs say, with two hosts (processes) on a
 * password-protected redis-server: an entry altered in Redis or written
 * under another secret is refused and counted, and the client gets a full
 * handshake, not a failure; another namespace on the same Redis sees
 * nothing; no value in Redis holds a session's master key; no log line
 * holds the secret or the password.
 */
import t from 'tap';
import { metric } from './helpers/metric.ts';
import { visitTls } from './fixtures/clients.ts';
import { freePort } from './fixtures/process.ts';
import { createSealer } from '../lib/redis/sealed.ts';
import { sessionKey } from '../lib/redis/session-store.ts';
import { secretsOf } from './helpers/session-der.ts';
import { certificateFiles, startHost } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'security-test-secret-0123456789abcdefghijklmno';
const OTHER_SECRET = 'a-different-deployments-secret-0123456789abcdef';
const PASSWORD = 'redis-password-7f3a9c';
const NS = 'shop';

t.test('tampered and foreign entries are refused; namespaces are apart; Redis holds no plaintext; logs hold no secret', async (t) => {
  const redis = await startRedis(t, { password: PASSWORD });
  const certificate = await certificateFiles(t);
  const metricsPort = await freePort();
  const env = {
    ...certificate,
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_REDIS_NAMESPACE: NS,
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_TICKETS: 'off',
    TLS_CACHE_LOG_LEVEL: 'debug',
    // A lookup that waited behind other jobs on this machine's 2 shared cores must not pass for a refusal or a
    // miss (the bound itself is tested in redis-sessions.ts).
    TLS_CACHE_REDIS_TIMEOUT: '1s',
  };
  const [a, b, neighbour] = await Promise.all([
    startHost(t, 'host-a', env),
    startHost(t, 'host-b', { ...env, TLS_CACHE_METRICS_PORT: String(metricsPort) }, ['--b']),
    startHost(t, 'other-deployment', { ...env, TLS_CACHE_REDIS_NAMESPACE: 'blog' }, ['--other']),
  ]);
  t.ok(redis.url.includes(PASSWORD), 'the hosts connect with a password in the URL');
  const client = redis.client();
  const sealer = createSealer({ secret: SECRET, namespace: NS, purpose: 'session' });
  const foreign = createSealer({ secret: OTHER_SECRET, namespace: NS, purpose: 'session' });

  // Sessions made on host A; a clean one resumes on host B.
  const sessions: Buffer[] = [];
  for (let i = 0; i < 30; i++) sessions.push((await visitTls({ port: a.port, maxVersion: 'TLSv1.2' })).session!);
  t.ok((await visitTls({ port: b.port, session: sessions[0], maxVersion: 'TLSv1.2' })).reused, 'an intact entry resumes on the other host');

  // One byte flipped in Redis: refused, counted, a full handshake.
  const tamperedId = secretsOf(sessions[1]).sessionId;
  const raw = (await client.getBuffer(sessionKey(NS, tamperedId)))!;
  t.ok(raw, "the session is in Redis under its ID's hex");
  raw[raw.length - 20] ^= 0x04;
  await client.set(sessionKey(NS, tamperedId), raw, 'KEEPTTL');
  const tampered = await visitTls({ port: b.port, session: sessions[1], maxVersion: 'TLSv1.2' });
  t.notOk(tampered.reused, 'a tampered entry: a full handshake');
  t.equal(await metric(metricsPort, 'tls_session_cache_redis_rejected_total'), 1, 'counted');
  await b.waitForLog((l) => String(l.msg).startsWith('redis entry refused'), 5000);
  t.pass('and logged by the worker');

  // The same session re-sealed under another deployment's secret: refused too.
  const foreignId = secretsOf(sessions[2]).sessionId;
  const plain = sealer.open(foreignId, (await client.getBuffer(sessionKey(NS, foreignId)))!)!;
  t.ok(plain, 'the test can open it with the right secret');
  await client.set(sessionKey(NS, foreignId), foreign.seal(foreignId, plain), 'KEEPTTL');
  t.notOk((await visitTls({ port: b.port, session: sessions[2], maxVersion: 'TLSv1.2' })).reused, 'sealed under another secret: a full handshake');
  t.equal(await metric(metricsPort, 'tls_session_cache_redis_rejected_total'), 2, 'counted');

  // Another deployment's namespace on the same Redis (and the same secret here) sees none of them.
  t.notOk((await visitTls({ port: neighbour.port, session: sessions[3], maxVersion: 'TLSv1.2' })).reused, 'another namespace: a full handshake');

  // What Redis holds: sealed values only.
  const keys = await client.keys('*');
  const values = await Promise.all(keys.map(async (key) => ((await client.type(key)) === 'string' ? (await client.getBuffer(key))! : Buffer.alloc(0))));
  t.ok(keys.filter((k) => k.startsWith(`${NS}:s:`)).length >= 30, `${keys.length} keys in Redis`);
  const masterKeys = sessions.map((s) => secretsOf(s).masterKey);
  t.ok(masterKeys.every((k) => k.length === 48), 'the clients hold 48-byte master keys');
  const leaked = masterKeys.filter((k) =>
    values.some((v) => v.includes(k.subarray(0, 16)) || v.includes(k.subarray(32)) || v.includes(Buffer.from(k.toString('hex'))) || v.includes(Buffer.from(k.toString('base64').slice(0, 20)))),
  );
  t.equal(leaked.length, 0, `no master key (raw, hex or base64) in any of ${values.length} Redis values`);

  // Nothing secret in any log line of any host (primaries and worker threads, at debug).
  for (const host of [a, b, neighbour]) {
    const output = host.output();
    t.ok(output.length > 0, `${host.name}: logs were captured`);
    t.notOk(output.includes(SECRET), `${host.name}: the secret is in no log line`);
    t.notOk(output.includes(PASSWORD), `${host.name}: the Redis password is in no log line`);
    t.ok(output.includes('redis connected'), `${host.name}: it did connect`);
  }
});
