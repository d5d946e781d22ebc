/**
 * A bare worker-thread server runner for the `none` and `per-worker` modes
 * of the load benchmark: `workers` threads, each with its own
 * `createBenchServer()` listening on one port with `reusePort` (as the
 * cluster runtime does, without anything shared). In `upstream` mode (the
 * Node side of `nginx-proxy`) each thread serves `createPlainServer()`:
 * the same answer over plain HTTP.
 *
 * In the main thread: {@link startThreads}. As a worker thread: makes and
 * runs one server, posts `listening`, answers `counters` with its hooks'
 * counters.
 *
 * @module
 */
import { freePort } from '../lib/threads/free-port.ts';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { addSessionHookCounters, emptySessionHookCounters, type SessionHookCounters } from '../lib/tls/session-hooks.ts';
import { createBenchServer, createPlainServer, type LoadServerData } from './load-server.ts';

export interface ThreadServerData extends LoadServerData {
  host: string;
  port: number;
  sessionTimeout: number;
}

type FromThread = { type: 'listening' } | { type: 'counters'; counters: SessionHookCounters | undefined };

export interface ThreadServers {
  port: number;
  /** The hook counters of every thread, summed (`per-worker` only). */
  counters(): Promise<SessionHookCounters | undefined>;
  stop(): Promise<void>;
}

export async function startThreads(data: Omit<ThreadServerData, 'port'>, workers: number): Promise<ThreadServers> {
  const port = await freePort(data.host);
  const threads = Array.from({ length: workers }, () => new Worker(new URL(import.meta.url), { workerData: { ...data, port } satisfies ThreadServerData }));
  try {
    await Promise.all(
      threads.map(
        (thread) =>
          new Promise<void>((resolve, reject) => {
            thread.once('error', reject);
            thread.once('exit', (code) => reject(new Error(`server thread exited (${code}) before listening`)));
            thread.once('message', (message: FromThread) => {
              if (message.type === 'listening') resolve();
            });
          }),
      ),
    );
  } catch (error) {
    await Promise.all(threads.map((thread) => thread.terminate()));
    throw error;
  }
  let stopping = false;
  for (const [index, thread] of threads.entries()) {
    thread.removeAllListeners('exit').removeAllListeners('error');
    // A thread lost mid-run leaves fewer workers serving: say so rather than measure it silently.
    thread.on('error', (error) => process.stderr.write(`load-threads: server thread ${index + 1} failed: ${error.message}\n`));
    thread.on('exit', (code) => {
      if (!stopping) process.stderr.write(`load-threads: server thread ${index + 1} exited (${code}) during the run\n`);
    });
  }
  return {
    port,
    async counters() {
      if (data.mode !== 'per-worker') return undefined;
      const answers = await Promise.all(
        threads.map(
          (thread) =>
            new Promise<SessionHookCounters | undefined>((resolve) => {
              const timer = setTimeout(() => resolve(undefined), 1000);
              const onMessage = (message: FromThread): void => {
                if (message.type !== 'counters') return;
                clearTimeout(timer);
                thread.off('message', onMessage);
                resolve(message.counters);
              };
              thread.on('message', onMessage);
              thread.postMessage('counters');
            }),
        ),
      );
      const total = emptySessionHookCounters();
      for (const counters of answers) if (counters) addSessionHookCounters(total, counters);
      return total;
    },
    async stop() {
      stopping = true;
      await Promise.all(threads.map((thread) => thread.terminate()));
    },
  };
}

if (!isMainThread && parentPort !== null) {
  const data = workerData as ThreadServerData;
  const port = parentPort;
  const { server, binding } = data.mode === 'upstream'
    ? { server: createPlainServer(), binding: undefined }
    : createBenchServer(data, { sessionTimeout: data.sessionTimeout });
  server.listen({ port: data.port, host: data.host, reusePort: true }, () => port.postMessage({ type: 'listening' } satisfies FromThread));
  port.on('message', () => port.postMessage({ type: 'counters', counters: binding ? { ...binding.counters } : undefined } satisfies FromThread));
}
