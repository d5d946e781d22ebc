/**
 * The load benchmark's parts (arguments, aggregation, ratios, targets, the
 * chart's data, nginx's configuration) and a tiny end-to-end run of each
 * Node mode, so that `npm run bench` cannot rot.
 */
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { get as httpsGet } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { OPTIONS, USAGE, parseLoadArgs, splitConnections } from '../../bench/lib/load-args.ts';
import { chartData, renderChart } from '../../bench/lib/load-chart.ts';
import {
  checkLoadTargets,
  combineMeasurements,
  compareModes,
  formatComparisons,
  formatRunsTable,
  mergeHistograms,
  ratio,
  roundOrder,
  runFigures,
  type Measurement,
  type RunResult,
} from '../../bench/lib/load-stats.ts';
import { makeCertificate } from '../../bench/lib/certificates.ts';
import { MODE_SERVERS, nginxConfig, nginxVersion, redisServerVersion } from '../../bench/lib/servers.ts';
import { newHistogram, type ClientPart } from '../../bench/load-client.ts';

t.test('arguments: defaults of a full run and of --quick', async (t) => {
  const full = parseLoadArgs([], {}, 2);
  t.same(full.workers, [1, 2]);
  t.equal(full.connections, 16);
  t.equal(full.clientThreads, 2);
  t.equal(full.durationMs, 3000);
  t.equal(full.handshakes, undefined);
  t.equal(full.warmupMs, 500);
  t.equal(full.rounds, 2);
  t.equal(full.returning, 1);
  t.same(full.protocols, ['tls12-id', 'tls12-ticket', 'tls13', 'tls13-once']);
  t.same(full.keys, ['rsa']);
  t.same(full.modes, ['none', 'per-worker', 'shared', 'nginx', 'nginx-proxy', 'redis', 'cluster', 'redis-cluster', 'cluster-redis']);
  t.equal(full.requests, 0, 'handshakes only by default');
  t.equal(full.quick, false);
  t.equal(full.chart, undefined, 'the committed chart is written only when asked');
  t.equal(full.groups, undefined, "Node's default groups");
  t.equal(full.clusterScheduling, 'rr', "node:cluster modes: Node's default scheduling");
  const quick = parseLoadArgs(['--quick'], {}, 2);
  t.equal(quick.quick, true);
  t.equal(quick.durationMs, 1500);
  t.equal(quick.rounds, 2);
  t.same(quick.protocols, ['tls12-id']);
  t.same(quick.workers, [1, 2], 'quick keeps 1 and 2 workers: both are compared');
  t.equal(parseLoadArgs([], {}, 1).clientThreads, 1, 'one client thread on one core');
  t.equal(parseLoadArgs([], { BENCH_QUICK: '1' }, 2).quick, true);
});

t.test('arguments: flags, environment variables, and which wins', async (t) => {
  const config = parseLoadArgs(
    ['--workers', '4,2,2', '--connections', '32', '--client-threads', '3', '--duration', '1500ms', '--warmup', '0', '--rounds', '3',
      '--returning', '50%', '--protocol', 'tls13,tls12-id', '--key', 'ecdsa,rsa', '--modes', 'shared,none', '--groups', 'X25519:P-256', '--out', '/tmp/x', '--chart', 'c.svg'],
    {},
    2,
  );
  t.same(config.workers, [2, 4], 'sorted, without repeats');
  t.equal(config.connections, 32);
  t.equal(config.clientThreads, 3);
  t.equal(config.durationMs, 1500);
  t.equal(config.warmupMs, 0);
  t.equal(config.rounds, 3);
  t.equal(config.returning, 0.5);
  t.same(config.protocols, ['tls12-id', 'tls13'], 'canonical order');
  t.same(config.keys, ['rsa', 'ecdsa']);
  t.same(config.modes, ['none', 'shared']);
  t.equal(config.groups, 'X25519:P-256');
  t.equal(config.out, '/tmp/x');
  t.equal(config.chart, 'c.svg');

  const env = {
    BENCH_WORKERS: '3', BENCH_CONNECTIONS: '8', BENCH_CLIENT_THREADS: '1', BENCH_DURATION: '2', BENCH_WARMUP: '250ms', BENCH_ROUNDS: '1',
    BENCH_RETURNING: '0.25', BENCH_PROTOCOL: 'tls12-ticket', BENCH_KEY: 'ecdsa', BENCH_MODES: 'per-worker', BENCH_HANDSHAKES: '1_000',
    BENCH_OUT: 'o', BENCH_CHART: 'c',
  };
  const fromEnv = parseLoadArgs([], env, 2);
  t.same(fromEnv.workers, [3]);
  t.equal(fromEnv.connections, 8);
  t.equal(fromEnv.clientThreads, 1);
  t.equal(fromEnv.durationMs, 2000, 'a bare number is seconds');
  t.equal(fromEnv.warmupMs, 250);
  t.equal(fromEnv.rounds, 1);
  t.equal(fromEnv.returning, 0.25);
  t.same(fromEnv.protocols, ['tls12-ticket']);
  t.same(fromEnv.keys, ['ecdsa']);
  t.same(fromEnv.modes, ['per-worker']);
  t.equal(fromEnv.handshakes, 1000);
  t.equal(fromEnv.out, 'o');
  t.equal(fromEnv.chart, 'c');
  t.equal(parseLoadArgs(['--connections', '12'], env, 2).connections, 12, 'a flag wins over its variable');
  t.equal(parseLoadArgs(['--requests', '3'], {}, 2).requests, 3);
  t.equal(parseLoadArgs(['--requests', '0'], {}, 2).requests, 0, '0: handshakes only');
  t.equal(parseLoadArgs([], { BENCH_REQUESTS: '2' }, 2).requests, 2);
  t.equal(parseLoadArgs(['--requests', '1'], { BENCH_REQUESTS: '2' }, 2).requests, 1, 'the flag wins');
  t.equal(parseLoadArgs([], { BENCH_CONNECTIONS: '' }, 2).connections, 16, 'an empty variable is unset');
  t.equal(parseLoadArgs(['--cluster-scheduling', 'none'], {}, 2).clusterScheduling, 'none');
  t.equal(parseLoadArgs([], { BENCH_CLUSTER_SCHEDULING: 'none' }, 2).clusterScheduling, 'none');
  t.equal(parseLoadArgs(['--cluster-scheduling', 'rr'], { BENCH_CLUSTER_SCHEDULING: 'none' }, 2).clusterScheduling, 'rr', 'the flag wins');

  const byCount = parseLoadArgs(['--handshakes', '5000'], {}, 2);
  t.equal(byCount.durationMs, undefined, '--handshakes alone bounds the window');
  t.equal(parseLoadArgs(['--handshakes', '5000', '--duration', '3s'], {}, 2).durationMs, 3000, 'both: whichever first');
});

