/**
 * The command's pid file (issue 32): `kill -HUP "$(cat server.pid)"`, the
 * command docs/cli.md gives, reloads the runtime started through
 * `npm exec` (npx) without touching npm, where `pgrep -f` on the command
 * line also matched npm's process, which the signal ended. The built
 * package in a scratch project, its bin run by npm exec; the file goes
 * at exit. Bad values: coded errors naming the variable or the option.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accepts, freePort, run, waitForLog } from './fixtures/process.ts';
import { BIN } from './helpers/status.ts';
import { until } from './helpers/until.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pid-file-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
await writeCertificateFiles(dir);
// The docs' server module, in a project that has the package installed (a link to the built one).
writeFileSync(
  join(dir, 'server.mjs'),
  `import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
const key = readFileSync('key.pem');
const cert = readFileSync('cert.pem');
export default ({ serverOptions, workerId }) =>
  createServer({ key, cert, ...serverOptions }, (req, res) => {
    res.end(\`worker \${workerId}\\n\`);
  });
`,
);
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }));
mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
symlinkSync(ROOT, join(dir, 'node_modules', 'tls-resumption'));
symlinkSync('../tls-resumption/dist/lib/cli/bin.js', join(dir, 'node_modules', '.bin', 'tls-resumption'));
// As npm install makes a package's bins executable.
if (existsSync(join(ROOT, 'dist', 'lib', 'cli', 'bin.js'))) chmodSync(join(ROOT, 'dist', 'lib', 'cli', 'bin.js'), 0o755);

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('npx tls-resumption --pid-file: kill -HUP "$(cat server.pid)" reloads, npm lives on; the file goes at exit', async (t) => {
  t.ok(existsSync(join(ROOT, 'dist', 'lib', 'cli', 'bin.js')), 'the package is built (npm run build)');
  const port = await freePort();
  const env = {
    // The project's Node 24 first, as in a project with node@24 installed; npm's own cache out of the way.
    PATH: `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/',
    npm_config_cache: join(dir, '.npm'),
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_LOG_FORMAT: 'json',
    TLS_CACHE_SUMMARY_INTERVAL: '0',
    TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock'),
  };
  const npm = spawn('npm', ['exec', '--offline', '--', 'tls-resumption', './server.mjs', '--port', String(port), '--pid-file', 'server.pid'], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  npm.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | string>((resolve) => npm.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  t.teardown(() => {
    try {
      process.kill(Number(readFileSync(join(dir, 'server.pid'), 'utf8')), 'SIGKILL');
    } catch {
      // gone
    }
    npm.kill('SIGKILL');
  });
  await until(() => output.includes('"msg":"listening"'), 30_000).catch(() => t.fail(`no listening line: ${output.slice(-2000)}`));
  const pid = Number(readFileSync(join(dir, 'server.pid'), 'utf8'));
  t.match(readFileSync(join(dir, 'server.pid'), 'utf8'), /^\d+\n$/, 'the pid and a newline');
  t.not(pid, npm.pid, "the runtime's pid, not npm's");
  t.match(output, `"pid":${pid}`, 'the pid of the process that logs');
  // Exactly the command of docs/cli.md.
  execFileSync('sh', ['-c', 'kill -HUP "$(cat server.pid)"'], { cwd: dir });
  await until(() => output.includes('reload complete: every worker replaced'), 30_000).catch(() => t.fail(`no reload: ${output.slice(-2000)}`));
  t.match(output, 'reload complete: every worker replaced', 'the runtime reloaded');
  t.equal(npm.exitCode, null, 'npm exec is still running');
  t.ok(running(npm.pid!), 'npm lives');
  t.ok(await accepts(port), 'the server serves');
  execFileSync('sh', ['-c', 'kill "$(cat server.pid)"'], { cwd: dir });
  t.equal(await exited, 0, 'SIGTERM to the runtime: it stops, and npm exits with its 0');
  t.notOk(existsSync(join(dir, 'server.pid')), 'the pid file is removed at exit');
});

t.test('TLS_CACHE_PID_FILE: written and removed; bad values are coded errors naming it', async (t) => {
  const file = join(dir, 'env.pid');
  const port = await freePort();
  const quiet = { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_WORKERS: '1', TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock') };
  const server = run(BIN, { ...quiet, TLS_CACHE_PID_FILE: file }, [join(dir, 'server.mjs'), '--port', String(port)], { cwd: dir });
  t.teardown(() => server.kill());
  await waitForLog(server, 'listening', 30_000);
  t.equal(readFileSync(file, 'utf8'), `${server.child.pid}\n`);
  t.notMatch(server.output(), 'unknown variable TLS_CACHE_PID_FILE', 'not warned of as an unknown variable');
  // A second runtime given the same file: refused, the first's file kept.
  const second = run(BIN, { ...quiet, TLS_CACHE_PID_FILE: file }, [join(dir, 'server.mjs'), '--port', String(await freePort())], { cwd: dir });
  t.equal(await second.exited, 1);
  t.match(second.stderr(), `ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_PID_FILE: "${file}" holds pid ${server.child.pid}, which is running`);
  t.equal(readFileSync(file, 'utf8'), `${server.child.pid}\n`, "the first runtime's file is kept");
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0);
  t.notOk(existsSync(file), 'removed at exit');

  const bad = async (env: Record<string, string>, args: string[]): Promise<{ code: number | string; stderr: string }> => {
    const failing = run(BIN, { ...quiet, ...env }, [join(dir, 'server.mjs'), '--port', String(await freePort()), ...args], { cwd: dir });
    t.teardown(() => failing.kill());
    return { code: await failing.exited, stderr: failing.stderr() };
  };
  const missing = await bad({ TLS_CACHE_PID_FILE: join(dir, 'no-such-dir', 'x.pid') }, []);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_PID_FILE: cannot write ".*no-such-dir\/x.pid" \(ENOENT\)/);
  const empty = await bad({ TLS_CACHE_PID_FILE: ' ' }, []);
  t.equal(empty.code, 1);
  t.match(empty.stderr, 'ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_PID_FILE: expected the path of a file');
  const directory = await bad({}, ['--pid-file', dir]);
  t.equal(directory.code, 2, '--pid-file: a usage error');
  t.match(directory.stderr, `ERR_TLS_CACHE_USAGE: --pid-file: "${dir}" is a directory`);
});
