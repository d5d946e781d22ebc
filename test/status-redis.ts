/**
 * `tls-resumption status` with Redis (issue 32): two "hosts" (two thread
 * runtimes of the command line, each with a socket directory of its own)
 * share a private `redis-server` that asks for a password. Each one's
 * status says Redis is connected, that the other host is seen and serves
 * the same certificate, and that the ticket keys come from Redis; every
 * figure equals its `/metrics`; neither the password nor the secret is
 * printed.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, waitForLog } from './fixtures/process.ts';
import { reconnect } from './helpers/cluster-client.ts';
import { startRedis } from './helpers/redis.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';
import { BIN, figures, runStatus, scrape, statusJson } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

requireCommand(t, REDIS_SERVER);

const PASSWORD = 'status-test-password-6f1d';
const SECRET = 'status-test-secret-0123456789abcdef0123456789';
const dir = mkdtempSync(join(tmpdir(), 'status-redis-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
await writeCertificateFiles(dir);
const MODULE = join(dir, 'server.mjs');
writeFileSync(
  MODULE,
  `import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
export default ({ serverOptions }) =>
  createServer({ key: readFileSync(process.env.APP_KEY), cert: readFileSync(process.env.APP_CERT), ...serverOptions }, (socket) => {
    socket.on('error', () => {});
    socket.end(JSON.stringify({ pid: process.pid, reused: socket.isSessionReused(), protocol: socket.getProtocol(), argv: [] }) + '\\n');
  });
`,
);

const redis = await startRedis(t, { password: PASSWORD });

t.test('two hosts on Redis: each status names Redis and the other host, as /metrics does', async (t) => {
  const hosts: Array<{ port: number; metricsPort: number; env: Record<string, string>; running: ReturnType<typeof run> }> = [];
  for (const name of ['a', 'b']) {
    const port = await freePort();
    const metricsPort = await freePort();
    const env = { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_SOCKET: join(dir, name, 'app.sock') };
    const running = run(BIN, {
      ...env,
      TLS_CACHE_WORKERS: '1',
      TLS_CACHE_METRICS_PORT: String(metricsPort),
      TLS_CACHE_REDIS_URL: redis.url,
      TLS_CACHE_REDIS_SECRET: SECRET,
      APP_CERT: join(dir, 'cert.pem'),
      APP_KEY: join(dir, 'key.pem'),
    }, [MODULE, '--port', String(port)]);
    t.teardown(() => running.kill());
    await waitForLog(running, 'listening', 30_000);
    hosts.push({ port, metricsPort, env, running });
  }
  // The hosts announce their certificates every 2 s.
  await until(async () => (await Promise.all(hosts.map(async (h) => (await statusJson(h.env))[0].redis?.otherHosts))).every((n) => n === 1), 15_000, 200);
  await reconnect({ port: hosts[0].port, version: 'TLSv1.2', noTicket: true }, 3);
  await reconnect({ port: hosts[1].port, version: 'TLSv1.3' }, 3);
  for (const host of hosts) {
    const [owner] = await statusJson(host.env);
    t.equal(owner.kind, 'threads');
    t.same(
      { mode: owner.redis?.mode, connected: owner.redis?.connected, otherHosts: owner.redis?.otherHosts, other: owner.redis?.hostsWithOtherCertificate },
      { mode: 'standalone', connected: true, otherHosts: 1, other: 0 },
      'redis connected, the other host seen, serving the same certificate',
    );
    t.equal(owner.redis?.url, `redis://:***@127.0.0.1:${redis.port}`, 'the URL without its password');
    t.equal(owner.tickets?.source, 'redis', 'ticket keys shared through redis');
    const metrics = await scrape(host.metricsPort);
    for (const [what, status, metric] of figures(owner, metrics)) {
      if (what.startsWith('ticket key age')) t.ok(metric !== undefined && Math.abs(status - metric) <= 1, `${what}: status ${status}, /metrics ${metric}`);
      else t.equal(status, metric, `${what}: status ${status}, /metrics ${metric}`);
    }
    const text = await runStatus([], host.env);
    t.match(text.stdout, `redis: standalone redis://:***@127.0.0.1:${redis.port}, connected, namespace `);
    t.match(text.stdout, '1 other hosts seen, 0 serving another certificate');
    t.match(text.stdout, /ticket keys: \d+ decrypting \(redis\)/);
    const json = JSON.stringify(await statusJson(host.env));
    for (const secret of [PASSWORD, SECRET]) {
      t.notOk(text.stdout.includes(secret) || json.includes(secret), 'no password or secret printed');
    }
  }
});
