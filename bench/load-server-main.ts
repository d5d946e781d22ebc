/**
 * A load benchmark server as its own process, so that its CPU time and
 * memory are measured apart from the client's: `shared` on the cluster
 * runtime (`bench/load-server.ts` in every worker thread), `none` and
 * `per-worker` on the bare thread runner (`bench/load-threads.ts`).
 * Started by `bench/load.ts` with an IPC channel and its spec as JSON in
 * `argv[2]`.
 *
 * Messages: it sends `{ type: 'ready', port }` once every worker listens; it
 * answers `{ type: 'counters' }` with what the servers counted (hooks, and
 * the table's statistics for `shared`), and `{ type: 'stop' }` by stopping
 * and exiting 0.
 *
 * @module
 */
import { runThreadCluster } from '../lib/threads/run-cluster.ts';
import type { LoadServerData } from './load-server.ts';
import { startThreads } from './load-threads.ts';

export interface LoadServerSpec extends LoadServerData {
  workers: number;
  host: string;
}

/** `ports`: every port to spread connections over (the `redis` mode's two hosts); `port` alone otherwise. */
export type FromLoadServer = { type: 'ready'; port: number; ports?: number[] } | { type: 'counters'; counters: unknown };
export type ToLoadServer = { type: 'counters' } | { type: 'stop' };

/** Session lifetime of every mode's servers, as the runtime's default (`TLS_CACHE_SESSION_TIMEOUT`, 5m) and nginx's `ssl_session_timeout 5m`. */
const SESSION_TIMEOUT_S = 300;

interface Running {
  port: number;
  counters(): Promise<unknown>;
  stop(): Promise<void>;
}

async function start(spec: LoadServerSpec): Promise<Running | undefined> {
  const { workers, host, ...data } = spec;
  if (data.mode !== 'shared') {
    return startThreads({ ...data, host, sessionTimeout: SESSION_TIMEOUT_S }, workers);
  }
  const cluster = await runThreadCluster({
    server: new URL('./load-server.ts', import.meta.url),
    port: 0,
    host,
    data,
    config: { workers, sessionTimeout: SESSION_TIMEOUT_S, logLevel: 'warn', statsInterval: 0, shutdownTimeout: 1000 },
  });
  if (cluster === undefined) return undefined;
  return {
    port: cluster.port,
    counters: async () => ({ hooks: await cluster.sessionCounters(), table: cluster.table.stats() }),
    stop: () => cluster.stop(),
  };
}

const send = (message: FromLoadServer): void => {
  process.send?.(message);
};
const running = await start(JSON.parse(process.argv[2] ?? '{}') as LoadServerSpec);
if (running === undefined) process.exit(1);
const stop = (): void => {
  running.stop().finally(() => process.exit(0));
};
process.on('message', (message: ToLoadServer) => {
  if (message.type === 'counters') {
    running.counters().then(
      (counters) => send({ type: 'counters', counters }),
      () => send({ type: 'counters', counters: undefined }),
    );
  } else if (message.type === 'stop') {
    stop();
  }
});
// The parent going away must not leave a server behind.
process.on('disconnect', stop);
send({ type: 'ready', port: running.port });