t.test('arguments: bad input is refused, naming the flag or variable', async (t) => {
  t.throws(() => parseLoadArgs(['--protocol', 'tls11'], {}, 2), /--protocol: unknown "tls11"/);
  t.throws(() => parseLoadArgs(['--modes', 'memcached'], {}, 2), /--modes: unknown "memcached"/);
  t.throws(() => parseLoadArgs(['--returning', '1.5'], {}, 2), /--returning expects a share/);
  t.throws(() => parseLoadArgs(['--duration', '0'], {}, 2), /--duration expects a duration/);
  t.throws(() => parseLoadArgs(['--duration', 'soon'], {}, 2), /--duration/);
  t.throws(() => parseLoadArgs(['--connections', '0'], {}, 2), /--connections expects an integer/);
  t.throws(() => parseLoadArgs(['--rounds', '0'], {}, 2), /--rounds expects an integer/);
  t.throws(() => parseLoadArgs(['--workers', ''], {}, 2), /--workers/);
  t.throws(() => parseLoadArgs(['--connections', '2', '--client-threads', '3'], {}, 2), /must not exceed --connections/);
  t.throws(() => parseLoadArgs([], { BENCH_RETURNING: 'all' }, 2), /--returning \(from BENCH_RETURNING\)/);
  t.throws(() => parseLoadArgs(['--groups', 'X25519, P-256'], {}, 2), /--groups expects group names/);
  t.throws(() => parseLoadArgs(['--bogus'], {}, 2), TypeError);
  t.throws(() => parseLoadArgs(['--requests=-1'], {}, 2), /--requests expects an integer from 0 to 10000/);
  t.throws(() => parseLoadArgs(['--requests', 'some'], {}, 2), /--requests expects an integer/);
  t.throws(() => parseLoadArgs([], { BENCH_REQUESTS: '1.5' }, 2), /--requests \(from BENCH_REQUESTS\)/);
  t.throws(() => parseLoadArgs(['--cluster-scheduling', 'random'], {}, 2), /--cluster-scheduling: unknown "random"; expected rr, none/);
  t.throws(() => parseLoadArgs(['--cluster-scheduling', 'rr,none'], {}, 2), /--cluster-scheduling expects one of rr, none/);
});

t.test('the usage text documents every flag and variable', async (t) => {
  for (const option of OPTIONS) {
    t.match(USAGE, `--${option.flag}`);
    t.match(USAGE, option.env);
  }
  t.match(USAGE, '--quick');
  t.match(USAGE, 'BENCH_QUICK');
});

t.test('connections are spread evenly over the client threads', async (t) => {
  t.same(splitConnections(16, 2), [8, 8]);
  t.same(splitConnections(7, 3), [3, 2, 2]);
  t.same(splitConnections(1, 1), [1]);
});

