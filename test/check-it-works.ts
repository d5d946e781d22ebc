/**
 * docs/operations.md's "Check that it works": its `openssl s_client` and
 * `curl` commands, run exactly as written (the ports replaced) against the
 * command line, print New then Reused for TLS 1.2 by session ID, TLS 1.2
 * by ticket and TLS 1.3 by ticket, and the metrics count them.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, waitForLog } from './fixtures/process.ts';
import { BIN } from './helpers/status.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

const docs = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
const section = docs.slice(docs.indexOf('## Check that it works'), docs.indexOf('\n## ', docs.indexOf('## Check that it works') + 1));
const commands = /```sh\n([\s\S]*?)```/.exec(section)?.[1];

t.test('the documented commands resume every way they say', async (t) => {
  t.ok(commands, 'the section has its commands');
  const dir = mkdtempSync(join(tmpdir(), 'check-it-works-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeCertificateFiles(dir);
  writeFileSync(
    join(dir, 'server.mjs'),
    "import { readFileSync } from 'node:fs';\nimport { createServer } from 'node:https';\nconst key = readFileSync('key.pem');\nconst cert = readFileSync('cert.pem');\n" +
      "export default ({ serverOptions, workerId }) => createServer({ key, cert, ...serverOptions }, (req, res) => res.end(`worker ${workerId}\\n`));\n",
  );
  const port = await freePort();
  const metricsPort = await freePort();
  const server = run(
    BIN,
    { TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_WORKERS: '2', TLS_CACHE_METRICS_PORT: String(metricsPort), TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock') },
    ['./server.mjs', '--port', String(port)],
    { cwd: dir },
  );
  t.teardown(() => server.kill());
  await waitForLog(server, 'listening', 30_000);
  const script = commands!.replaceAll('localhost:8443', `localhost:${port}`).replaceAll('localhost:9464', `localhost:${metricsPort}`);
  t.not(script, commands, 'the ports replaced');
  const output = await new Promise<string>((resolve, reject) =>
    execFile('sh', ['-c', script], { cwd: dir, timeout: 60_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
  const lines = output.split('\n').filter(Boolean);
  t.same(
    lines.slice(0, 6).map((line) => /^(New|Reused), (TLSv1\.[23]),/.exec(line)?.slice(1).join(' ')),
    ['New TLSv1.2', 'Reused TLSv1.2', 'New TLSv1.2', 'Reused TLSv1.2', 'New TLSv1.3', 'Reused TLSv1.3'],
    `New then Reused, each way: ${lines.slice(0, 6).join(' | ')}`,
  );
  const metric = (result: string, protocol: string): number =>
    Number(new RegExp(`^tls_session_cache_handshakes_total\\{result="${result}",protocol="${protocol}"\\} (\\d+)$`, 'm').exec(output)?.[1]);
  t.equal(metric('resumed', 'TLSv1.2'), 2, 'the metrics: 2 TLS 1.2 resumed');
  t.equal(metric('full', 'TLSv1.2'), 2);
  t.equal(metric('resumed', 'TLSv1.3'), 1, '1 TLS 1.3 resumed');
  t.equal(metric('full', 'TLSv1.3'), 1);
  t.match(section, 'echo | openssl s_client', 'the section says why the obvious command does not do');
});
