/**
 * A fresh machine (issue 13): without redis-server, `npm test` skips the
 * suites that need it and says so in one line with how to install it; with
 * `CI=true` the same run fails instead. Run here with a PATH that holds
 * Node and tap but no redis-server.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, REDIS_SERVER, onPath, strict } from './helpers/requirements.ts';
import { COMPILE_CACHE } from './fixtures/process.ts';

const REPOSITORY = fileURLToPath(new URL('..', import.meta.url));
/** Node 24 and tap, nothing else: a machine without redis-server. */
const BARE_PATH = `${dirname(process.execPath)}:${REPOSITORY}node_modules/.bin`;

function run(file: string, args: string[], env: Record<string, string>): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: REPOSITORY, env: { HOME: process.env.HOME ?? '/', PATH: BARE_PATH, NODE_COMPILE_CACHE: COMPILE_CACHE, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

t.test('the checks themselves', async (t) => {
  t.ok(onPath('node', BARE_PATH));
  t.notOk(onPath(REDIS_SERVER.command, BARE_PATH), 'no redis-server on the bare PATH');
  t.notOk(onPath(CHROMIUM.command, BARE_PATH), 'no chromium either');
  t.ok(strict({ CI: 'true' }));
  t.ok(strict({ CI: '1' }));
  t.notOk(strict({}));
  t.notOk(strict({ CI: 'false' }));
});

t.test('before the suites: one line saying what is missing and how to install it', async (t) => {
  const script = fileURLToPath(new URL('./helpers/before.ts', import.meta.url));
  const fresh = await run(process.execPath, [script], {});
  t.equal(fresh.code, 0);
  t.equal(
    fresh.output,
    [
      'redis-server is not installed: the suites that need it are skipped (install it: apt-get install redis-server)',
      'redis-cli is not installed: the suites that need it are skipped (install it: apt-get install redis-tools)',
      'redis-sentinel is not installed: the suites that need it are skipped (install it: apt-get install redis-sentinel)',
      'chromium is not installed: the suites that need it are skipped (install it: apt-get install chromium)',
      '',
    ].join('\n'),
    'one line for each missing command (the Redis Cluster and Sentinel suites need the other two; the browser suite needs chromium)',
  );
  const ci = await run(process.execPath, [script], { CI: 'true' });
  t.equal(ci.code, 1, 'CI=true: a missing redis-server or chromium fails the run');
  t.match(ci.output, 'redis-server is not installed, and CI=true requires every suite: install it (apt-get install redis-server)');
  t.match(ci.output, 'chromium is not installed, and CI=true requires every suite: install it (apt-get install chromium)');
});

t.test('a suite that needs chromium is skipped without it', async (t) => {
  const tap = `${REPOSITORY}node_modules/.bin/tap`;
  const fresh = await run(tap, ['--disable-coverage', '-R', 'tap', 'test/long/tickets-chromium.ts'], { TAP_TYPE_STRIP_ONLY: '1' });
  t.equal(fresh.code, 0, 'skipped, and the run passes');
  t.match(fresh.output, /# SKIP chromium is not installed \(apt-get install chromium\)/);
  t.notMatch(fresh.output, /^\s*not ok/m);
});

t.test('a suite that needs redis-server is skipped, or fails under CI=true', async (t) => {
  const tap = `${REPOSITORY}node_modules/.bin/tap`;
  const args = ['--disable-coverage', '-R', 'tap', 'test/redis-server.ts'];
  const fresh = await run(tap, args, { TAP_TYPE_STRIP_ONLY: '1' });
  t.equal(fresh.code, 0, 'skipped, and the run passes');
  t.match(fresh.output, /# SKIP redis-server is not installed \(apt-get install redis-server\)/);
  t.notMatch(fresh.output, /^\s*not ok/m);
  const ci = await run(tap, args, { TAP_TYPE_STRIP_ONLY: '1', CI: 'true' });
  t.not(ci.code, 0, 'CI=true: the run fails');
  t.match(ci.output, 'redis-server is not installed, and CI=true requires every suite', 'saying why, before any suite');
  t.notMatch(ci.output, /# SKIP/, 'nothing skipped');
});