/** A client part with the given latencies (ms) of full and resumed handshakes (and of HTTP requests). */
function part(full: number[], resumed: number[], offered: number, errors = 0, requestsMs: number[] = []): ClientPart {
  const all = newHistogram();
  const fullH = newHistogram();
  const resumedH = newHistogram();
  const requestsH = newHistogram();
  for (const ms of requestsMs) requestsH.recordValue(ms * 1000);
  for (const ms of full) {
    all.recordValue(ms * 1000);
    fullH.recordValue(ms * 1000);
  }
  for (const ms of resumed) {
    all.recordValue(ms * 1000);
    resumedH.recordValue(ms * 1000);
  }
  return {
    threadId: 1,
    connections: 4,
    handshakes: full.length + resumed.length,
    resumed: resumed.length,
    offered,
    requests: requestsMs.length,
    errors,
    errorSamples: errors > 0 ? ['boom'] : [],
    histograms: {
      all: hdr.encodeIntoCompressedBase64(all),
      full: hdr.encodeIntoCompressedBase64(fullH),
      resumed: hdr.encodeIntoCompressedBase64(resumedH),
      requests: hdr.encodeIntoCompressedBase64(requestsH),
    },
    negotiated: { protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', group: 'X25519' },
  };
}

const measurement = (over: Partial<Measurement> = {}): Measurement => ({
  windowSeconds: 2,
  connections: 8,
  clientThreads: 2,
  returning: 1,
  serverCpuSeconds: 0.5,
  serverMemory: { rssBytes: 100 * 1024 * 1024, peakRssBytes: 120 * 1024 * 1024, processes: 1 },
  clientCpuSeconds: 1.5,
  serverCounters: undefined,
  ...over,
});

t.test('aggregation: client threads add up into one run', async (t) => {
  const parts = [part([4, 4], [1, 1, 1, 1], 5, 1), part([4], [1, 1, 1], 4)];
  const run = runFigures({ mode: 'shared', protocol: 'tls12-id', key: 'rsa', workers: 2 }, parts, measurement());
  t.equal(run.handshakes, 10);
  t.equal(run.resumed, 7);
  t.equal(run.full, 3);
  t.equal(run.offered, 9);
  t.equal(run.errors, 1);
  t.same(run.errorSamples, ['boom']);
  t.equal(run.handshakesPerSecond, 5);
  t.equal(run.resumedPerSecond, 3.5);
  t.equal(run.fullPerSecond, 1.5);
  t.equal(run.resumptionRatio, 7 / 9, 'resumed over handshakes that offered a session');
  t.equal(run.serverCpuSecondsPer1000, 50, '0.5 s over 10 handshakes, per 1,000');
  t.equal(run.serverRssMiB, 100);
  t.equal(run.serverPeakRssMiB, 120);
  t.equal(run.latency.all.count, 10);
  t.equal(run.latency.resumed.count, 7);
  t.equal(run.latency.full.count, 3);
  t.ok(Math.abs(run.latency.all.p50Ms - 1) < 0.01, 'p50 of the merged histogram');
  t.ok(Math.abs(run.latency.all.p99Ms - 4) < 0.01);
  t.ok(Math.abs(run.latency.full.p50Ms - 4) < 0.01);
  t.equal(mergeHistograms([run.histogram]).totalCount, 10, 'the run keeps its histogram, re-readable');
  t.same(run.negotiated, parts[0].negotiated);

  t.equal(run.requests, 0, 'handshakes only: no requests');
  t.equal(run.serverCpuSecondsPer1000Requests, null);
  t.equal(run.latency.requests.count, 0);

  const empty = runFigures({ mode: 'none', protocol: 'tls13', key: 'ecdsa', workers: 1 }, [part([], [], 0)], measurement({ serverCpuSeconds: undefined, serverMemory: undefined }));
  t.equal(empty.resumptionRatio, null, 'no offers: no ratio');
  t.equal(empty.serverCpuSecondsPer1000, null);
  t.equal(empty.serverRssMiB, null);
  t.equal(empty.latency.all.p99Ms, 0);
});

t.test('rounds: windows of one mode add up; modes take turns', async (t) => {
  const first = measurement({ windowSeconds: 1.5, serverCpuSeconds: 0.3, clientCpuSeconds: 1 });
  const second = measurement({ windowSeconds: 1.5, serverCpuSeconds: 0.2, clientCpuSeconds: 2, serverMemory: { rssBytes: 1, peakRssBytes: 2, processes: 1 } });
  const both = combineMeasurements([first, second]);
  t.equal(both.windowSeconds, 3);
  t.equal(both.serverCpuSeconds, 0.5);
  t.equal(both.clientCpuSeconds, 3);
  t.same(both.serverMemory, second.serverMemory, 'memory at the end of the last window');
  t.equal(combineMeasurements([first, measurement({ serverCpuSeconds: undefined })]).serverCpuSeconds, undefined, 'CPU unknown in one window: unknown');
  t.throws(() => combineMeasurements([]), RangeError);
  const run = runFigures({ mode: 'shared', protocol: 'tls12-id', key: 'rsa', workers: 2 }, [part([4], [1, 1], 2), part([], [1, 1, 1], 3)], both, 2);
  t.equal(run.windows, 2);
  t.equal(run.handshakesPerSecond, 2, '6 handshakes over 3 s of windows');
  t.equal(run.serverCpuSecondsPer1000, 0.5 / 6 * 1000);
  t.same(roundOrder(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
  t.same(roundOrder(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
  t.same(roundOrder(['a', 'b', 'c'], 3), ['a', 'b', 'c']);
  t.same(roundOrder([], 2), []);
});

/** A run with chosen figures (what comparisons and targets read). */
function fakeRun(mode: RunResult['mode'], workers: number, figures: { hs: number; resumed: number; ratio: number | null; cpu: number }, protocol: RunResult['protocol'] = 'tls12-id'): RunResult {
  const run = runFigures({ mode, protocol, key: 'rsa', workers }, [part([1], [1], 1)], measurement());
  return { ...run, handshakesPerSecond: figures.hs, resumedPerSecond: figures.resumed, resumptionRatio: figures.ratio, serverCpuSecondsPer1000: figures.cpu };
}

const RUNS: RunResult[] = [
  fakeRun('per-worker', 1, { hs: 2000, resumed: 2000, ratio: 1, cpu: 0.4 }),
  fakeRun('shared', 1, { hs: 1950, resumed: 1940, ratio: 1, cpu: 0.41 }),
  fakeRun('none', 2, { hs: 600, resumed: 0, ratio: 0, cpu: 1.6 }),
  fakeRun('per-worker', 2, { hs: 1000, resumed: 500, ratio: 0.5, cpu: 1 }),
  fakeRun('shared', 2, { hs: 2400, resumed: 2400, ratio: 0.999, cpu: 0.5 }),
  fakeRun('nginx', 2, { hs: 3000, resumed: 3000, ratio: 1, cpu: 0.3 }),
];

t.test('ratios: shared against each other mode of the same scenario', async (t) => {
  t.equal(ratio(3, 2), 1.5);
  t.equal(ratio(3, 0), null);
  t.equal(ratio(null, 2), null);
  const comparisons = compareModes(RUNS);
  const find = (workers: number, denominator: string, metric: string) =>
    comparisons.find((c) => c.workers === workers && c.denominator === denominator && c.metric === metric)?.ratio;
  t.equal(find(2, 'per-worker', 'resumedPerSecond'), 4.8);
  t.equal(find(2, 'per-worker', 'handshakesPerSecond'), 2.4);
  t.equal(find(2, 'per-worker', 'serverCpuSecondsPer1000'), 0.5);
  t.equal(find(2, 'none', 'resumedPerSecond'), null, 'none resumed nothing');
  t.equal(find(2, 'nginx', 'resumedPerSecond'), 0.8);
  t.equal(find(1, 'per-worker', 'resumedPerSecond'), 0.97);
  t.equal(find(1, 'none', 'resumedPerSecond'), undefined, 'no none run with 1 worker');
  const lines = formatComparisons(comparisons);
  t.ok(lines.includes('tls12-id rsa, 2 workers: shared / per-worker: resumed/s 4.80x, handshakes/s 2.40x, server CPU per 1,000 handshakes 0.50x'), lines.join('\n'));
  t.ok(lines.some((l) => l.includes('shared / none: resumed/s n/a (none resumed none)')));
});

t.test('targets: the issue\'s figures, checked', async (t) => {
  const lines = checkLoadTargets(RUNS).map((target) => target.line);
  t.same(lines, [
    'PASS  tls12-id rsa, 1 worker, shared / per-worker (Map in its thread) resumed handshakes/s >= 0.95x: 0.97x',
    'PASS  tls12-id rsa, 2 workers, shared resumption ratio >= 99%: 99.9%',
    'PASS  tls12-id rsa, 2 workers, per-worker resumption ratio about 50%: 50.0%',
    'PASS  tls12-id rsa, 2 workers, none resumption ratio = 0%: 0.0%',
  ]);
  const worse = checkLoadTargets([
    fakeRun('shared', 2, { hs: 1, resumed: 1, ratio: 0.9, cpu: 1 }),
    fakeRun('per-worker', 2, { hs: 1, resumed: 1, ratio: 0.9, cpu: 1 }),
    fakeRun('none', 2, { hs: 1, resumed: 1, ratio: 0.5, cpu: 1 }, 'tls13'),
  ]);
  t.same(worse.map((target) => target.pass), [false, false], 'no none target for tickets (they resume on their thread)');
});

t.test('the table lists every run with its figures', async (t) => {
  const table = formatRunsTable(RUNS).split('\n');
  t.match(table[0], /^mode\s+protocol\s+key\s+workers\s+handshakes\/s\s+full\/s\s+resumed\/s\s+resumed\s+p50 ms\s+p99 ms\s+p99\.9 ms\s+CPU s\/1k\s+RSS MiB\s+errors$/);
  t.equal(table.length, 2 + RUNS.length);
  t.match(table[2], /^per-worker\s+tls12-id\s+rsa\s+1\s+2,000\s/);
  t.match(table.find((l) => l.startsWith('shared') && / 2 /.test(l)) ?? '', /99\.9%/);
});

t.test('--requests: requests add up, CPU per 1,000 requests, request latency, their columns and ratio', async (t) => {
  // Two threads: 3 + 2 connections measured, 2 requests each (latencies in ms).
  const parts = [part([4], [1, 1], 3, 0, [2, 2, 2, 2, 8, 8]), part([], [1, 1], 2, 0, [2, 2, 2, 2])];
  const run = runFigures({ mode: 'shared', protocol: 'tls12-ticket', key: 'rsa', workers: 1 }, parts, measurement());
  t.equal(run.requests, 10);
  t.equal(run.requestsPerSecond, 5, '10 requests in 2 s');
  t.equal(run.serverCpuSecondsPer1000Requests, 50, '0.5 s over 10 requests, per 1,000');
  t.equal(run.serverCpuSecondsPer1000, 100, 'per handshake as before: 0.5 s over 5 handshakes');
  t.equal(run.latency.requests.count, 10);
  t.ok(Math.abs(run.latency.requests.p50Ms - 2) < 0.01, 'request p50');
  t.ok(Math.abs(run.latency.requests.p99Ms - 8) < 0.01, 'request p99');

  const proxied = runFigures({ mode: 'nginx-proxy', protocol: 'tls12-ticket', key: 'rsa', workers: 1 }, parts, measurement({ serverCpuSeconds: 0.25 }));
  const comparisons = compareModes([run, proxied]);
  const perRequest = comparisons.find((c) => c.numerator === 'shared' && c.denominator === 'nginx-proxy' && c.metric === 'serverCpuSecondsPer1000Requests');
  t.equal(perRequest?.ratio, 2, 'shared against nginx-proxy, per request');
  t.match(formatComparisons(comparisons).join('\n'), /shared \/ nginx-proxy: .*server CPU per 1,000 requests 2\.00x/);
  t.notOk(compareModes(RUNS).some((c) => c.metric === 'serverCpuSecondsPer1000Requests'), 'no per-request ratio without requests');

  const table = formatRunsTable([run, proxied]).split('\n');
  t.match(table[0], /errors\s+req\/s\s+req p99 ms\s+CPU s\/1k req$/);
  t.match(table[3], /^nginx-proxy\s+tls12-ticket\s.*\s5\s+8\.\d\d\s+25\.000$/);
  t.notMatch(formatRunsTable(RUNS), /req\/s/, 'handshake-only tables keep their columns');
});

t.test('chart data: one category per scenario, one series per mode', async (t) => {
  const data = chartData(RUNS);
  t.same(data.categories, ['tls12-id rsa\n1 worker', 'tls12-id rsa\n2 workers']);
  t.same(data.modes, ['none', 'per-worker', 'shared', 'nginx']);
  t.same(data.resumedPerSecond.shared, [1940, 2400]);
  t.same(data.resumedPerSecond.none, [null, 0], 'a mode missing from a scenario is a gap');
  t.same(data.resumptionPercent['per-worker'], [100, 50]);
  t.same(data.cpuSecondsPer1000.nginx, [null, 0.3]);
  const svg = renderChart(data, { title: 'Test chart', subtitle: 'machine' });
  t.match(svg, /^<svg/);
  t.match(svg, /Test chart/);
  for (const mode of data.modes) t.match(svg, mode);
});

t.test('nginx configuration per protocol', async (t) => {
  const options = { workers: 2, port: 8443, host: '127.0.0.1', certFile: '/c.crt', keyFile: '/c.key', directory: '/tmp/n' };
  const ids = nginxConfig({ ...options, protocol: 'tls12-id' });
  t.match(ids, /worker_processes 2;/);
  t.match(ids, /listen 127\.0\.0\.1:8443 ssl;/);
  t.match(ids, /ssl_session_cache shared:SSL:10m;/);
  t.match(ids, /ssl_session_tickets off;/);
  t.match(ids, /ssl_protocols TLSv1\.2;/);
  t.match(ids, /ssl_certificate \/c\.crt;/);
  t.match(ids, /daemon off;/);
  t.match(nginxConfig({ ...options, protocol: 'tls12-ticket' }), /ssl_session_tickets on;/);
  t.match(nginxConfig({ ...options, protocol: 'tls13' }), /ssl_protocols TLSv1\.3;/);
  t.notMatch(ids, /proxy_pass|upstream/, 'nginx answers itself');

  // nginx-proxy: the same TLS settings, requests proxied to the Node upstream with HTTP/1.1 keep-alive.
  const proxy = nginxConfig({ ...options, protocol: 'tls13', upstreamPort: 9001 });
  t.match(proxy, /ssl_session_cache shared:SSL:10m;/);
  t.match(proxy, /ssl_protocols TLSv1\.3;/);
  t.match(proxy, /upstream node_upstream \{\s+server 127\.0\.0\.1:9001;\s+keepalive \d+;\s+\}/);
  t.match(proxy, /proxy_pass http:\/\/node_upstream;/);
  t.match(proxy, /proxy_http_version 1\.1;/);
  t.match(proxy, /proxy_set_header Connection "";/, 'no Connection: close to the upstream: keep-alive');
  t.notMatch(proxy, /return 200/);
});

/** Runs `bench/load.ts` with `args` into a scratch directory, without the caller's BENCH_* and TLS_CACHE_* variables. */
async function runBench(t: Test, args: string[], envOver: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; out: string }> {
  const out = mkdtempSync(join(tmpdir(), 'bench-load-test-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BENCH_') && !name.startsWith('TLS_CACHE_'))), ...envOver };
  const script = fileURLToPath(new URL('../../bench/load.ts', import.meta.url));
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [script, ...args, '--out', out], { env, timeout: 90_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr, out }));
    child.stdin?.end();
  });
}

