/**
 * "Hosts" for the Redis tests: each a separate process running the cluster
 * runtime (test/fixtures/run-cluster.ts, a TLS server) with its own table
 * and worker threads, on its own port, all sharing one Redis. Started with
 * different command lines, as on different machines.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCertificate } from '../../examples/certificate.ts';
import { freePort, run } from '../fixtures/process.ts';

const HOST_SCRIPT = new URL('../fixtures/run-cluster.ts', import.meta.url).pathname;

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface Host {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Parsed JSON log lines from standard output so far (primary and worker threads). */
  readonly logs: Array<Record<string, unknown>>;
  /** Everything written to standard output and standard error so far. */
  output(): string;
  /** Waits for a log line matching; rejects after `ms` or if the process exits. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, ms?: number, from?: number): Promise<Record<string, unknown>>;
  /** SIGTERM, then resolves when it exited. */
  stop(): Promise<void>;
}

/** A self-signed certificate in PEM files, shared by every host (as a real deployment's would be). */
export async function certificateFiles(t: Teardown): Promise<{ TLS_CACHE_CERT: string; TLS_CACHE_KEY: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-cert-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = await loadCertificate({});
  writeFileSync(join(dir, 'cert.pem'), cert);
  writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
  return { TLS_CACHE_CERT: join(dir, 'cert.pem'), TLS_CACHE_KEY: join(dir, 'key.pem') };
}

/**
 * Starts a host: `node run-cluster.ts ...args` (a TLS server) in a clean
 * environment plus `env`, on a free port; resolves once it logged
 * `listening`. Killed at teardown.
 */
export async function startHost(t: Teardown, name: string, env: Record<string, string>, args: string[] = []): Promise<Host> {
  const port = await freePort();
  const running = run(HOST_SCRIPT, { KIND: 'tls', PORT: String(port), ...env }, args);
  const { child, logs, output, exited } = running;
  t.teardown(async () => {
    running.kill();
    await exited;
  });
  const host: Host = {
    name,
    port,
    child,
    logs,
    output,
    async waitForLog(match, ms = 15_000, from = 0) {
      const deadline = Date.now() + ms;
      for (;;) {
        const line = logs.slice(from).find(match);
        if (line) return line;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited; output: ${output().slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`${name}: no such log line within ${ms} ms; output: ${output().slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
  await host.waitForLog((line) => line.msg === 'listening', 30_000);
  return host;
}
