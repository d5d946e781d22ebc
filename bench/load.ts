/**
 * The load benchmark (`npm run bench`): TLS handshakes per second, full and
 * resumed, against each session-cache mode, side by side in one run.
 *
 * For every protocol, key type and worker count asked for (a scenario),
 * each mode's server starts as its own process (`shared` on the cluster
 * runtime, `none` and `per-worker` on a bare worker-thread runner, `nginx`
 * when it is on the PATH), and TLS clients in piscina worker threads drive
 * one server at a time: a set number of concurrent connections, each a
 * client that reconnects at once and offers its last session with the
 * probability `--returning`, for a warm-up and then a measured window (a
 * duration, a number of handshakes, or whichever comes first). The modes
 * take turns for `--rounds` windows each, in a rotating order, on servers
 * kept running, so a machine getting busier or quieter weighs on all alike.
 *
 * Per run: handshakes per second (full and resumed), resumption ratio,
 * handshake latency percentiles (HdrHistogram), the server process tree's
 * CPU seconds per 1,000 handshakes and resident memory. The client and the
 * server share this machine's cores, so modes are compared as ratios of
 * figures measured in the same run. Output: a progress bar, a table, ratio
 * and target lines, `bench/results/load-<time>.json` and `load-latest.json`,
 * and the chart `bench/results/load-latest.svg` (also written to `--chart
 * FILE` when asked).
 *
 * Usage: node bench/load.ts --help
 *
 * @module
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as cliProgress from 'cli-progress';
import { Piscina } from 'piscina';
import { makeCertificate, type BenchCertificate } from './lib/certificates.ts';
import { USAGE, parseLoadArgs, splitConnections, type KeyType, type LoadConfig, type ModeName, type Protocol } from './lib/load-args.ts';
import { runCommand } from './lib/cli.ts';
import { chartData, renderChart } from './lib/load-chart.ts';
import {
  checkLoadTargets,
  combineMeasurements,
  roundOrder,
  compareModes,
  formatComparisons,
  formatRunsTable,
  runFigures,
  type Measurement,
  type RunResult,
} from './lib/load-stats.ts';
import { treeCpuSeconds, treeMemory } from './lib/process-usage.ts';
import { MODE_SERVERS, nginxVersion, type RunningServer } from './lib/servers.ts';
import { formatCount } from './lib/stats.ts';
import { Control, Phase, type ClientPart, type ClientTask } from './load-client.ts';

const HOST = '127.0.0.1';
/** Longest window when only `--handshakes` bounds it. */
const MAX_WINDOW_MS = 10 * 60_000;
/** Estimated start and stop time of a server, for the overall ETA. */
const OVERHEAD_MS = 1500;
const POLL_MS = 100;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Progress {
  /** Prints a line above the bars (or plainly when there are none). */
  say(line: string): void;
  startRun(label: string): void;
  updateRun(fraction: number, payload: { phase: string; handshakes: number; resumed: number; errors: number }): void;
  endRun(): void;
  stop(): void;
}

