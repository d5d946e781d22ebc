/**
 * Starting fails at once, with a coded error and nothing left listening:
 * a runtime without reusePort, a worker that cannot start, bad options and
 * a bad environment given to startThreadCluster() (every variable, each in a
 * process of its own: test/long/start-every-variable.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { loadCertificate } from '../examples/certificate.ts';
import { startThreadCluster } from '../lib/threads/cluster.ts';
import { probeReusePort, hasReusePortOption } from '../lib/threads/reuse-port.ts';
import { accepts, freePort } from './fixtures/process.ts';

const SYSTEM_NODE = '/usr/bin/node';

t.test('a runtime without reusePort is refused, with what to do (system Node 20, the built package)', { skip: !existsSync(SYSTEM_NODE) && `${SYSTEM_NODE} is missing` }, async (t) => {
  const script = `import { probeReusePort } from ${JSON.stringify(new URL('../dist/lib/threads/reuse-port.js', import.meta.url).href)};
    process.stdout.write(JSON.stringify({ version: process.version, probe: await probeReusePort() }));`;
  const output = await new Promise<string>((resolve, reject) => {
    execFile(SYSTEM_NODE, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '' } }, (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    );
  });
  const { version, probe } = JSON.parse(output) as { version: string; probe: { supported: boolean; reason: string; message: string } };
  t.notOk(hasReusePortOption(version.slice(1)), `${version} lacks reusePort`);
  t.equal(probe.supported, false);
  t.match(probe.reason, `Node ${version} has no reusePort listen option`);
  t.match(probe.reason, 'EADDRINUSE');
  t.match(probe.message, /^Worker threads cannot share one port here: .* Run Node 22\.12\+ or 23\.1\+ on Linux/);
});

t.test('this runtime has reusePort', async (t) => {
  t.ok(hasReusePortOption(process.versions.node));
  t.same(await probeReusePort(), { supported: true });
  t.notOk(hasReusePortOption('22.11.0'));
  t.ok(hasReusePortOption('22.12.0'));
  t.notOk(hasReusePortOption('23.0.0'));
  t.ok(hasReusePortOption('23.1.0'));
  t.ok(hasReusePortOption('24.0.0'));
});

t.test('a worker that cannot start fails the start and leaves nothing running', async (t) => {
  const { cert, key } = await loadCertificate({});
  const port = await freePort();
  const started = startThreadCluster({
    server: new URL('./fixtures/failing-server.ts', import.meta.url),
    port,
    host: '127.0.0.1',
    config: { workers: 3, logLevel: 'silent' },
    env: {},
    // The port: worker 2 fails once another worker accepts on it.
    data: { kind: 'tls', store: 'shared', cert, key, port },
    execArgv: [],
    logger: (await import('pino')).pino({ level: 'silent' }),
  });
  let settled = false;
  void started.catch(() => undefined).finally(() => (settled = true));
  // The others listen before worker 2 fails (however long they take to start).
  let acceptedMeanwhile = false;
  while (!acceptedMeanwhile && !settled) {
    acceptedMeanwhile = await accepts(port);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await t.rejects(started, { code: 'ERR_TLS_CACHE_WORKER_START', workerId: 2, message: /Worker 2 .*worker 2 cannot start/ });
  t.ok(acceptedMeanwhile, 'other workers were listening before the failure');
  t.notOk(await accepts(port), 'nothing listens after the failed start');

  await t.rejects(
    startThreadCluster({ server: '/nonexistent/server.ts', port: 0, config: { workers: 2, logLevel: 'silent' }, env: {}, execArgv: [], logger: (await import('pino')).pino({ level: 'silent' }) }),
    { code: 'ERR_TLS_CACHE_SERVER_MODULE', message: 'No such server module: /nonexistent/server.ts' },
  );
  await t.rejects(startThreadCluster({ server: 'x.ts', port: -1 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'port' });
  await t.rejects(startThreadCluster({ server: 'x.ts', port: 0, env: { TLS_CACHE_SIZE: 'huge' } }), {
    code: 'ERR_TLS_CACHE_INVALID_ENV',
    variable: 'TLS_CACHE_SIZE',
  });
});
