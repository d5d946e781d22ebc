/**
 * The load benchmark's `cluster` mode: a `node:cluster` app written the
 * ordinary way (the primary forks N worker processes, each listening on the
 * same port; scheduling as `NODE_CLUSTER_SCHED_POLICY` says, set from
 * `--cluster-scheduling`), with this project's one call
 * in the primary (`startClusterCache()`) and one attach in each worker
 * (`attachSharedCache(server)`): sessions by ID through the primary's table
 * over its Unix socket (and each worker's local copy), ticket keys pushed to
 * every process.
 *
 * Started by `bench/load.ts` like `bench/load-server-main.ts` (an IPC
 * channel, the spec as JSON in `argv[2]`): it sends `{ type: 'ready', port }`
 * once every worker listens, answers `{ type: 'counters' }` with the
 * cache's totals, and `{ type: 'stop' }` by stopping.
 *
 * @module
 */
import cluster from 'node:cluster';
import { attachSharedCache, sharedCacheServerOptions } from '../lib/processes/attach-shared-cache.ts';
import { freePort } from '../lib/threads/free-port.ts';
import { startClusterCache } from '../lib/processes/cluster-cache.ts';
import type { FromLoadServer, LoadServerSpec, ToLoadServer } from './load-server-main.ts';
import { createBenchServer } from './load-server.ts';

/** Session lifetime of every mode's servers (the runtime's default, nginx's `ssl_session_timeout 5m`). */
const SESSION_TIMEOUT = '300';

if (cluster.isPrimary) {
  const spec = JSON.parse(process.argv[2] ?? '{}') as LoadServerSpec;
  const port = await freePort(spec.host);
  const cache = await startClusterCache({
    env: { ...process.env, TLS_CACHE_SESSION_TIMEOUT: SESSION_TIMEOUT, TLS_CACHE_LOG_LEVEL: 'warn', TLS_CACHE_STATS_INTERVAL: '0', TLS_CACHE_SUMMARY_INTERVAL: '0' },
  });
  const env = {
    TLS_CACHE_SESSION_TIMEOUT: SESSION_TIMEOUT,
    TLS_CACHE_LOG_LEVEL: 'warn',
    BENCH_CLUSTER_SPEC: JSON.stringify({ ...spec, port }),
  };
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === spec.workers) process.send?.({ type: 'ready', port } satisfies FromLoadServer);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (!stopping) process.stderr.write(`cluster mode: worker ${worker.process.pid} exited (${signal ?? code})\n`);
  });
  for (let i = 0; i < spec.workers; i++) cluster.fork(env);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    cache.close().finally(() => process.exit(0));
  };
  process.on('message', (message: ToLoadServer) => {
    if (message.type === 'counters') {
      cache.metrics().then(
        () =>
          process.send?.({
            type: 'counters',
            counters: { counters: cache.counters.values(), table: cache.table.stats(), scheduling: cluster.schedulingPolicy === cluster.SCHED_NONE ? 'none' : 'rr' },
          } satisfies FromLoadServer),
        () => process.send?.({ type: 'counters', counters: undefined } satisfies FromLoadServer),
      );
    } else if (message.type === 'stop') {
      stop();
    }
  });
  // The benchmark going away must not leave a server behind.
  process.on('disconnect', stop);
} else {
  const spec = JSON.parse(process.env.BENCH_CLUSTER_SPEC ?? '{}') as LoadServerSpec & { port: number };
  // The bench's own server (handshakes, or HTTPS with --requests); attachSharedCache() adds the cache.
  const { server } = createBenchServer({ ...spec, mode: 'none' }, sharedCacheServerOptions());
  await attachSharedCache(server);
  server.listen(spec.port, spec.host);
}