/** cli-progress bars on a terminal; plain lines otherwise (tests, CI, pipes). */
function progress(totalRuns: number): Progress {
  const tty = process.stderr.isTTY === true;
  if (!tty) {
    return { say: (line) => console.log(line), startRun() {}, updateRun() {}, endRun() {}, stop() {} };
  }
  const bars = new cliProgress.MultiBar(
    { clearOnComplete: false, hideCursor: true, stream: process.stderr, format: '{bar} {percentage}% | {label}', autopadding: true },
    cliProgress.Presets.shades_classic,
  );
  const overall = bars.create(totalRuns, 0, { label: `0/${totalRuns} runs` }, { format: '{bar} {value}/{total} runs | elapsed {duration_formatted} | ETA {eta_formatted}' });
  let run: cliProgress.SingleBar | undefined;
  let label = '';
  let done = 0;
  return {
    say: (line) => bars.log(`${line}\n`),
    startRun(text) {
      label = text;
      run = bars.create(1000, 0, { label }, { format: '{bar} {percentage}% | {label}' });
    },
    updateRun(fraction, p) {
      const share = p.handshakes > 0 ? ` ${((p.resumed / p.handshakes) * 100).toFixed(1)}% resumed,` : '';
      run?.update(Math.round(Math.min(1, fraction) * 1000), {
        label: `${label} | ${p.phase} | ${formatCount(p.handshakes)} handshakes,${share} ${p.errors} errors`,
      });
    },
    endRun() {
      if (run) bars.remove(run);
      run = undefined;
      overall.update(++done);
    },
    stop: () => bars.stop(),
  };
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    openssl: process.versions.openssl,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

interface Scenario {
  protocol: Protocol;
  key: KeyType;
  workers: number;
}

/** Every scenario (protocol, key, worker count), in canonical order. */
function plan(config: LoadConfig): Scenario[] {
  const scenarios: Scenario[] = [];
  for (const protocol of config.protocols) {
    for (const key of config.keys) {
      for (const workers of config.workers) scenarios.push({ protocol, key, workers });
    }
  }
  return scenarios;
}

/** Drives one running server: warm-up, the measured window, then the clients' parts. */
async function measure(
  run: Scenario,
  server: RunningServer,
  pool: Piscina,
  config: LoadConfig,
  bar: Progress,
): Promise<{ parts: ClientPart[]; measurement: Measurement }> {
  const control = new Int32Array(new SharedArrayBuffer(Control.SIZE * Int32Array.BYTES_PER_ELEMENT));
  let failure: unknown;
  const tasks = splitConnections(config.connections, config.clientThreads).map((connections) =>
    (
      pool.run({
        host: HOST,
        port: server.port,
        ports: server.ports,
        protocol: run.protocol,
        groups: config.groups,
        connections,
        returning: config.returning,
        requests: config.requests,
        control: control.buffer as SharedArrayBuffer,
      } satisfies ClientTask) as Promise<ClientPart>
    ).catch((error: unknown) => {
      failure ??= error;
      Atomics.store(control, Control.PHASE, Phase.STOP);
      return undefined;
    }),
  );
  const windowMs = config.durationMs ?? MAX_WINDOW_MS;
  const totalMs = config.warmupMs + windowMs;
  const counts = (phase: string) => ({
    phase,
    handshakes: Atomics.load(control, Control.DONE),
    resumed: Atomics.load(control, Control.RESUMED),
    errors: Atomics.load(control, Control.ERRORS),
  });
  const warmupStart = performance.now();
  while (failure === undefined && performance.now() - warmupStart < config.warmupMs) {
    await sleep(Math.min(POLL_MS, Math.max(1, config.warmupMs - (performance.now() - warmupStart))));
    bar.updateRun((performance.now() - warmupStart) / totalMs, counts('warm-up'));
  }

  // Every process tree that serves (nginx-proxy: nginx and its Node upstream), together.
  const serving = [server.pid, ...(server.otherPids ?? [])];
  const cpuBefore = servingCpuSeconds(serving);
  const clientBefore = process.cpuUsage();
  const start = performance.now();
  Atomics.store(control, Control.PHASE, Phase.MEASURING);
  for (;;) {
    await sleep(POLL_MS);
    const elapsed = performance.now() - start;
    const done = Atomics.load(control, Control.DONE);
    const fraction = config.handshakes !== undefined && config.durationMs === undefined
      ? done / config.handshakes
      : Math.max((config.warmupMs + elapsed) / totalMs, config.handshakes !== undefined ? done / config.handshakes : 0);
    bar.updateRun(fraction, counts('measuring'));
    if (failure !== undefined || elapsed >= windowMs) break;
    if (config.handshakes !== undefined && done >= config.handshakes) break;
  }
  Atomics.store(control, Control.PHASE, Phase.STOP);
  const windowSeconds = (performance.now() - start) / 1000;
  const cpuAfter = servingCpuSeconds(serving);
  const clientCpu = process.cpuUsage(clientBefore);
  const serverMemory = servingMemory(serving);
  const parts = await Promise.all(tasks);
  if (failure !== undefined) throw failure;
  return {
    parts: parts as ClientPart[],
    measurement: {
      windowSeconds,
      connections: config.connections,
      clientThreads: config.clientThreads,
      returning: config.returning,
      serverCpuSeconds: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined,
      serverMemory,
      clientCpuSeconds: (clientCpu.user + clientCpu.system) / 1e6,
      serverCounters: await server.counters(),
    },
  };
}

/** CPU seconds of every serving process tree, or `undefined` when one cannot be read. */
function servingCpuSeconds(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const seconds = treeCpuSeconds(pid);
    if (seconds === undefined) return undefined;
    total += seconds;
  }
  return total;
}