t.test('end to end: a tiny run of each Node mode', async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'none,per-worker,shared', '--workers', '2', '--protocol', 'tls12-id',
    '--key', 'ecdsa', '--connections', '4', '--client-threads', '2', '--warmup', '300ms', '--duration', '1s', '--rounds', '2', '--returning', '1']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const files = readdirSync(out);
  t.ok(files.includes('load-latest.json'), 'latest JSON');
  t.ok(files.some((f) => /^load-\d{4}-.*\.json$/.test(f)), 'stamped JSON');
  t.ok(files.includes('load-latest.svg'), 'chart');
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.equal(report.benchmark, 'load');
  t.match(report.machine, { cpu: String, cores: Number, node: String });
  t.match(report.sharing, /share this machine's/);
  t.same(report.failures, [], stdout);
  t.same(report.runs.map((r: RunResult) => r.mode), ['none', 'per-worker', 'shared']);
  const byMode = Object.fromEntries(report.runs.map((r: RunResult) => [r.mode, r])) as Record<string, RunResult>;
  for (const run of report.runs as RunResult[]) {
    t.ok(run.handshakes > 0, `${run.mode}: handshakes measured`);
    t.equal(run.errors, 0, `${run.mode}: no errors (${run.errorSamples.join('; ')})\n${stdout}\n${stderr}`);
    t.match(run, { protocol: 'tls12-id', key: 'ecdsa', workers: 2, windows: 2, latency: { all: { p50Ms: Number, p99Ms: Number, p999Ms: Number } } });
    t.equal(run.negotiated?.protocol, 'TLSv1.2');
    t.ok(run.serverCpuSecondsPer1000 === null || run.serverCpuSecondsPer1000 > 0, `${run.mode}: server CPU`);
  }
  t.equal(byMode.none.resumptionRatio, 0, 'none resumes no session ID');
  t.ok(byMode.shared.resumptionRatio! >= 0.95, `shared resumes across workers: ${byMode.shared.resumptionRatio}\n${stdout}`);
  t.ok(byMode['per-worker'].resumptionRatio! < byMode.shared.resumptionRatio!, `per-worker resumes less: ${byMode['per-worker'].resumptionRatio}`);
  t.ok(report.comparisons.length > 0, 'ratios');
  t.ok(report.targets.length > 0, 'targets');
  t.match(stdout, /Ratios \(same run, same machine\)/);
  t.match(stdout, /^mode\s+protocol/m);
});

