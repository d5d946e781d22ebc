/**
 * examples/https-server.ts as a user runs it: a development certificate made
 * at start, `curl -k` answered with the worker's name, and `openssl
 * s_client` resuming its session across the worker threads; with
 * certificate files, SIGHUP serves the renewed files.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:tls';
import t from 'tap';
import { loadCertificate, type Certificate } from '../examples/certificate.ts';
import { exec, hasCommand } from './helpers/exec.ts';
import { freePort, run, waitForLog } from './fixtures/process.ts';

const EXAMPLE = fileURLToPath(new URL('../examples/https-server.ts', import.meta.url));

/** GET / the way a user would: curl -k when present, else https.get without verification. */
async function fetchRoot(port: number, useCurl: boolean): Promise<string> {
  if (useCurl) return (await exec('curl', ['-sk', `https://localhost:${port}/`])).stdout;
  return new Promise((resolve, reject) => {
    get({ host: 'localhost', port, path: '/', rejectUnauthorized: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

t.test('the example serves HTTPS across worker threads with a made-up certificate', async (t) => {
  const port = await freePort();
  const running = run(EXAMPLE, { PORT: String(port), TLS_CACHE_WORKERS: '4' });
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening');
  const starting = running.logs.find((l) => l.msg === 'starting');
  t.match(starting, { port, config: { workers: 4, sessionTimeout: '1h', size: '32MiB', ticketRotate: '1h' } }, 'the start-up configuration is logged, in the units a person writes');
  // The example logs this once runThreadCluster() resolves, which is after the runtime's 'listening'.
  const made = await waitForLog(running, /self-signed development certificate/);
  t.equal(made.certificate, 'self-signed', 'the log says a self-signed certificate was made');

  const useCurl = await hasCommand('curl');
  t.comment(useCurl ? 'using curl -k' : 'curl is missing: using https.get');
  const body = await fetchRoot(port, useCurl);
  t.match(body, /^Hello from worker [1-4] \(thread \d+\); TLS session new, TLSv1\.[23]\n$/, 'says which worker served it');

  const hasOpenssl = await hasCommand('openssl');
  await t.test('openssl s_client resumes its session across workers', { skip: !hasOpenssl && 'openssl is missing' }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-resumption-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'session.pem');
    const request = 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n';
    const common = ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-no_ticket', '-ign_eof'];
    const first = await exec('openssl', [...common, '-sess_out', file], request);
    t.match(first.stdout, /New, TLSv1\.2/, 'the first connection is a full handshake');
    const workers = new Set<string>();
    let reused = 0;
    const runs = 12;
    for (let i = 0; i < runs; i++) {
      const { stdout } = await exec('openssl', [...common, '-sess_in', file], request);
      if (/Reused, TLSv1\.2/.test(stdout) && /TLS session reused/.test(stdout)) reused++;
      const worker = /Hello from worker (\d+)/.exec(stdout)?.[1];
      if (worker) workers.add(worker);
    }
    t.equal(reused, runs, `openssl reported Reused ${reused} times of ${runs}`);
    t.ok(workers.size >= 2, `served by workers ${[...workers].join(', ')}`);
  });
});

t.test('with certificate files, SIGHUP serves the files as they are then (a renewed certificate)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tls-resumption-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [first, renewed] = await Promise.all([loadCertificate({}), loadCertificate({})]);
  const install = async (certificate: Certificate): Promise<void> => {
    await writeFile(join(dir, 'cert.pem'), certificate.cert);
    await writeFile(join(dir, 'key.pem'), certificate.key, { mode: 0o600 });
  };
  await install(first);
  const port = await freePort();
  const running = run(EXAMPLE, { PORT: String(port), TLS_CACHE_WORKERS: '2', TLS_CACHE_CERT: join(dir, 'cert.pem'), TLS_CACHE_KEY: join(dir, 'key.pem') });
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening');
  const served = async (): Promise<Set<string>> => {
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(await peerFingerprint(port));
    return seen;
  };
  t.same([...(await served())], [new X509Certificate(first.cert).fingerprint256], 'the certificate of the files');
  await install(renewed);
  running.child.kill('SIGHUP');
  await waitForLog(running, 'reload complete: every worker replaced', 30_000);
  t.same([...(await served())], [new X509Certificate(renewed.cert).fingerprint256], 'after SIGHUP, the renewed one, on every worker');
});

/** The SHA-256 fingerprint of the certificate a server presents on a full handshake. */
function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}
