/**
 * examples/grafana/tls-resumption.json queries only what the package
 * exports: every metric name in its PromQL expressions (a histogram's
 * `_bucket`, `_sum` and `_count` by the histogram's name) is one
 * `/metrics` of the command line shows (with Redis configured, for the
 * fleet gauges), and every label it selects or groups by is one of the
 * metrics it queries there (or `job` and `instance`, which Prometheus adds,
 * and a histogram's `le`).
 *
 * `tls_session_cache_resumed_session_age_seconds` (the session-age
 * histogram of issue 32) arrives with its own change: while `/metrics`
 * does not have it, its queries are noted and not failed; once it does,
 * they are checked as strictly as the others, with no edit here.
 */
import t from 'tap';
import { get } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, run, waitForLog } from './fixtures/process.ts';
import { BIN } from './helpers/status.ts';
import { writeCertificateFiles } from './helpers/certificate-files.ts';

/** The metric that may not be there yet (see the module's documentation). */
const ARRIVING = 'tls_session_cache_resumed_session_age_seconds';
/** Labels Prometheus adds to every series it scrapes. */
const TARGET_LABELS = ['job', 'instance'];

const dashboard = JSON.parse(readFileSync(new URL('../examples/grafana/tls-resumption.json', import.meta.url), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics' }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** What /metrics exports: each metric's type and the label names of its samples. */
function exported(text: string): Map<string, { type: string; labels: Set<string> }> {
  const metrics = new Map<string, { type: string; labels: Set<string> }>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) metrics.set(name, { type, labels: new Set() });
  for (const [, sample, labels] of text.matchAll(/^([a-z_:][a-z0-9_:]*)\{([^}]*)\}/gm)) {
    const base = metrics.has(sample) ? sample : sample.replace(/_(bucket|sum|count)$/, '');
    for (const [, label] of labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) metrics.get(base)?.labels.add(label);
  }
  return metrics;
}

/** The metric names and label names a PromQL expression uses. */
function uses(expr: string): { metrics: string[]; labels: string[] } {
  const metrics = [...new Set([...expr.matchAll(/\b(tls_session_cache_[a-z0-9_]+)\b/g)].map((m) => m[1]))];
  const labels = new Set<string>();
  for (const [, inside] of expr.matchAll(/\{([^}]*)\}/g)) for (const [, label] of inside.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) labels.add(label);
  for (const [, list] of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const label of list.split(',').map((l) => l.trim()).filter(Boolean)) labels.add(label);
  return { metrics, labels: [...labels] };
}

t.test('every metric and label the dashboard queries is exported', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await writeCertificateFiles(dir);
  writeFileSync(
    join(dir, 'server.mjs'),
    "import { readFileSync } from 'node:fs';\nimport { createServer } from 'node:tls';\n" +
      "export default ({ serverOptions }) => createServer({ key: readFileSync('key.pem'), cert: readFileSync('cert.pem'), ...serverOptions }, (s) => s.end());\n",
  );
  const metricsPort = await freePort();
  // Redis configured (none answering: the fleet gauges are exported all the same).
  const server = run(
    BIN,
    {
      TLS_CACHE_LOG_FORMAT: 'json', TLS_CACHE_SUMMARY_INTERVAL: '0', TLS_CACHE_WORKERS: '1', TLS_CACHE_METRICS_PORT: String(metricsPort),
      TLS_CACHE_SOCKET: join(dir, 'sock', 'app.sock'), TLS_CACHE_REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      TLS_CACHE_REDIS_SECRET: 'dashboard-test-0123456789abcdef0123456789',
    },
    ['./server.mjs', '--port', String(await freePort())],
    { cwd: dir },
  );
  t.teardown(() => server.kill());
  await waitForLog(server, 'listening', 30_000);
  const metrics = exported(await scrape(metricsPort));
  t.ok(metrics.size > 30, `${metrics.size} metrics exported`);
  const arrived = metrics.has(ARRIVING);
  if (!arrived) t.comment(`note: ${ARRIVING} is not exported yet (it comes with the session-age change): its queries are not checked until it is`);
  let checked = 0;
  let waiting = 0;
  for (const panel of dashboard.panels) {
    t.ok(panel.targets.length > 0, `${panel.title}: has queries`);
    for (const { expr } of panel.targets) {
      const used = uses(expr);
      t.ok(used.metrics.length > 0, `${panel.title}: ${expr} queries a metric of the package`);
      const known = used.metrics.map((name) => {
        if (metrics.has(name)) return { name, ...metrics.get(name)! };
        const base = name.replace(/_(bucket|sum|count)$/, '');
        return metrics.get(base)?.type === 'histogram' || (base === ARRIVING && !arrived) ? { name: base, ...(metrics.get(base) ?? { type: 'histogram', labels: new Set<string>() }) } : undefined;
      });
      if (!arrived && used.metrics.some((name) => name.startsWith(ARRIVING))) {
        t.comment(`note: not checked until ${ARRIVING} is exported: ${expr}`);
        waiting++;
        continue;
      }
      used.metrics.forEach((name, i) => t.ok(known[i], `${panel.title}: ${name} is exported`));
      const labels = new Set([...TARGET_LABELS, ...known.flatMap((m) => (m === undefined ? [] : [...m.labels, ...(m.type === 'histogram' ? ['le'] : [])]))]);
      for (const label of used.labels) t.ok(labels.has(label), `${panel.title}: label ${label} is one of ${used.metrics.join(', ')}`);
      checked++;
    }
  }
  const queries = dashboard.panels.reduce((n, panel) => n + panel.targets.length, 0);
  t.equal(checked + waiting, queries, `${checked} of ${queries} queries checked`);
  t.equal(waiting, arrived ? 0 : 2, arrived ? 'every query checked' : 'only the two session-age queries wait for their metric');
  // The panels the issue asks for.
  const titles = dashboard.panels.map((p) => p.title).join(' | ');
  for (const wanted of ['Resumption ratio', 'Missed resumptions by reason', 'Table fill', 'Evictions by reason', 'Ticket key age', 'Fleet hosts', 'Session age at resumption']) {
    t.match(titles, wanted, `a panel: ${wanted}`);
  }
  const age = dashboard.panels.find((p) => p.title === 'Session age at resumption')!.targets.map((target) => target.expr).join('\n');
  t.match(age, /histogram_quantile\(0\.5, sum by \(le, method\) \(rate\(tls_session_cache_resumed_session_age_seconds_bucket/, 'median by method');
  t.match(age, /histogram_quantile\(0\.99, sum by \(le, method\)/, '99th percentile by method');
});

t.test('the checker itself: a name or label the package does not export fails', async (t) => {
  const metrics = exported('# TYPE tls_session_cache_handshakes_total counter\ntls_session_cache_handshakes_total{result="full",protocol="TLSv1.2"} 1\n');
  const used = uses('sum by (reason) (rate(tls_session_cache_handshakes_totl{result="resumed"}[5m]))');
  t.same(used.metrics, ['tls_session_cache_handshakes_totl']);
  t.notOk(metrics.has(used.metrics[0]), 'a misspelt metric is not exported');
  t.same(used.labels.sort(), ['reason', 'result']);
  t.notOk(metrics.get('tls_session_cache_handshakes_total')!.labels.has('reason'), 'reason is not a label of handshakes_total');
});