t.test('end to end: tls13-once, clients that use each ticket once', async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'per-worker,shared', '--workers', '2', '--protocol', 'tls13-once',
    '--key', 'ecdsa', '--connections', '4', '--warmup', '300ms', '--duration', '1s', '--rounds', '1']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  const byMode = Object.fromEntries(report.runs.map((r: RunResult) => [r.mode, r])) as Record<string, RunResult>;
  for (const run of report.runs as RunResult[]) {
    t.equal(run.errors, 0, `${run.mode}: no errors (${run.errorSamples.join('; ')})`);
    t.equal(run.negotiated?.protocol, 'TLSv1.3');
    t.equal(run.offered, run.handshakes, `${run.mode}: every handshake is a returning client's`);
  }
  // Each resumption brings a fresh ticket: the client never runs out.
  t.ok(byMode.shared.resumptionRatio! >= 0.95, `shared: ${byMode.shared.resumptionRatio}\n${stdout}`);
  t.ok(byMode['per-worker'].resumptionRatio! < 0.9, `per-worker (a ticket key per thread): ${byMode['per-worker'].resumptionRatio}`);
});

t.test('end to end: nginx, when it is on the PATH', { skip: nginxVersion() === undefined ? 'nginx is not on the PATH' : false }, async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'nginx', '--workers', '2', '--protocol', 'tls12-id', '--key', 'ecdsa',
    '--connections', '4', '--warmup', '300ms', '--duration', '1s', '--rounds', '1']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.equal(report.runs.length, 1);
  t.equal(report.runs[0].mode, 'nginx');
  t.ok(report.runs[0].handshakes > 0, `handshakes measured\n${stdout}\n${stderr}`);
  t.equal(report.runs[0].errors, 0, `no errors (${report.runs[0].errorSamples.join('; ')})`);
  t.ok(report.runs[0].resumptionRatio >= 0.95, `nginx's shared cache resumes: ${report.runs[0].resumptionRatio}`);
  t.ok(report.runs[0].serverProcesses >= 3, 'master and workers measured together');
});

