/**
 * What a user sees in the smaller cases of issue 32, each run for real: a
 * missing `key.pem` said once, its text not doubled; Redis down at start:
 * no "ticket keys shared through redis" after "redis unavailable", but what
 * is true, and the shared line once Redis answers; `TLS_CACHE_REDIS_SECRET`
 * without a URL warned of, naming both variables; the README's
 * `node:cluster` app (the built package) exits 1 when every worker's attach
 * fails, and leaves no `primary-<pid>.sock` after SIGTERM.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { accepts, freePort, run, waitForLog } from './fixtures/process.ts';
import { BIN } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'operator-notes-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
await writeCertificateFiles(dir);
/** docs/cli.md's server module, reading key.pem and cert.pem from the working directory. */
const SERVER = `import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const key = readFileSync('key.pem');
const cert = readFileSync('cert.pem');

export default ({ serverOptions, workerId }) =>
  createServer({ key, cert, ...serverOptions }, (req, res) => {
    res.end(\`worker \${workerId}\\n\`);
  });
`;
writeFileSync(join(dir, 'server.mjs'), SERVER);
const quiet = { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_WORKERS: '2' };
const SECRET = 'hunter2-0123456789abcdef0123456789abcdef';

t.test('a missing key.pem: said once, its text not doubled', async (t) => {
  const empty = join(dir, 'no-key');
  mkdirSync(empty);
  writeFileSync(join(empty, 'server.mjs'), SERVER);
  const running = run(BIN, { ...quiet, TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock') }, ['./server.mjs', '--port', String(await freePort())], { cwd: empty });
  t.teardown(() => running.kill());
  t.equal(await running.exited, 1);
  const output = running.output();
  const said = output.split('\n').filter((line) => line.includes("open 'key.pem'") && line.includes('failed to load'));
  t.equal(said.length, 1, `one line says it: ${said.join(' | ')}`);
  t.equal(said[0]?.split("no such file or directory, open 'key.pem'").length, 2, 'its text once in that line');
  t.match(said[0], /^tls-resumption: could not start: ERR_TLS_CACHE_WORKER_START: .*ERR_TLS_CACHE_SERVER_MODULE/, 'on standard error, coded');
  t.notMatch(output, /"level":50/, 'no error log line repeating it');
});

t.test('redis down at start: what is true, then the shared line once it answers', async (t) => {
  const port = await freePort();
  const running = run(
    BIN,
    { ...quiet, TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock'), TLS_CACHE_REDIS_URL: `redis://127.0.0.1:${port}`, TLS_CACHE_REDIS_SECRET: SECRET },
    ['./server.mjs', '--port', String(await freePort())],
    { cwd: dir },
  );
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening', 30_000);
  const messages = (): string[] => running.logs.map((line) => String(line.msg));
  t.ok(messages().some((m) => m.startsWith('redis unavailable')), 'redis unavailable, as before');
  t.notOk(messages().includes('ticket keys shared through redis'), 'not "shared through redis": they are not');
  t.ok(messages().some((m) => m.startsWith('ticket keys of this host alone until redis answers')), 'what is true');
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.teardown(() => redis.kill('SIGKILL'));
  await until(() => messages().includes('ticket keys shared through redis'), 15_000).catch(() => undefined);
  t.ok(messages().includes('ticket keys shared through redis'), 'once redis answers, the keys are shared: said then');
  t.notMatch(running.output(), 'hunter2', 'the secret never in the log');
});

t.test('TLS_CACHE_REDIS_SECRET without TLS_CACHE_REDIS_URL: a warning naming both', async (t) => {
  const running = run(BIN, { ...quiet, TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock'), TLS_CACHE_REDIS_SECRET: SECRET }, ['./server.mjs', '--port', String(await freePort())], { cwd: dir });
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening', 30_000);
  const warning = running.logs.find((line) => String(line.msg).startsWith('TLS_CACHE_REDIS_SECRET is set and TLS_CACHE_REDIS_URL is not'));
  t.ok(warning, 'warned');
  t.equal(warning?.level, 40);
  t.notMatch(running.output(), 'hunter2', 'never the value');
});

/** The README's node:cluster app, on the built package, with `replace` applied; started in `dir`. */
function readmeApp(name: string, port: number, socketDirectory: string, replace: (text: string) => string = (text) => text) {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /```js\n\/\/ app\.mjs\n([\s\S]*?)```/.exec(readme)?.[1];
  if (block === undefined) throw new Error('no app.mjs block in README.md');
  const source = replace(block)
    .replace("from 'tls-resumption'", `from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'lib', 'index.js')).href)}`)
    .replaceAll('8443', String(port));
  writeFileSync(join(dir, name), source);
  // Without tap's instrumentation (NODE_OPTIONS): the app as a user runs it.
  return run('-c', { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_SOCKET: join(socketDirectory, 'app.sock') }, [
    'unset NODE_OPTIONS; exec "$0" "$1"', process.execPath, join(dir, name),
  ], { cwd: dir, node: '/bin/sh' });
}

t.test("the README's node:cluster app: exit 1 when every worker's attach fails; no socket left after SIGTERM", async (t) => {
  t.ok(existsSync(join(ROOT, 'dist', 'lib', 'index.js')), 'built (npm run build)');
  const sockets = join(dir, 'cluster-sock');
  // Servers made without sharedCacheServerOptions(): every attach refuses them.
  const failing = readmeApp('failing.mjs', await freePort(), sockets, (text) => text.replace(', ...sharedCacheServerOptions()', ''));
  t.teardown(() => failing.kill());
  const killer = setTimeout(() => failing.kill(), 30_000);
  t.equal(await failing.exited, 1, 'the primary exits with code 1, not serving nothing');
  clearTimeout(killer);
  t.match(failing.output(), 'every worker process exited before listening: nothing serves');
  t.match(failing.output(), 'ERR_TLS_CACHE_SESSION', "the workers' own error is there");
  t.same(readdirSync(sockets).filter((name) => name.startsWith('primary-')), [], 'its socket removed');

  const port = await freePort();
  const app = readmeApp('app.mjs', port, sockets);
  t.teardown(() => app.kill());
  const socket = join(sockets, `primary-${app.child.pid}.sock`);
  await until(async () => existsSync(socket) && (await accepts(port)), 30_000).catch(() => t.fail(`not serving: ${app.output().slice(-1500)}`));
  app.child.kill('SIGTERM');
  const ended = await Promise.race([app.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
  t.equal(ended, 'SIGTERM', `SIGTERM ends it as before (by the signal)${ended === 'SIGTERM' ? '' : `: ${app.output().slice(-1500)}`}`);
  t.notOk(existsSync(socket), 'no stale primary-<pid>.sock');
});
