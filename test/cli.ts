/**
 * The command line's answers to bad input (issue 13), run as the built
 * package runs it (`dist/lib/cli/bin.js`, which `npm test` builds first):
 * one test per kind of mistake, each checking the exit code, the coded
 * message, and that nothing ever listened on the port; and SIGHUP, which
 * loads the module again.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCertificate } from '../examples/certificate.ts';
import { SETTINGS } from '../lib/config/settings.ts';
import { COMPILE_CACHE, accepts, freePort, run, waitForLog } from './fixtures/process.ts';

const BIN = fileURLToPath(new URL('../dist/lib/cli/bin.js', import.meta.url));
const SESSION_SERVER = fileURLToPath(new URL('./fixtures/package/server.mjs', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const dir = mkdtempSync(join(tmpdir(), 'tls-resumption-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const module = (name: string, source: string): string => {
  writeFileSync(join(dir, name), source);
  return join(dir, name);
};
const NO_DEFAULT = module('no-default.mjs', 'export const createServer = () => null;\n');
const NOT_A_SERVER = module('not-a-server.mjs', 'export default () => ({ listen() {} });\n');
const THROWS_AT_LOAD = module('throws.mjs', "throw new Error('cannot read ./missing-cert.pem');\n");
const SYNTAX_ERROR = module('syntax.mjs', 'export default () => {\n');
const LISTENING = module('listening.mjs', "import { createServer } from 'node:tls';\nexport default () => createServer().listen(0);\n");
const { cert, key } = await loadCertificate({});
/** The certificate files the fixture server module reads. */
const CERTIFICATE = { APP_CERT: module('cert.pem', cert), APP_KEY: module('key.pem', key) };

interface Outcome {
  code: number | string;
  stdout: string;
  stderr: string;
  /** Whether a connection to the port was ever accepted while it ran. */
  listened: boolean;
}

/** Runs the command with `args` and `env` (a clean environment), watching `port`, until it exits (at most 30 s). */
async function cli(args: string[], env: Record<string, string> = {}, port?: number): Promise<Outcome> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', NODE_COMPILE_CACHE: COMPILE_CACHE, TLS_CACHE_WORKERS: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let done = false;
  let listened = false;
  void exited.then(() => (done = true));
  while (!done && port !== undefined) {
    if (await accepts(port)) listened = true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const code = await exited;
  clearTimeout(killer);
  return { code, stdout, stderr, listened };
}

t.test('--help lists the options and every variable with its default, and exits 0', async (t) => {
  const { code, stdout, stderr } = await cli(['--help']);
  t.equal(code, 0);
  t.equal(stderr, '');
  t.match(stdout, /^Usage: tls-resumption \[options\] <server-module>/);
  for (const option of ['--port', '--host', '--pid-file', '--help', '--version']) t.match(stdout, option);
  t.match(stdout, /^ {2}PORT \[8443\]$/m);
  t.match(stdout, /^ {2}TLS_CACHE_PID_FILE \[none\]$/m);
  for (const setting of SETTINGS) t.match(stdout, `  ${setting.env} [${setting.default}]\n`, setting.env);
  t.ok(stdout.split('\n').every((line) => line.length <= 80), 'no line over 80 columns');
  t.same((await cli(['-h'])).stdout, stdout, '-h too');
});

t.test('--version prints the package version and exits 0', async (t) => {
  for (const flag of ['--version', '-v']) {
    const { code, stdout } = await cli([flag]);
    t.equal(code, 0);
    t.equal(stdout, `${version}\n`);
  }
});

t.test('usage errors: ERR_TLS_CACHE_USAGE, exit code 2', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no server module', [], /ERR_TLS_CACHE_USAGE: Missing the server module/],
    ['an unknown option', ['--prot', '8443', SESSION_SERVER], /ERR_TLS_CACHE_USAGE: Unknown option --prot; did you mean --port\?/],
    ['an unknown option far from any', ['--workers', '4', SESSION_SERVER], /ERR_TLS_CACHE_USAGE: Unknown option --workers\n/],
    ['two server modules', [SESSION_SERVER, SESSION_SERVER], /ERR_TLS_CACHE_USAGE: Expected one server module, got 2/],
    ['a port that is not a number', ['--port', 'https', SESSION_SERVER], /ERR_TLS_CACHE_USAGE: --port expects a port number from 0 to 65535 .*got "https"/],
    ['a port out of range', ['--port', '70000', SESSION_SERVER], /ERR_TLS_CACHE_USAGE: --port expects .*got "70000"/],
    ['a port without a value', [SESSION_SERVER, '--port'], /ERR_TLS_CACHE_USAGE: .*--port/],
    ['--detach without the daemon command', ['--detach', SESSION_SERVER], /ERR_TLS_CACHE_USAGE: --detach goes with the daemon command/],
    ['the daemon command with a module', ['daemon', SESSION_SERVER], /ERR_TLS_CACHE_USAGE: tls-resumption daemon takes no module, --port, --host or --pid-file/],
    ['the daemon command with a port', ['daemon', '--port', '8443'], /ERR_TLS_CACHE_USAGE: tls-resumption daemon takes no module/],
  ];
  for (const [label, args, message] of cases) {
    const { code, stderr, stdout } = await cli(args);
    t.equal(code, 2, `${label}: exit code 2`);
    t.match(stderr, /^tls-resumption: /, `${label}: on standard error`);
    t.match(stderr, message, `${label}: ${stderr.split('\n')[0]}`);
    t.match(stderr, 'Run tls-resumption --help', `${label}: points to --help`);
    t.equal(stdout, '', `${label}: nothing on standard output`);
  }
});