t.test('end to end: the Redis modes (two hosts: on redis-server, on a Redis Cluster, of node:cluster processes), when redis-server is on the PATH', { skip: redisServerVersion() === undefined ? 'redis-server is not on the PATH' : false }, async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'redis,redis-cluster,cluster-redis', '--workers', '1', '--protocol', 'tls12-id', '--key', 'ecdsa',
    '--connections', '4', '--warmup', '300ms', '--duration', '1s', '--rounds', '1']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.same(report.runs.map((r: RunResult) => r.mode), ['redis', 'redis-cluster', 'cluster-redis']);
  // The wrapper, two hosts and Redis, measured together: one redis-server, or the cluster's 3 masters; each
  // node:cluster host a primary and a worker process.
  const processes: Record<string, number> = { redis: 4, 'redis-cluster': 6, 'cluster-redis': 6 };
  for (const run of report.runs as RunResult[]) {
    t.ok(run.handshakes > 0, `${run.mode}: handshakes measured\n${stdout}\n${stderr}`);
    t.equal(run.errors, 0, `${run.mode}: no errors (${run.errorSamples.join('; ')})`);
    // Session IDs cross hosts through Redis only: this is Redis at work.
    t.ok(run.resumptionRatio! >= 0.95, `${run.mode}: clients alternating between the two hosts resume: ${run.resumptionRatio}`);
    t.ok(run.serverProcesses! >= processes[run.mode], `${run.mode}: ${run.serverProcesses} processes measured together`);
    const hosts = (run.serverCounters as { hosts: Array<{ hooks?: { lookupHits: number }; counters?: { lookupHits: number; redisHits: number } }> }).hosts;
    t.equal(hosts.length, 2, `${run.mode}: two hosts`);
    t.ok(hosts.every((h) => (h.hooks?.lookupHits ?? h.counters?.lookupHits ?? 0) > 0), `${run.mode}: both hosts resumed sessions`);
  }
});

