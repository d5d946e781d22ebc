/**
 * Starts `test/fixtures/cluster-app.ts` (a node:cluster primary and its
 * worker processes) as a real process for a test, with a development
 * certificate in files, and talks to its primary.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCertificate } from '../../examples/certificate.ts';
import { COMPILE_CACHE, freePort } from '../fixtures/process.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/cluster-app.ts', import.meta.url));

export interface ClusterApp {
  child: ChildProcess;
  port: number;
  pids: number[];
  /** Standard output so far (pino lines of every process). */
  output(): string;
  /** Sends a request to the primary and waits for its answer of the same type. */
  ask<T = Record<string, unknown>>(type: string): Promise<T>;
  exited: Promise<number | string>;
  kill(): Promise<void>;
}

let certificateFiles: Promise<{ TLS_CACHE_CERT: string; TLS_CACHE_KEY: string; directory: string }> | undefined;

async function files(): Promise<{ TLS_CACHE_CERT: string; TLS_CACHE_KEY: string; directory: string }> {
  const certificate = await loadCertificate({});
  const directory = await mkdtemp(join(tmpdir(), 'cluster-app-test-'));
  await writeFile(join(directory, 'cert.pem'), certificate.cert, { mode: 0o600 });
  await writeFile(join(directory, 'key.pem'), certificate.key, { mode: 0o600 });
  return { TLS_CACHE_CERT: join(directory, 'cert.pem'), TLS_CACHE_KEY: join(directory, 'key.pem'), directory };
}

/** Removes the certificate files (call from the test file's teardown). */
export async function removeCertificateFiles(): Promise<void> {
  if (certificateFiles === undefined) return;
  const { directory } = await certificateFiles;
  await rm(directory, { recursive: true, force: true });
}

export async function startClusterApp(env: Record<string, string> = {}): Promise<ClusterApp> {
  certificateFiles ??= files();
  const { TLS_CACHE_CERT, TLS_CACHE_KEY } = await certificateFiles;
  const port = env.PORT !== undefined ? Number(env.PORT) : await freePort();
  const child = fork(FIXTURE, [], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/',
      NODE_COMPILE_CACHE: COMPILE_CACHE,
      PORT: String(port),
      WORKERS: '4',
      TLS_CACHE_CERT,
      TLS_CACHE_KEY,
      TLS_CACHE_LOG_LEVEL: 'info',
      TLS_CACHE_SUMMARY_INTERVAL: '0',
      ...env,
    },
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ready = await new Promise<{ pids: number[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster app did not start: ${output.slice(-2000)}`)), 30_000);
    child.on('message', (message: { type?: string; pids?: number[] }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve({ pids: message.pids! });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the cluster app exited (${code}) before it was ready: ${output.slice(-2000)}`));
    });
  });
  return {
    child,
    port,
    pids: ready.pids,
    output: () => output,
    exited,
    ask<T>(type: string): Promise<T> {
      return new Promise((resolve) => {
        const onMessage = (message: { type?: string }): void => {
          if (message.type !== type) return;
          child.off('message', onMessage);
          resolve(message as T);
        };
        child.on('message', onMessage);
        child.send({ type });
      });
    },
    async kill() {
      for (const pid of ready.pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone already
        }
      }
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid!, 'SIGCONT');
        } catch {
          // gone already
        }
        child.kill('SIGKILL');
      }
      await exited;
      // Worker processes exit when their primary's channel closes; make sure.
      for (const pid of ready.pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    },
  };
}
