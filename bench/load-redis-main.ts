/**
 * The load benchmark's Redis modes, each as one process tree, so that its
 * CPU time and memory are measured together: Redis, and two hosts sharing
 * sessions and ticket keys through it (`TLS_CACHE_REDIS_*`), started with
 * different command lines as on two machines. The clients alternate between
 * the two hosts' ports.
 *
 * - `redis`: a private `redis-server` (a free loopback port, no
 *   persistence); each host a `bench/load-server-main.ts` process running
 *   the cluster runtime with its own table and `workers` threads.
 * - `redis-cluster` (`--topology=cluster`): the same hosts on a Redis
 *   Cluster of 3 masters without replicas (`redis-cli --cluster create`),
 *   in `TLS_CACHE_REDIS_MODE=cluster`.
 * - `cluster-redis` (`--hosts=processes`): a `redis-server`; each host a
 *   `node:cluster` app (`bench/load-cluster-main.ts`: a primary and
 *   `workers` worker processes, each with its own Redis connection).
 *
 * Speaks the same IPC as `load-server-main.ts`: `{ type: 'ready', port,
 * ports }` once both hosts listen, `counters` (both hosts'), `stop`.
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/threads/free-port.ts';
import { spawnRedisServer } from './lib/redis-server.ts';
import { startRedisCluster } from './lib/redis-topologies.ts';
import type { FromLoadServer, LoadServerSpec, ToLoadServer } from './load-server-main.ts';

const LOAD_SERVER_MAIN = fileURLToPath(new URL('./load-server-main.ts', import.meta.url));
const LOAD_CLUSTER_MAIN = fileURLToPath(new URL('./load-cluster-main.ts', import.meta.url));
const START_TIMEOUT_MS = 20_000;

/** Where the hosts' Redis is, and how to end it. */
interface RunningRedis {
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function startRedis(topology: string): Promise<RunningRedis> {
  if (topology === 'cluster') {
    const cluster = await startRedisCluster({ replicas: 0 });
    return { env: { TLS_CACHE_REDIS_URL: cluster.url, TLS_CACHE_REDIS_MODE: 'cluster' }, stop: () => cluster.stop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const port = await freePort('127.0.0.1');
  const child = await spawnRedisServer({ port, dir, timeoutMs: START_TIMEOUT_MS });
  return {
    env: { TLS_CACHE_REDIS_URL: `redis://127.0.0.1:${port}` },
    async stop() {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Host {
  child: ChildProcess;
  port: number;
}

function startHost(script: string, spec: LoadServerSpec, env: NodeJS.ProcessEnv, name: string): Promise<Host> {
  const child = fork(script, [JSON.stringify(spec), `--bench-host=${name}`], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${name} exited (${signal ?? code}) before listening`)));
    child.on('message', (message: FromLoadServer) => {
      if (message.type === 'ready') resolve({ child, port: message.port });
    });
  });
}

function ask(host: Host): Promise<unknown> {
  return new Promise((resolve) => {
    const wait = setTimeout(() => resolve(undefined), 2000);
    const onMessage = (reply: FromLoadServer): void => {
      if (reply.type !== 'counters') return;
      clearTimeout(wait);
      host.child.off('message', onMessage);
      resolve(reply.counters);
    };
    host.child.on('message', onMessage);
    host.child.send({ type: 'counters' } satisfies ToLoadServer);
  });
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadServerSpec;
const option = (name: string, fallback: string): string =>
  process.argv.slice(3).find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const hostScript = option('hosts', 'threads') === 'processes' ? LOAD_CLUSTER_MAIN : LOAD_SERVER_MAIN;
const redis = await startRedis(option('topology', 'standalone'));
const env = {
  ...process.env,
  ...redis.env,
  // A secret for this run only.
  TLS_CACHE_REDIS_SECRET: randomBytes(32).toString('base64'),
  TLS_CACHE_REDIS_NAMESPACE: 'bench',
};
let hosts: Host[] = [];
const stop = async (): Promise<void> => {
  await Promise.all(
    hosts.map(
      (host) =>
        new Promise<void>((resolve) => {
          if (host.child.exitCode !== null) return resolve();
          host.child.once('exit', () => resolve());
          host.child.send({ type: 'stop' } satisfies ToLoadServer);
        }),
    ),
  );
  await redis.stop();
  process.exit(0);
};
const started = await Promise.allSettled([
  startHost(hostScript, { ...spec, mode: 'shared' }, env, 'a'),
  startHost(hostScript, { ...spec, mode: 'shared' }, env, 'b'),
]);
hosts = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
const failure = started.find((result) => result.status === 'rejected');
if (failure !== undefined) {
  process.stderr.write(`load-redis-main: could not start: ${(failure.reason as Error).message}\n`);
  for (const host of hosts) host.child.kill('SIGKILL');
  await redis.stop();
  process.exit(1);
}
process.on('message', (message: ToLoadServer) => {
  if (message.type === 'counters') {
    Promise.all(hosts.map(ask)).then((counters) => process.send?.({ type: 'counters', counters: { hosts: counters } } satisfies FromLoadServer));
  } else if (message.type === 'stop') {
    void stop();
  }
});
process.on('disconnect', () => void stop());
process.send?.({ type: 'ready', port: hosts[0].port, ports: hosts.map((host) => host.port) } satisfies FromLoadServer);
