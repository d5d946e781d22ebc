/**
 * Each runtime warns once, at start, of every `TLS_CACHE_*` variable that is
 * no setting (issue 13), naming it and the closest setting, never its value:
 * the thread runtime run as a program (`process.env`) and started with
 * `env`, and the node:cluster primary (not its worker processes), run as a
 * program and started in this process.
 */
import { Writable } from 'node:stream';
import t from 'tap';
import { pino, type Logger } from 'pino';
import { startThreadCluster } from '../lib/threads/cluster.ts';
import { startClusterCache } from '../lib/processes/cluster-cache.ts';
import { loadCertificate } from '../examples/certificate.ts';
import { certificateFiles, startHost } from './helpers/redis-hosts.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';

t.teardown(removeCertificateFiles);

const WORKER_WARNING = 'unknown variable TLS_CACHE_WORKER ignored; did you mean TLS_CACHE_WORKERS?';
/** What a misspelt secret variable holds: it must never reach a log line. */
const SECRET_VALUE = 'hunter2-0123456789abcdef0123456789abcdef';

type Line = Record<string, unknown>;
const unknownLines = (lines: Line[]): Line[] => lines.filter((l) => String(l.msg).startsWith('unknown variable'));

/** A pino logger whose lines land, parsed, in `lines`. */
function capturingLogger(lines: Line[]): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

t.test('the thread runtime, run as a program, warns once per unknown variable of process.env', async (t) => {
  const [misspelt, correct] = await Promise.all([
    startHost(t, 'misspelt', { TLS_CACHE_WORKER: '2', TLS_CACHE_REDIS_SECRE: SECRET_VALUE }),
    // The fixture's own certificate variables are named to the runtime (applicationVariables).
    certificateFiles(t).then((files) => startHost(t, 'correct', { TLS_CACHE_WORKERS: '2', ...files })),
  ]);

  const workerLines = misspelt.logs.filter((l) => l.variable === 'TLS_CACHE_WORKER');
  t.equal(workerLines.length, 1, 'exactly one line names TLS_CACHE_WORKER');
  t.match(workerLines[0], { level: 40, msg: WORKER_WARNING, variable: 'TLS_CACHE_WORKER', suggestion: 'TLS_CACHE_WORKERS' });
  const secretLines = misspelt.logs.filter((l) => l.variable === 'TLS_CACHE_REDIS_SECRE');
  t.equal(secretLines.length, 1, 'exactly one line names TLS_CACHE_REDIS_SECRE');
  t.match(secretLines[0], { level: 40, suggestion: 'TLS_CACHE_REDIS_SECRET' });
  t.equal(unknownLines(misspelt.logs).length, 2, 'no other unknown-variable line');
  t.notOk(misspelt.output().includes('hunter2'), 'the value of the misspelt secret is in no output');
  const warnedAt = misspelt.logs.indexOf(workerLines[0]);
  const firstListening = misspelt.logs.findIndex((l) => l.msg === 'worker listening');
  t.ok(warnedAt >= 0 && firstListening > warnedAt, `warned (line ${warnedAt}) before any worker listened (line ${firstListening})`);

  t.same(unknownLines(correct.logs), [], 'a correctly spelt environment: no unknown-variable line');
  t.same(correct.logs.filter((l) => Number(l.level) >= 40), [], 'and no warning at all');
  t.equal(correct.logs.filter((l) => l.msg === 'worker listening').length, 2, 'TLS_CACHE_WORKERS=2 was read');
});

t.test('the thread runtime reads options.env, not process.env', async (t) => {
  const { cert, key } = await loadCertificate({});
  const lines: Line[] = [];
  const cluster = await startThreadCluster({
    server: new URL('./fixtures/session-server.ts', import.meta.url),
    port: 0,
    host: '127.0.0.1',
    config: { workers: 1, logLevel: 'silent' },
    env: { TLS_CACHE_WORKER: '2', TLS_CACHE_CERT: '/etc/cert.pem' },
    applicationVariables: ['TLS_CACHE_CERT'],
    data: { kind: 'tls', store: 'shared', cert, key },
    logger: capturingLogger(lines),
    execArgv: [],
  });
  t.teardown(() => cluster.stop());
  t.same(unknownLines(lines).map((l) => [l.variable, l.suggestion]), [['TLS_CACHE_WORKER', 'TLS_CACHE_WORKERS']],
    'the one unknown variable, not the application\'s');
  await t.rejects(startThreadCluster({ server: 'x.ts', port: 0, env: {}, applicationVariables: 'TLS_CACHE_CERT' as never }), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    option: 'applicationVariables',
  });
});

t.test('the node:cluster primary warns once; its worker processes do not', async (t) => {
  const app = await startClusterApp({ WORKERS: '2', TLS_CACHE_WORKER: '2' });
  t.teardown(() => app.kill());
  const lines = app.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  const warnings = unknownLines(lines);
  t.equal(warnings.length, 1, 'one line in all, though 3 processes read the environment');
  t.match(warnings[0], { level: 40, msg: WORKER_WARNING, variable: 'TLS_CACHE_WORKER', suggestion: 'TLS_CACHE_WORKERS', pid: app.child.pid },
    'from the primary');
  t.notOk(lines.some((l) => l.variable === 'TLS_CACHE_CERT' || l.variable === 'TLS_CACHE_KEY'), 'the app\'s own variables are not reported');
});

t.test('startClusterCache reads options.env and checks applicationVariables', async (t) => {
  await t.rejects(startClusterCache({ applicationVariables: [42] as never }), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    option: 'applicationVariables',
  });
  const lines: Line[] = [];
  const cache = await startClusterCache({
    config: { logLevel: 'silent', size: 1024 * 1024 },
    env: { TLS_CACHE_TICKET_ROTATION: '1h', TLS_CACHE_SECRET: SECRET_VALUE, TLS_CACHE_KEY: 'key.pem' },
    applicationVariables: ['TLS_CACHE_KEY'],
    logger: capturingLogger(lines),
  });
  t.teardown(() => cache.close());
  t.same(unknownLines(lines).map((l) => [l.variable, l.suggestion]), [
    ['TLS_CACHE_TICKET_ROTATION', 'TLS_CACHE_TICKET_ROTATE'],
    ['TLS_CACHE_SECRET', 'TLS_CACHE_REDIS_SECRET'],
  ]);
  t.notOk(JSON.stringify(lines).includes('hunter2'), 'no value in the log');
});
