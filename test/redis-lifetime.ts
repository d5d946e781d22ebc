/**
 * Two hosts sharing one real redis-server (issue 17): a 5 s session timeout
 * and a client alternating between the hosts every 1.8 s, offering only its
 * newest session (each TLS 1.3 ticket once: every resumption brings a fresh
 * ticket, from whichever host; TLS 1.2 tickets re-offered). It resumes while
 * its session is younger than 5 s, on either host, and never after: the
 * session's birth travels in every fresh ticket, under the fleet's keys.
 */
import t from 'tap';
import { visitTls } from './fixtures/clients.ts';
import { certificateFiles, startHost } from './helpers/redis-hosts.ts';
import { startRedis } from './helpers/redis.ts';
import { checkLifetime, lifetimeChain } from './helpers/lifetime-chain.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

t.test('alternating hosts every 1.8 s: resumed within 5 s of the full handshake, never after', async (t) => {
  const redis = await startRedis(t);
  const certificate = await certificateFiles(t);
  const env = {
    ...certificate,
    TLS_CACHE_REDIS_URL: redis.url,
    TLS_CACHE_REDIS_SECRET: 'lifetime-test-secret-0123456789abcdefghijkl',
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_SESSION_TIMEOUT: '5',
    TLS_CACHE_REDIS_TIMEOUT: '1s',
    TICKETS: '1',
  };
  const hosts = await Promise.all([startHost(t, 'host-a', env), startHost(t, 'host-b', env, ['--role', 'second-host'])]);
  const chain = (version: 'TLSv1.2' | 'TLSv1.3') =>
    lifetimeChain(async (session, step) => {
      const host = hosts[step % 2];
      const v = await visitTls({ port: host.port, session, maxVersion: version });
      return { reused: v.reused, session: v.session, servedBy: `${host.name}/${v.served.workerId}` };
    }, 1800, 7);
  const [tls12, tls13] = await Promise.all([chain('TLSv1.2'), chain('TLSv1.3')]);
  checkLifetime(t, 'TLS 1.2 tickets', tls12, 5000);
  checkLifetime(t, 'TLS 1.3 tickets, each once', tls13, 5000);
  t.ok(tls13.filter((s) => s.reused && String(s.servedBy).startsWith('host-b')).length >= 1, 'a fresh ticket from one host resumed on the other');
});