/** Resident memory of every serving process tree, added up. */
function servingMemory(pids: readonly number[]): Measurement['serverMemory'] {
  const total = { rssBytes: 0, peakRssBytes: 0, processes: 0 };
  for (const pid of pids) {
    const memory = treeMemory(pid);
    if (memory === undefined) return undefined;
    total.rssBytes += memory.rssBytes;
    total.peakRssBytes += memory.peakRssBytes;
    total.processes += memory.processes;
  }
  return total;
}

function runLine(r: RunResult): string {
  const share = r.resumptionRatio === null ? 'n/a' : `${(r.resumptionRatio * 100).toFixed(1)}%`;
  const cpu = r.serverCpuSecondsPer1000 === null ? 'n/a' : r.serverCpuSecondsPer1000.toFixed(3);
  return (
    `${r.mode} ${r.protocol} ${r.key} ${r.workers}w: ${formatCount(r.handshakes)} handshakes in ${r.windows} windows, ${r.windowSeconds.toFixed(1)} s, ` +
    `${formatCount(r.handshakesPerSecond)}/s (${formatCount(r.resumedPerSecond)} resumed/s), resumption ${share}, ` +
    `p99 ${r.latency.all.p99Ms.toFixed(2)} ms, server CPU ${cpu} s/1k` +
    (r.requests > 0
      ? `; ${formatCount(r.requests)} requests, ${formatCount(r.requestsPerSecond)}/s, p99 ${r.latency.requests.p99Ms.toFixed(2)} ms, ` +
        `server CPU ${r.serverCpuSecondsPer1000Requests === null ? 'n/a' : r.serverCpuSecondsPer1000Requests.toFixed(3)} s/1k requests`
      : '') +
    (r.errors > 0 ? `, ${r.errors} errors (${r.errorSamples.join('; ')})` : '')
  );
}