t.test('a bad PORT: ERR_TLS_CACHE_INVALID_ENV naming it, exit code 1', async (t) => {
  for (const value of ['eighty', '65536', '-1']) {
    const { code, stderr } = await cli([SESSION_SERVER], { PORT: value });
    t.equal(code, 1, `PORT=${value}`);
    t.match(stderr, /^tls-resumption: could not start: ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable PORT: expected a port number from 0 to 65535/, stderr);
    t.notMatch(stderr, '--help', 'not a usage error: no pointer to --help');
  }
});

t.test('a bad TLS_CACHE_* variable: ERR_TLS_CACHE_INVALID_ENV naming it, before anything listens', async (t) => {
  const port = await freePort();
  const { code, stderr, listened } = await cli([SESSION_SERVER, '--port', String(port)], { TLS_CACHE_SIZE: 'huge' }, port);
  t.equal(code, 1);
  t.match(stderr, /could not start: ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_SIZE: "huge" is not a size/);
  t.notOk(listened, 'nothing listened');
});

t.test('tls-resumption daemon: bad settings and a directory that is not private stop it before it listens; SIGTERM stops it with 0', async (t) => {
  const bad = await cli(['daemon'], { TLS_CACHE_SOCKET: 'relative.sock' });
  t.equal(bad.code, 1, 'a relative socket path: exit code 1');
  t.match(bad.stderr, /ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_SOCKET: "relative.sock" is not an absolute path/, bad.stderr.split('\n')[0]);
  const detached = await cli(['daemon', '--detach'], { TLS_CACHE_SESSION_TIMEOUT: 'soon' });
  t.equal(detached.code, 1, '--detach checks the settings before it returns');
  t.match(detached.stderr, /ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable TLS_CACHE_SESSION_TIMEOUT/);
  const open = mkdtempSync(join(dir, 'open-'));
  chmodSync(open, 0o755);
  const shared = await cli(['daemon'], { TLS_CACHE_SOCKET: join(open, 'cache.sock') });
  t.equal(shared.code, 1, 'a directory others may enter: exit code 1');
  t.match(shared.stderr, /ERR_TLS_CACHE_SOCKET: The socket's directory .* has mode 755: other users may enter it/, shared.stderr.split('\n')[0]);
  t.notOk(existsSync(join(open, 'cache.sock')), 'no socket was made there');
  const socket = join(mkdtempSync(join(dir, 'private-')), 'cache', 'cache.sock');
  const daemon = run(BIN, { TLS_CACHE_SOCKET: socket, TLS_CACHE_LOG_FORMAT: 'json' }, ['daemon']);
  t.teardown(() => daemon.kill());
  await waitForLog(daemon, 'cache daemon listening');
  t.equal(statSync(socket).mode & 0o777, 0o600, 'listening on a socket of mode 0600');
  const again = await cli(['daemon'], { TLS_CACHE_SOCKET: socket, TLS_CACHE_LOG_FORMAT: 'json' });
  t.equal(again.code, 0, 'a second daemon for the socket exits 0...');
  t.match(again.stdout, /a cache daemon answers at this socket already/, '...saying why');
  daemon.child.kill('SIGTERM');
  t.equal(await daemon.exited, 0, 'SIGTERM stops it with 0');
  t.notOk(existsSync(socket), 'its socket removed');
  t.notOk(existsSync(`${socket}.lock`), 'and its lock');
});

t.test('no such server module: ERR_TLS_CACHE_SERVER_MODULE, no thread started', async (t) => {
  const { code, stderr, stdout } = await cli([join(dir, 'nowhere.mjs')]);
  t.equal(code, 1);
  t.match(stderr, `tls-resumption: could not start: ERR_TLS_CACHE_SERVER_MODULE: No such server module: ${join(dir, 'nowhere.mjs')}`);
  t.notMatch(stdout, 'worker starting', 'no worker was started');
});

t.test('a server module that cannot serve: its coded error, exit code 1, nothing listens', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['no default export', NO_DEFAULT, /has no default export function/],
    ['a default export that returns no tls.Server', NOT_A_SERVER, /returned an object that is not a tls\.Server \(Object\)/],
    ['a module that throws as it loads', THROWS_AT_LOAD, /failed to load: cannot read \.\/missing-cert\.pem/],
    ['a module that does not parse', SYNTAX_ERROR, /failed to load: .*(Unexpected end of input|SyntaxError)/],
    ['a server that already listens', LISTENING, /returned a server that is already listening/],
  ];
  for (const [label, file, message] of cases) {
    const port = await freePort();
    const { code, stderr, listened } = await cli([file, '--port', String(port)], {}, port);
    t.equal(code, 1, `${label}: exit code 1`);
    t.match(stderr, /could not start: ERR_TLS_CACHE_WORKER_START: Worker \d ended \(exit code 1\) before listening: ERR_TLS_CACHE_SERVER_MODULE: /, label);
    t.match(stderr, message, `${label}: ${stderr.trim()}`);
    t.notOk(listened, `${label}: nothing listened`);
  }
});

