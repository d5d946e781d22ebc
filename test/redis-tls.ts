/**
 * A Redis reached over TLS (`rediss://`), as across a network: a
 * redis-server listening only for TLS, two hosts (processes) that trust its
 * certificate (`NODE_EXTRA_CA_CERTS`) resume each other's sessions through
 * it; a host that does not trust it never connects (the certificate is
 * checked), says so once, and serves on its own.
 */
import t from 'tap';
import { visitTls } from './fixtures/clients.ts';
import { certificateFiles, startHost } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { readFileSync } from 'node:fs';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

const SECRET = 'tls-redis-test-secret-0123456789abcdefghijklmn';

t.test('rediss://: sessions cross hosts through a Redis reached over TLS, whose certificate is checked', async (t) => {
  const certificate = await certificateFiles(t);
  const cert = readFileSync(certificate.TLS_CACHE_CERT, 'utf8');
  const redis = await startRedis(t, { tls: { certFile: certificate.TLS_CACHE_CERT, keyFile: certificate.TLS_CACHE_KEY, cert } });
  t.match(redis.url, /^rediss:\/\//);
  const env = {
    ...certificate,
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: SECRET,
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_TICKETS: 'off',
    TLS_CACHE_LOG_LEVEL: 'info',
    // Each visit below must resume: a reply that waits behind other jobs on this machine's 2 shared cores must
    // not pass for a miss (the bound itself is tested in redis-sessions.ts).
    TLS_CACHE_REDIS_TIMEOUT: '1s',
  };
  const trusting = { ...env, NODE_EXTRA_CA_CERTS: certificate.TLS_CACHE_CERT };
  const [a, b, stranger] = await Promise.all([
    startHost(t, 'host-a', trusting),
    startHost(t, 'host-b', trusting, ['--b']),
    startHost(t, 'untrusting-host', env, ['--c']),
  ]);
  t.ok(a.logs.some((l) => l.msg === 'redis connected'), 'a host that trusts the certificate connects');

  let resumed = 0;
  for (let i = 0; i < 20; i++) {
    const first = await visitTls({ port: a.port });
    if ((await visitTls({ port: b.port, session: first.session })).reused) resumed++;
  }
  t.equal(resumed, 20, 'every session made on host A resumed on host B, through Redis over TLS');
  t.ok((await redis.client().keys('*:s:*')).length >= 20, 'the sessions are in Redis');

  const refused = await stranger.waitForLog((l) => String(l.msg).startsWith('redis unavailable'));
  t.match(String(refused.reason), /CERT|SELF_SIGNED|UNABLE/, `a host that does not trust the certificate does not connect (${String(refused.reason)})`);
  t.notOk(stranger.logs.some((l) => l.msg === 'redis connected'), 'never');
  const own = await visitTls({ port: stranger.port });
  t.ok((await visitTls({ port: stranger.port, session: own.session })).reused, 'and serves and resumes on its own');
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.equal(stranger.logs.filter((l) => String(l.msg).startsWith('redis unavailable')).length, 1, 'said once, not per attempt');
});