async function bench(config: LoadConfig): Promise<number> {
  const started = performance.now();
  const startedAt = new Date();
  const out = resolve(config.out ?? fileURLToPath(new URL('./results/', import.meta.url)));
  const machine = machineInfo();
  const sharing =
    `The client and the server share this machine's ${machine.cores} cores (${config.clientThreads} client threads, ` +
    `the server's workers, this runner): figures are not a server's capacity; compare modes as ratios measured in this same run.`;
  console.log(`Machine: ${machine.cpu}, ${machine.cores} cores (available parallelism ${machine.availableParallelism}), ${machine.memoryGiB} GiB; Node ${machine.node} (OpenSSL ${machine.openssl}); ${machine.platform}`);
  console.log(`Load average at start: ${machine.loadAverage.join(' ')}`);
  console.log(sharing);

  const skipped: Array<{ mode: ModeName; reason: string }> = [];
  const modes = config.modes.filter((mode) => {
    const reason = MODE_SERVERS[mode].unavailable();
    if (reason !== undefined) skipped.push({ mode, reason });
    return reason === undefined;
  });
  for (const { mode, reason } of skipped) console.log(`  note: mode ${mode} skipped: ${reason}`);
  const descriptions = Object.fromEntries(modes.map((mode) => [mode, MODE_SERVERS[mode].describe()]));
  const windowText = [
    config.durationMs !== undefined ? `${config.durationMs / 1000} s` : '',
    config.handshakes !== undefined ? `${formatCount(config.handshakes)} handshakes` : '',
  ].filter(Boolean).join(' or ');
  console.log(
    `Config: ${config.connections} connections on ${config.clientThreads} client threads, ${(config.returning * 100).toFixed(0)}% returning, ` +
      `${config.requests > 0 ? `${config.requests} HTTP/1.1 request${config.requests === 1 ? '' : 's'} per connection` : 'handshakes only'}, ` +
      `${config.rounds} x (${config.warmupMs / 1000} s warm-up + ${windowText}) per mode and scenario; protocols ${config.protocols.join(', ')}; keys ${config.keys.join(', ')}; ` +
      `groups offered ${config.groups ?? "Node's default"}; ` +
      `workers ${config.workers.join(', ')}; modes ${modes.join(', ')}${config.quick ? ' (quick)' : ''}` +
      (modes.some((m) => m === 'cluster' || m === 'cluster-redis') ? `; node:cluster scheduling ${config.clusterScheduling}` : ''),
  );
  for (const mode of modes) console.log(`  ${mode}: ${descriptions[mode]}`);

  const scenarios = plan(config);
  const windows = scenarios.length * modes.length * config.rounds;
  const estimateS = (windows * (config.warmupMs + (config.durationMs ?? 0)) + scenarios.length * modes.length * OVERHEAD_MS) / 1000;
  console.log(
    `${scenarios.length} scenarios x ${modes.length} modes x ${config.rounds} rounds = ${windows} windows, about ${Math.ceil(estimateS)} s` +
      `${config.durationMs === undefined ? ' plus the handshake-bounded windows' : ''}\n`,
  );

  const certificateDir = mkdtempSync(join(os.tmpdir(), 'bench-load-certs-'));
  const certificates = new Map<KeyType, BenchCertificate>();
  for (const key of config.keys) certificates.set(key, await makeCertificate(key, certificateDir));

  const pool = new Piscina({
    filename: new URL('./load-client.ts', import.meta.url).href,
    minThreads: config.clientThreads,
    maxThreads: config.clientThreads,
    concurrentTasksPerWorker: 1,
    atomics: 'disabled',
    idleTimeout: Infinity,
  });
  const bar = progress(windows);
  const results: RunResult[] = [];
  const failures: Array<{ run: string; error: string }> = [];
  const running = new Map<ModeName, RunningServer>();
  const stopAll = async (): Promise<void> => {
    const servers = [...running.values()];
    running.clear();
    await Promise.all(servers.map((server) => server.stop()));
  };
  const interrupt = (): void => {
    bar.stop();
    console.error('\ninterrupted: stopping the servers under test');
    void stopAll().finally(() => {
      rmSync(certificateDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', interrupt);
  const failed = (label: string, error: unknown): void => {
    const message = (error as Error).message ?? String(error);
    failures.push({ run: label, error: message });
    bar.say(`${label}: FAILED: ${message}`);
  };
  for (const scenario of scenarios) {
    const name = `${scenario.protocol} ${scenario.key} ${scenario.workers}w`;
    // Every mode's server of the scenario stays up; the idle ones cost next to nothing.
    for (const mode of modes) {
      try {
        running.set(mode, await MODE_SERVERS[mode].start({ mode, ...scenario, certificate: certificates.get(scenario.key)!, host: HOST, requests: config.requests, clusterScheduling: config.clusterScheduling }));
      } catch (error) {
        failed(`${mode} ${name}`, error);
      }
    }
    const measured = new Map<ModeName, { parts: ClientPart[]; windows: Measurement[] }>();
    for (let round = 0; round < config.rounds; round++) {
      for (const mode of roundOrder(modes, round)) {
        const server = running.get(mode);
        const label = `${mode} ${name} round ${round + 1}/${config.rounds}`;
        bar.startRun(label);
        if (server !== undefined) {
          try {
            const { parts, measurement } = await measure(scenario, server, pool, config, bar);
            const collected = measured.get(mode) ?? { parts: [], windows: [] };
            collected.parts.push(...parts);
            collected.windows.push(measurement);
            measured.set(mode, collected);
          } catch (error) {
            failed(label, error);
          }
        }
        bar.endRun();
      }
    }
    await stopAll();
    for (const mode of modes) {
      const collected = measured.get(mode);
      if (collected === undefined) continue;
      const result = runFigures({ mode, ...scenario }, collected.parts, combineMeasurements(collected.windows), collected.windows.length);
      results.push(result);
      bar.say(runLine(result));
    }
  }
  bar.stop();
  process.off('SIGINT', interrupt);
  await pool.destroy();
  rmSync(certificateDir, { recursive: true, force: true });

  // ---- report --------------------------------------------------------------------
  const comparisons = compareModes(results);
  const targets = checkLoadTargets(results);
  console.log(`\n${formatRunsTable(results)}`);
  console.log(
    '\nhandshakes/s = completed handshakes / measured window; resumed = resumed / handshakes that offered a session; ' +
      'p50/p99/p99.9: handshake latency (connect to secureConnect, all handshakes); CPU s/1k: server process CPU seconds per 1,000 handshakes; ' +
      'RSS: server process(es) resident memory at the end of the window.' +
      (config.requests > 0
        ? ' req/s: HTTP requests answered / window; req p99: request latency (request written to response read, on the open connection); ' +
          'CPU s/1k req: CPU seconds of every serving process (nginx and Node together for nginx-proxy) per 1,000 requests.'
        : ''),
  );
  if (comparisons.length > 0) {
    console.log('\nRatios (same run, same machine):');
    for (const line of formatComparisons(comparisons)) console.log(`  ${line}`);
  }
  if (targets.length > 0) {
    console.log('\nTargets (figures, not tests):');
    for (const t of targets) console.log(t.line);
  }
  for (const f of failures) console.log(`FAILED  ${f.run}: ${f.error}`);
  const elapsedSeconds = (performance.now() - started) / 1000;
  const loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
  console.log(`\n${sharing}`);
  console.log(`Total run time: ${elapsedSeconds.toFixed(1)} s; load average at end: ${loadAverageAtEnd.join(' ')}`);

  const report = {
    benchmark: 'load',
    startedAt: startedAt.toISOString(),
    elapsedSeconds,
    machine: { ...machine, loadAverageAtEnd, nginx: modes.includes('nginx') ? nginxVersion() : undefined },
    sharing,
    config: { ...config, host: HOST },
    modes: descriptions,
    skipped,
    failures,
    runs: results,
    comparisons,
    targets: targets.map(({ line, ...t }) => t),
  };
  mkdirSync(out, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(out, `load-${stamp}.json`), json);
  writeFileSync(join(out, 'load-latest.json'), json);
  const svg = renderChart(chartData(results), {
    title: 'TLS handshakes per mode, measured in one run',
    subtitle:
      `${machine.cpu}, ${machine.cores} cores shared by client and server · Node ${machine.node} · ` +
      `${config.connections} connections, ${(config.returning * 100).toFixed(0)}% returning, ${config.rounds} x ${windowText} per mode · ` +
      `load average ${machine.loadAverage[0]} at start · ${startedAt.toISOString().slice(0, 16)}Z`,
  });
  writeFileSync(join(out, 'load-latest.svg'), svg);
  console.log(`Figures written to ${join(out, `load-${stamp}.json`)}, load-latest.json and load-latest.svg`);
  if (config.chart !== undefined) {
    const chartFile = resolve(config.chart);
    mkdirSync(dirname(chartFile), { recursive: true });
    writeFileSync(chartFile, svg);
    console.log(`Chart written to ${chartFile}`);
  }
  return failures.length > 0 || results.length === 0 ? 1 : 0;
}

await runCommand(USAGE, () => parseLoadArgs(process.argv.slice(2), process.env), bench);