t.test("where a server module failed: its own file and line, under the library's message", async (t) => {
  const thrown = await cli([THROWS_AT_LOAD]);
  t.match(thrown.stderr, /\n {4}Error: cannot read \.\/missing-cert\.pem\n {8}at .*throws\.mjs:1:7/, 'the stack of the error the module threw');
  const unparsed = await cli([SYNTAX_ERROR]);
  t.match(unparsed.stderr, /\n {4}.*syntax\.mjs:2\n/, 'a syntax error: the file and line (from node --check)');
  const bare = await cli([NO_DEFAULT]);
  t.notMatch(bare.stderr, /\n {4}/, "no stack when the library's own check failed: its message says it all");
});

t.test('a misspelt variable gets one warning naming the closest setting; SIGTERM stops with 0', async (t) => {
  const port = await freePort();
  const running = run(BIN, { TLS_CACHE_WORKERS: '2', TLS_CACHE_WORKER: '4', ...CERTIFICATE }, [SESSION_SERVER, '--port', String(port), '--host', '127.0.0.1']);
  t.teardown(() => running.kill());
  const listening = await waitForLog(running, 'listening');
  t.equal(listening.port, port, `listening on --port ${port}`);
  const warnings = running.logs.filter((line) => line.variable === 'TLS_CACHE_WORKER');
  t.equal(warnings.length, 1, 'one warning');
  t.equal(warnings[0]?.suggestion, 'TLS_CACHE_WORKERS');
  t.equal(running.logs.filter((line) => line.msg === 'worker listening').length, 2, 'TLS_CACHE_WORKER=4 was ignored: 2 workers');
  running.child.kill('SIGTERM');
  t.equal(await running.exited, 0, 'exit code 0 after a graceful stop');
});

t.test('SIGHUP loads the module again: a broken version leaves the workers serving, a fixed one replaces them', async (t) => {
  const source = (answer: string): string =>
    `import { readFileSync } from 'node:fs';\nimport { createServer } from 'node:https';\n` +
    `const key = readFileSync(process.env.APP_KEY);\nconst cert = readFileSync(process.env.APP_CERT);\n` +
    `export default ({ serverOptions }) => createServer({ key, cert, ...serverOptions }, (request, response) => response.end('${answer}\\n'));\n`;
  const app = module('app.mjs', source('version 1'));
  const port = await freePort();
  const running = run(BIN, { TLS_CACHE_WORKERS: '2', ...CERTIFICATE }, [app, '--port', String(port), '--host', '127.0.0.1']);
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening');
  t.equal(await answer(port), 'version 1');

  writeFileSync(app, 'export default () => {\n');
  running.child.kill('SIGHUP');
  const failed = await waitForLog(running, 'reload failed: the running workers go on serving', 30_000);
  t.match((failed.err as { code?: string }).code, 'ERR_TLS_CACHE_RELOAD_FAILED', 'a syntax error: the reload failed');
  t.match((failed.err as { message?: string }).message, /failed to load: .*SyntaxError|Unexpected end of input/, 'the log says why');
  t.equal(await answer(port), 'version 1', 'the workers from before go on serving');

  writeFileSync(app, source('version 2'));
  running.child.kill('SIGHUP');
  await waitForLog(running, 'reload complete: every worker replaced', 30_000);
  t.equal(await answer(port), 'version 2', 'the new code serves');
  running.child.kill('SIGTERM');
  t.equal(await running.exited, 0);
});

/** GET / over HTTPS (a new connection): the body, trimmed. */
async function answer(port: number): Promise<string> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, rejectUnauthorized: false, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body.trim()));
    })
      .on('error', reject)
      .end();
  });
}