t.test('end to end: cluster (node:cluster worker processes, workers accepting themselves)', async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'cluster', '--workers', '2', '--protocol', 'tls12-id', '--key', 'ecdsa',
    '--connections', '4', '--warmup', '300ms', '--duration', '1s', '--rounds', '1', '--cluster-scheduling', 'none']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.equal(report.runs.length, 1);
  const run = report.runs[0];
  t.equal(run.mode, 'cluster');
  t.ok(run.handshakes > 0, `handshakes measured\n${stdout}\n${stderr}`);
  t.equal(run.errors, 0, `no errors (${run.errorSamples.join('; ')})`);
  t.ok(run.resumptionRatio >= 0.95, `worker processes resume each other's sessions: ${run.resumptionRatio}`);
  t.ok(run.serverProcesses >= 3, `the primary and its 2 worker processes measured together (${run.serverProcesses})`);
  const { counters, scheduling } = run.serverCounters as { counters: Record<string, number>; scheduling: string };
  t.ok(counters.lookupHits > 0 && counters.localHits + counters.ownerHits > 0, 'resumed through the local copies and the primary');
  t.equal(scheduling, 'none', "the primary ran with the scheduling asked for (Node's cluster.schedulingPolicy)");
  t.match(stdout, /node:cluster scheduling none/, 'and the report says so');
});

t.test('end to end: --requests on the Node modes (HTTPS, requests counted and timed)', async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'none,shared', '--workers', '1', '--protocol', 'tls13', '--key', 'ecdsa',
    '--connections', '4', '--warmup', '300ms', '--duration', '1s', '--rounds', '1', '--requests', '2']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.equal(report.config.requests, 2);
  t.same(report.runs.map((r: RunResult) => r.mode), ['none', 'shared']);
  for (const run of report.runs as RunResult[]) {
    t.ok(run.handshakes > 0, `${run.mode}: handshakes measured\n${stdout}\n${stderr}`);
    t.equal(run.errors, 0, `${run.mode}: no errors (${run.errorSamples.join('; ')})`);
    t.equal(run.requests, 2 * run.handshakes, `${run.mode}: two answered requests per measured connection`);
    t.ok(run.serverCpuSecondsPer1000Requests === null || run.serverCpuSecondsPer1000Requests > 0, `${run.mode}: CPU per 1,000 requests`);
    t.ok(run.latency.requests.p99Ms > 0, `${run.mode}: request p99`);
  }
  t.ok(report.runs[1].resumptionRatio >= 0.95, 'shared still resumes with requests on the connection');
  t.match(stdout, /req\/s\s+req p99 ms\s+CPU s\/1k req/);
  t.match(stdout, /2 HTTP\/1\.1 requests per connection/);
});

