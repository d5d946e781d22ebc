/**
 * The package as a user installs it (issue 13): packed, installed into an
 * empty project outside the repository, and used from there: imported (ESM),
 * required (CommonJS), type-checked, its command line serving a
 * plain-JavaScript server module on worker threads, a CommonJS
 * `node:cluster` app, Redis and the metrics endpoint, on the Node running
 * this file (the repository's Node 24 under `npm test`) and on every other
 * line of `engines`: the floor (22.12.0) and the latest 26.x, from the
 * registry's `node` package.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accepts, freePort, run, waitForLog } from '../fixtures/process.ts';
import { startRedis } from '../helpers/redis.ts';
import { REDIS_SERVER, onPath } from '../helpers/requirements.ts';
import { NODE_TYPES, TSC, installNode, userProject } from '../helpers/user-project.ts';
import { claimedNodeLines } from '../helpers/engines.ts';

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
/** `^22.12.0 || ...` → `22.12.0`: the oldest Node the package says it runs on. */
const FLOOR = claimedNodeLines()[0].floor;

const RUNNING_MAJOR = Number(process.versions.node.split('.')[0]);
/**
 * The other Nodes of `engines`, as the registry's `node` package versions:
 * the floor at its first release (unless it runs this file), each other
 * line at its latest (unless it is this file's line).
 */
const OTHER_VERSIONS = claimedNodeLines()
  .map((line, i) => (i === 0 ? line.floor : String(line.major)))
  .filter((version, i) => (i === 0 ? version !== process.versions.node : Number(version) !== RUNNING_MAJOR));
// The tarball installed and the other Nodes fetched at the same time: they mostly wait on the registry.
const [project, ...others] = await Promise.all([userProject(t), ...OTHER_VERSIONS.map((version) => installNode(t, version))]);
/** The Node running this file, then every other line the package claims. */
const NODES: [label: string, binary: string][] = [[`Node ${process.versions.node}`, process.execPath], ...OTHER_VERSIONS.map((version, i): [string, string] => [`Node ${version}`, others[i]])];
const floorNode = NODES.find(([label]) => label === `Node ${FLOOR}`)?.[1] ?? process.execPath;
const { dir } = project;
const BIN = join(dir, 'node_modules', '.bin', 'tls-resumption');

