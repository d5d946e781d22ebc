/**
 * A deploy that changes a setting under real PM2 (issue 32): 2 instances
 * of `examples/pm2/` with the default socket (in a private
 * `XDG_RUNTIME_DIR` of the test's), then `pm2 reload --update-env` with a
 * new `TLS_CACHE_SESSION_TIMEOUT`. Nobody touches a daemon: the new instances
 * start one of their settings and resume each other's new sessions; the
 * old daemon stops once its instances are gone (its idle time, shortened
 * here), and one daemon is left.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { freePort } from '../fixtures/process.ts';
import { reconnect } from '../helpers/cluster-client.ts';
import { until } from '../helpers/until.ts';
import { isRunning, settingsDigest } from '../../lib/owner/socket-path.ts';
import { writeCertificateFiles } from '../helpers/certificate-files.ts';
import { APP, ECOSYSTEM, pm2With } from '../helpers/pm2.ts';


const dir = mkdtempSync(join(tmpdir(), 'pm2-settings-test-'));
const sockets = join(dir, 'runtime', 'tls-resumption');
await writeCertificateFiles(dir);
const port = await freePort();
const env: NodeJS.ProcessEnv = {
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  HOME: process.env.HOME ?? '/',
  PM2_HOME: join(dir, 'pm2'),
  PORT: String(port),
  WORKERS: '2',
  XDG_RUNTIME_DIR: join(dir, 'runtime'),
  APP_CERT: join(dir, 'cert.pem'),
  APP_KEY: join(dir, 'key.pem'),
  TLS_CACHE_LOG_FORMAT: 'json',
  TLS_CACHE_OWNER_TIMEOUT: '100ms',
  TLS_CACHE_DAEMON_IDLE_TIMEOUT: '3s',
  TLS_CACHE_SESSION_TIMEOUT: '1h',
};
const pm2 = pm2With(env);
/** The daemons holding a lock in the socket directory. */
const daemons = (): number[] => {
  try {
    return readdirSync(sockets)
      .filter((name) => name.endsWith('.sock.lock'))
      .map((name) => Number(readFileSync(join(sockets, name), 'utf8')))
      .filter((pid) => isRunning(pid));
  } catch {
    return [];
  }
};
t.teardown(async () => {
  await pm2('kill').catch(() => {});
  for (const pid of daemons()) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});
const http = { port, http: true } as const;
const socketOf = (sessionTimeout: number): string => join(sockets, `tls-resumption-${settingsDigest({ sessionIdContext: 'tls-resumption', sessionTimeout, tickets: 'on' })}.sock`);

await pm2('start', ECOSYSTEM);

t.test('pm2 reload with a new TLS_CACHE_SESSION_TIMEOUT: shared again with no manual step, one daemon left', async (t) => {
  await until(async () => (await reconnect({ ...http, version: 'TLSv1.3' }, 6).catch(() => ({ reused: 0 }))).reused === 6, 30_000, 200);
  t.ok(existsSync(socketOf(3600)), 'the first daemon listens at the socket of the first settings');
  const [old] = daemons();
  t.ok(old !== undefined, `one daemon (pid ${old})`);

  env.TLS_CACHE_SESSION_TIMEOUT = '2m';
  await pm2('reload', APP, '--update-env');
  // Both instances replaced and attached to a daemon of the new settings.
  await until(() => existsSync(`${socketOf(120)}.lock`), 30_000, 100);
  await until(async () => (await reconnect({ ...http, version: 'TLSv1.2', noTicket: true }, 6)).reused === 6, 30_000, 200);
  const ids = await reconnect({ ...http, version: 'TLSv1.2', noTicket: true }, 100);
  t.ok(ids.reused >= 99, `after the reload, TLS 1.2 session IDs: ${ids.reused} of 100 resumed`);
  t.equal(ids.pids.size, 2, 'across both instances');
  const tickets = await reconnect({ ...http, version: 'TLSv1.3' }, 100);
  t.ok(tickets.reused >= 99, `TLS 1.3 tickets, each used once: ${tickets.reused} of 100 resumed`);
  const { stdout } = await pm2('logs', APP, '--nostream', '--lines', '200');
  t.notMatch(stdout, "the cache owner's settings are not this process's", 'no instance refused a daemon');

  await until(() => !isRunning(old), 30_000, 100);
  t.notOk(existsSync(socketOf(3600)), "the old daemon went, and its socket with it");
  t.equal(daemons().length, 1, 'one daemon left');
  t.not(daemons()[0], old, 'the new one');
});