const noNginx = nginxVersion() === undefined ? 'nginx is not on the PATH' : false;

t.test('nginx-proxy: nginx terminates TLS and answers with what the Node upstream said; stop() ends both', { skip: noNginx }, async (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'bench-proxy-test-'));
  t.teardown(() => rmSync(directory, { recursive: true, force: true }));
  const certificate = await makeCertificate('ecdsa', directory);
  const server = await MODE_SERVERS['nginx-proxy'].start({ mode: 'nginx-proxy', protocol: 'tls12-ticket', workers: 1, certificate, host: '127.0.0.1', requests: 1, clusterScheduling: 'rr' });
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await server.stop();
  });
  t.equal(server.otherPids?.length, 1, 'the Node upstream is measured with nginx');
  const answer = await new Promise<{ status: number | undefined; from: unknown; body: string }>((resolve, reject) => {
    const request = httpsGet({ host: '127.0.0.1', port: server.port, path: '/', rejectUnauthorized: false, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode, from: response.headers['x-bench-server'], body }));
    });
    request.on('error', reject);
  });
  t.same(answer, { status: 200, from: 'node', body: 'ok\n' }, 'proxied to Node over plain HTTP');
  const pids = [server.pid, ...(server.otherPids ?? [])];
  await server.stop();
  stopped = true;
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  t.same(pids.filter(alive), [], 'nginx and the Node upstream are gone');
});

t.test('end to end: nginx-proxy against nginx and shared, with --requests', { skip: noNginx }, async (t) => {
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'shared,nginx,nginx-proxy', '--workers', '1', '--protocol', 'tls12-ticket', '--key', 'ecdsa',
    '--connections', '4', '--warmup', '300ms', '--duration', '1s', '--rounds', '1', '--requests', '1']);
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.same(report.runs.map((r: RunResult) => r.mode), ['shared', 'nginx', 'nginx-proxy']);
  for (const run of report.runs as RunResult[]) {
    t.ok(run.handshakes > 0, `${run.mode}: handshakes measured\n${stdout}\n${stderr}`);
    t.equal(run.errors, 0, `${run.mode}: no errors (${run.errorSamples.join('; ')})`);
    t.equal(run.requests, run.handshakes, `${run.mode}: one answered request per measured connection`);
    t.ok(run.resumptionRatio! >= 0.95, `${run.mode}: resumes: ${run.resumptionRatio}`);
    t.ok(run.serverCpuSecondsPer1000Requests === null || run.serverCpuSecondsPer1000Requests > 0, `${run.mode}: CPU per 1,000 requests`);
    t.ok(run.latency.requests.p99Ms > 0, `${run.mode}: request p99`);
  }
  const proxy = (report.runs as RunResult[])[2];
  t.ok(proxy.serverProcesses! >= 3, `nginx's master and worker and the Node upstream measured together (${proxy.serverProcesses})`);
  t.ok(proxy.serverRssMiB! > (report.runs as RunResult[])[1].serverRssMiB!, 'its memory includes the Node upstream');
  t.match(stdout, /shared \/ nginx-proxy: .*server CPU per 1,000 requests \d/);
  t.match(report.modes['nginx-proxy'], /proxying HTTP\/1\.1 with upstream keep-alive/);
});

t.test('nginx-proxy is skipped with a note where nginx is missing', async (t) => {
  // An empty PATH but node's own directory: no nginx to find.
  const { code, stdout, stderr, out } = await runBench(t, ['--modes', 'none,nginx-proxy', '--workers', '1', '--protocol', 'tls12-ticket', '--key', 'ecdsa',
    '--connections', '2', '--warmup', '0', '--duration', '500ms', '--rounds', '1'], { PATH: dirname(process.execPath) });
  t.equal(code, 0, `exit code 0\n${stdout}\n${stderr}`);
  t.match(stdout, /note: mode nginx-proxy skipped: nginx is not on the PATH/);
  const report = JSON.parse(readFileSync(join(out, 'load-latest.json'), 'utf8'));
  t.same(report.skipped, [{ mode: 'nginx-proxy', reason: 'nginx is not on the PATH' }]);
  t.same(report.runs.map((r: RunResult) => r.mode), ['none']);
});