/** Runs `node args` in the project; resolves with what it printed and its exit code. */
function node(binary: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

interface Resumption {
  resumed: number;
  offered: number;
  workers: string[];
}

/** Python's ssl, reconnecting `count` times offering the newest session (see resume-client.py). */
async function python(ports: number[], count: number, version: 'tls1.2' | 'tls1.3', how: 'ticket' | 'id'): Promise<Resumption> {
  const result = await node('python3', ['resume-client.py', ports.join(','), String(count), version, how]);
  if (result.code !== 0) throw new Error(`resume-client.py failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Resumption;
}

/** Starts a program of the project (killed at teardown) and waits for its log line. */
async function start(t: { teardown(fn: () => void): void }, script: string, args: string[], env: Record<string, string>, ready: string, binary = process.execPath) {
  const running = run(script, { ...project.certificate, ...env }, args, { node: binary, cwd: dir });
  t.teardown(() => running.kill());
  await waitForLog(running, ready, 30_000);
  return running;
}

t.test('the tarball holds the built JavaScript, its declarations and the docs, nothing else', async (t) => {
  const files = [...project.files].sort();
  const allowed = /^(package\.json|README\.md|LICENSE|docs\/[a-z0-9-]+\.md|bench\/load-chart\.svg|dist\/(lib|workers)\/[a-z0-9/-]+\.(js|d\.ts))$/;
  t.same(files.filter((file) => !allowed.test(file)), [], 'no file outside package.json, README.md, LICENSE, docs/*.md (and the chart they show) and dist/{lib,workers}');
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli/bin.js', 'dist/workers/server-thread.js']) {
    t.ok(files.includes(needed), needed);
  }
  // Every source module is there, built and declared.
  const sources = ['lib', 'workers'].flatMap((top) => walk(fileURLToPath(new URL(`../../${top}`, import.meta.url)))).map((file) =>
    relative(fileURLToPath(new URL('../..', import.meta.url)), file),
  );
  t.ok(sources.length > 30, `${sources.length} source modules`);
  const missing = sources.flatMap((source) => [source.replace(/\.ts$/, '.js'), source.replace(/\.ts$/, '.d.ts')]).filter((built) => !files.includes(`dist/${built}`));
  t.same(missing, [], 'every module of lib/ and workers/ as .js and .d.ts under dist/');
  t.notOk(files.some((file) => /^(test|examples|\.ci)\/|^bench\/.*\.ts$/.test(file)), 'no test/, bench code, examples/ or .ci/');
  const installed = JSON.parse(readFileSync(join(dir, 'node_modules', 'tls-resumption', 'package.json'), 'utf8')) as Record<string, unknown>;
  t.notOk('devDependencies' in installed && Object.keys(installed.dependencies as object).some((name) => ['tap', 'piscina', 'echarts', 'typescript'].includes(name)), 'no test or benchmark tool among the dependencies');
});

function walk(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

t.test('import (ESM) and require (CommonJS) give the whole API, on every Node of engines', async (t) => {
  t.ok(
    claimedNodeLines().some((line) => line.major === Number(process.versions.node.split('.')[0])),
    `engines claims the Node running the tests (${process.version})`,
  );
  const expected = Object.keys(await import('../../lib/index.ts')).sort();
  t.ok(expected.includes('runThreadCluster') && expected.includes('startClusterCache') && expected.includes('SessionTable'));
  const esm = "import * as api from 'tls-resumption'; process.stdout.write(JSON.stringify(Object.keys(api).sort()));";
  const cjs = "process.stdout.write(JSON.stringify(Object.keys(require('tls-resumption')).filter((k) => k !== '__esModule' && k !== 'default').sort()));";
  for (const [label, binary] of NODES) {
    const version = await node(binary, ['--version']);
    t.match(version.stdout.trim(), new RegExp(`^v${label.slice('Node '.length).replaceAll('.', '\\.')}(\\.|$)`), `${label} runs: ${version.stdout.trim()}`);
    // --warnings: under tap on Node 22 and 26, its NODE_OPTIONS (--no-warnings among them) reach every child.
    const imported = await node(binary, ['--warnings', '--input-type=module', '-e', esm]);
    t.equal(imported.code, 0, `${label}: import: ${imported.stderr}`);
    t.same(JSON.parse(imported.stdout || '[]'), expected, `${label}: import gives every export`);
    const required = await node(binary, ['--warnings', '-e', cjs]);
    t.equal(required.code, 0, `${label}: require: ${required.stderr}`);
    t.same(JSON.parse(required.stdout || '[]'), expected, `${label}: require gives every export`);
    // require(esm) warns on 22.12, and no more from 22.13 on (docs/package.md).
    if (/^22\.12\./.test(label.slice('Node '.length))) t.match(required.stderr, /ExperimentalWarning: .* using require\(\)/, `${label}: require() warns that require(esm) is experimental`);
    else t.equal(required.stderr, '', `${label}: require() prints no warning`);
  }
});

t.test('a TypeScript consumer type-checks against the shipped declarations; a wrong one does not', async (t) => {
  const options = { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [NODE_TYPES] };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: options, files: ['consumer.ts'] }));
  writeFileSync(join(dir, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions: options, files: ['consumer-wrong.ts'] }));
  // Whatever the registry serves today (issue 21: ioredis 6.1.0's declarations broke strict consumers).
  const resolved = ['ioredis', 'pino', 'prom-client'].map((name) => `${name}@${(JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version}`);
  t.comment(`the scratch project resolved ${resolved.join(', ')}`);
  const good = await node(process.execPath, [TSC, '-p', 'tsconfig.json']);
  t.equal(good.code, 0, `consumer.ts type-checks: ${good.stdout}`);
  const wrong = await node(process.execPath, [TSC, '-p', 'tsconfig.wrong.json']);
  t.not(wrong.code, 0, 'consumer-wrong.ts does not');
  t.match(wrong.stdout, /consumer-wrong\.ts.*error TS2322: Type 'string' is not assignable to type 'number'/);
});

t.test('the command line: a plain-JavaScript server module on 4 worker threads resumes, and stops with 0', async (t) => {
  accessSync(BIN, constants.X_OK);
  const versionRun = await node(BIN, ['--version'], { PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}` });
  t.equal(versionRun.stdout.trim(), manifest.version, 'node_modules/.bin/tls-resumption --version, run as a program');
  const port = await freePort();
  const metricsPort = await freePort();
  const server = await start(t, BIN, ['./server.mjs', '--port', String(port)], { TLS_CACHE_WORKERS: '4', TLS_CACHE_METRICS_PORT: String(metricsPort) }, 'listening');
  const listening = server.logs.filter((line) => line.msg === 'worker listening');
  t.equal(listening.length, 4, 'four worker threads listen');

  const tls13 = await python([port], 100, 'tls1.3', 'ticket');
  t.ok(tls13.resumed >= 99, `TLS 1.3 tickets: ${tls13.resumed} of ${tls13.offered} resumed`);
  t.ok(tls13.workers.length >= 2, `answered by ${tls13.workers.length} worker threads`);
  const ticket12 = await python([port], 100, 'tls1.2', 'ticket');
  t.ok(ticket12.resumed >= 99, `TLS 1.2 tickets: ${ticket12.resumed} of ${ticket12.offered} resumed`);
  const ids = await python([port], 100, 'tls1.2', 'id');
  t.ok(ids.resumed >= 99, `TLS 1.2 session IDs: ${ids.resumed} of ${ids.offered} resumed`);
  t.ok(ids.workers.length >= 2, `session IDs answered by ${ids.workers.length} worker threads`);

  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const resumed = [...metrics.matchAll(/^tls_session_cache_handshakes_total\{result="resumed",[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  t.ok(resumed >= tls13.resumed + ticket12.resumed + ids.resumed, `the metrics endpoint counts ${resumed} resumed handshakes`);

  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0, 'SIGTERM: a graceful stop, exit code 0');
});

t.test(`the command line on Node ${FLOOR} (the engines floor), with a CommonJS server module`, async (t) => {
  const port = await freePort();
  const server = await start(t, BIN, ['./server.cjs', '--port', String(port)], { TLS_CACHE_WORKERS: '2' }, 'listening', floorNode);
  const tls13 = await python([port], 50, 'tls1.3', 'ticket');
  t.ok(tls13.resumed >= 50, `TLS 1.3 tickets: ${tls13.resumed} of ${tls13.offered} resumed`);
  const ids = await python([port], 50, 'tls1.2', 'id');
  t.ok(ids.resumed >= 50, `TLS 1.2 session IDs: ${ids.resumed} of ${ids.offered} resumed`);
  server.child.kill('SIGTERM');
  t.equal(await server.exited, 0);
});

for (const [label, binary] of NODES) {
  t.test(`a CommonJS node:cluster app on the installed package (${label})`, async (t) => {
    const port = await freePort();
    // Lookups get 100 ms, as in the other process tests: on a loaded machine a lookup can miss the default 5 ms by
    // scheduling alone (missed bounds are tested in cluster-processes-primary-gone.ts).
    const app = await start(t, join(dir, 'cluster-app.cjs'), [], { PORT: String(port), WORKERS: '2', TLS_CACHE_OWNER_TIMEOUT: '100ms' }, 'app listening', binary);
    const ids = await python([port], 100, 'tls1.2', 'id');
    t.ok(ids.resumed >= 99, `TLS 1.2 session IDs over IPC: ${ids.resumed} of ${ids.offered} resumed`);
    const tls13 = await python([port], 100, 'tls1.3', 'ticket');
    t.ok(tls13.resumed >= 99, `TLS 1.3 tickets: ${tls13.resumed} of ${tls13.offered} resumed`);
    t.ok(new Set([...ids.workers, ...tls13.workers]).size >= 2, 'both worker processes answered');
    app.child.kill('SIGTERM');
    t.equal(await app.exited, 0);
  });
}

t.test('the PM2 example app from node_modules, as two plain processes: the first starts the cache daemon, both share it', async (t) => {
  copyFileSync(fileURLToPath(new URL('../../examples/pm2/app.mjs', import.meta.url)), join(dir, 'pm2-app.mjs'));
  const socketDirectory = mkdtempSync(join(tmpdir(), 'package-daemon-'));
  const socket = join(socketDirectory, 'cache', 'app.sock');
  t.teardown(() => {
    try {
      process.kill(Number(readFileSync(`${socket}.lock`, 'utf8')), 'SIGKILL');
    } catch {
      // No daemon.
    }
    rmSync(socketDirectory, { recursive: true, force: true });
  });
  // Lookups get 100 ms, as in the other process tests (above).
  const env = { APP_CERT: project.certificate.APP_CERT, APP_KEY: project.certificate.APP_KEY, TLS_CACHE_SOCKET: socket, TLS_CACHE_OWNER_TIMEOUT: '100ms' };
  const ports = [await freePort(), await freePort()];
  for (const port of ports) {
    const app = run(join(dir, 'pm2-app.mjs'), { ...env, PORT: String(port) }, [], { cwd: dir });
    t.teardown(() => app.kill());
    const deadline = Date.now() + 30_000;
    while (!(await accepts(port)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const ids = await python(ports, 100, 'tls1.2', 'id');
  t.ok(ids.resumed >= 99, `TLS 1.2 session IDs, alternating between the processes: ${ids.resumed} of ${ids.offered} resumed`);
  const tls13 = await python(ports, 100, 'tls1.3', 'ticket');
  t.ok(tls13.resumed >= 99, `TLS 1.3 tickets: ${tls13.resumed} of ${tls13.offered} resumed`);
  t.ok(statSync(socket).isSocket(), 'the daemon listens at TLS_CACHE_SOCKET');
  t.match(readFileSync(`${socket}.lock`, 'utf8'), /^\d+$/, 'its pid in the lock beside it');
});

t.test('Redis from node_modules: two hosts of the command line resume each other\'s sessions', { skip: !onPath(REDIS_SERVER.command) && `${REDIS_SERVER.command} is not installed (${REDIS_SERVER.install})` }, async (t) => {
  const redis = await startRedis(t);
  const env = { TLS_CACHE_WORKERS: '2', TLS_CACHE_REDIS_URL: redis.url, TLS_CACHE_REDIS_SECRET: 'package-test-secret-0123456789-abcdefghij', TLS_CACHE_REDIS_TIMEOUT: '1s' };
  const ports = [await freePort(), await freePort()];
  // Two "hosts": other working directories' command lines, one Redis.
  for (const port of ports) await start(t, BIN, ['./server.mjs', '--port', String(port)], env, 'listening');
  const ids = await python(ports, 40, 'tls1.2', 'id');
  t.equal(ids.resumed, 40, `TLS 1.2 session IDs, alternating hosts: ${ids.resumed} of ${ids.offered} resumed`);
  const tls13 = await python(ports, 40, 'tls1.3', 'ticket');
  t.equal(tls13.resumed, 40, `TLS 1.3 tickets, alternating hosts: ${tls13.resumed} of ${tls13.offered} resumed`);
  t.ok((await redis.client().dbsize()) > 0, 'sessions and keys are in Redis');
});

t.test("the README's examples run as written on the installed package", async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/```js\n\/\/ ([a-z]+\.mjs)[^\n]*\n([\s\S]*?)```/g)].map((m) => ({ name: m[1], text: `// ${m[1]}\n${m[2]}` }));
  t.same(blocks.map((b) => b.name).sort(), ['app.mjs', 'main.mjs', 'server.mjs'], 'the README shows main.mjs, server.mjs and app.mjs');
  const openssl = /^openssl req .*$/m.exec(readme)?.[0];
  t.ok(openssl, 'and the openssl command that makes their certificate');
  const examples = join(dir, 'readme');
  mkdirSync(examples);
  const port = await freePort();
  for (const { name, text } of blocks) writeFileSync(join(examples, name), text.replaceAll('8443', String(port)));
  const made = await node('sh', ['-c', `cd ${examples} && ${openssl!}`]);
  t.equal(made.code, 0, `the certificate: ${made.stderr.slice(-200)}`);

  const visit = async (label: string): Promise<void> => {
    for (let i = 0; i < 200 && !(await accepts(port)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const tls13 = await python([port], 20, 'tls1.3', 'ticket');
    t.equal(tls13.resumed, 20, `${label}: TLS 1.3 tickets, ${tls13.resumed} of 20 resumed`);
    const ids = await python([port], 20, 'tls1.2', 'id');
    t.equal(ids.resumed, 20, `${label}: TLS 1.2 session IDs, ${ids.resumed} of 20 resumed`);
  };
  const options = { cwd: examples };
  for (const [label, script, args] of [
    ['node main.mjs', join(examples, 'main.mjs'), []],
    ['npx tls-resumption ./server.mjs', BIN, ['./server.mjs', '--port', String(port)]],
    ['node app.mjs', join(examples, 'app.mjs'), []],
  ] as const) {
    const running = run(script, { TLS_CACHE_WORKERS: '2' }, [...args], options);
    t.teardown(() => running.kill());
    await visit(label);
    running.child.kill('SIGTERM');
    const code = await running.exited;
    t.ok(code === 0 || label === 'node app.mjs', `${label}: SIGTERM ends it (${code})`);
  }
});
