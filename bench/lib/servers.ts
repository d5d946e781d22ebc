/**
 * Starting and stopping the server under test, one process per run: the
 * Node modes through `bench/load-server-main.ts` (the cluster runtime),
 * `nginx` with a generated configuration in a temporary directory, and
 * `nginx-proxy`: nginx terminating TLS in front of the Node server module
 * served as plain HTTP on as many worker threads (two process trees,
 * measured together). Adding a mode is adding an entry to
 * {@link MODE_SERVERS}.
 *
 * @module
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { freePort } from '../../lib/threads/free-port.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromLoadServer, LoadServerSpec, ToLoadServer } from '../load-server-main.ts';
import type { NodeMode } from '../load-server.ts';
import type { BenchCertificate } from './certificates.ts';
import { isTls13, type ClusterScheduling, type ModeName, type Protocol } from './load-args.ts';

interface ServerSpec {
  mode: ModeName;
  protocol: Protocol;
  workers: number;
  certificate: BenchCertificate;
  host: string;
  /** HTTP/1.1 requests per connection (`--requests`): above 0, the Node modes serve HTTPS. */
  requests: number;
  /** How the `node:cluster` modes' primaries hand connections to their workers (`--cluster-scheduling`, `NODE_CLUSTER_SCHED_POLICY`). */
  clusterScheduling: ClusterScheduling;
}

export interface RunningServer {
  /** The process whose tree's CPU time and memory are the server's. */
  pid: number;
  /** Other process trees that serve too, measured with it (`nginx-proxy`: the Node upstream). */
  otherPids?: number[];
  port: number;
  /** Every port, when the mode serves on several (the `redis` mode's two hosts): clients alternate between them. */
  ports?: number[];
  /** What the server counted itself (hooks, table), when it can tell. */
  counters(): Promise<unknown>;
  stop(): Promise<void>;
}

export interface ModeServer {
  /** Why the mode cannot run here, or `undefined` when it can. */
  unavailable(): string | undefined;
  /** One line for the report: what the mode is. */
  describe(): string;
  start(spec: ServerSpec): Promise<RunningServer>;
}

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;

const LOAD_SERVER_MAIN = fileURLToPath(new URL('../load-server-main.ts', import.meta.url));
const LOAD_REDIS_MAIN = fileURLToPath(new URL('../load-redis-main.ts', import.meta.url));
const LOAD_CLUSTER_MAIN = fileURLToPath(new URL('../load-cluster-main.ts', import.meta.url));

/** Keeps the last few KiB a child wrote, to explain a failure. */
function tail(child: ChildProcess): () => string {
  let text = '';
  const keep = (chunk: Buffer): void => {
    text = (text + chunk.toString()).slice(-4096);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => {
    // The runtime's own one-line reason, when it gave one; else the end of the output.
    const reason = text.split('\n').reverse().find((line) => line.includes('could not start:'));
    return (reason ?? text).trim().slice(-600);
  };
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Asks politely, then SIGKILL after {@link STOP_TIMEOUT_MS}. */
async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  const gone = exited(child);
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await gone;
  clearTimeout(timer);
}

function nodeModeServer(
  mode: NodeMode,
  description: string,
  script = LOAD_SERVER_MAIN,
  unavailable: () => string | undefined = () => undefined,
  args: readonly string[] = [],
): ModeServer {
  return {
    unavailable,
    describe: () => description,
    start(spec) {
      const serverSpec: LoadServerSpec = {
        mode,
        protocol: spec.protocol,
        cert: spec.certificate.cert,
        key: spec.certificate.key,
        workers: spec.workers,
        host: spec.host,
        ...(spec.requests > 0 ? { http: true } : {}),
      };
      // Read by the cluster module of a node:cluster primary (the cluster modes); the thread modes fork no processes.
      const env = { ...process.env, NODE_CLUSTER_SCHED_POLICY: spec.clusterScheduling };
      const child = fork(script, [JSON.stringify(serverSpec), ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env });
      const output = tail(child);
      return new Promise<RunningServer>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${mode} server did not start within ${START_TIMEOUT_MS} ms: ${output()}`));
        }, START_TIMEOUT_MS);
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${mode} server exited (${signal ?? code}) before listening: ${output()}`));
        });
        child.once('message', (message: FromLoadServer) => {
          if (message.type !== 'ready') return;
          clearTimeout(timer);
          resolve({
            pid: child.pid!,
            port: message.port,
            ports: message.ports,
            counters: () =>
              new Promise((answer) => {
                const wait = setTimeout(() => answer(undefined), 2000);
                const onMessage = (reply: FromLoadServer): void => {
                  if (reply.type !== 'counters') return;
                  clearTimeout(wait);
                  child.off('message', onMessage);
                  answer(reply.counters);
                };
                child.on('message', onMessage);
                child.send({ type: 'counters' } satisfies ToLoadServer);
              }),
            stop: () => stopChild(child, () => child.send({ type: 'stop' } satisfies ToLoadServer)),
          });
        });
      });
    },
  };
}

/** nginx's version (`nginx -v` writes it to standard error), or `undefined` when nginx is not on the PATH. */
export function nginxVersion(): string | undefined {
  try {
    const out = execFileSync('sh', ['-c', 'nginx -v 2>&1'], { encoding: 'utf8' }).trim();
    return out.startsWith('nginx') ? out.replace(/^nginx version:\s*/, '') : undefined;
  } catch {
    return undefined;
  }
}

/** The nginx configuration of one run (pure, tested). */
export function nginxConfig(options: {
  workers: number;
  port: number;
  host: string;
  protocol: Protocol;
  certFile: string;
  keyFile: string;
  directory: string;
  /**
   * `nginx-proxy`: the port of the Node upstream (plain HTTP on the same
   * host), proxied with HTTP/1.1 and upstream keep-alive; nginx answers
   * `ok` itself when absent.
   */
  upstreamPort?: number;
}): string {
  const tickets = options.protocol === 'tls12-id' ? 'off' : 'on';
  const protocols = isTls13(options.protocol) ? 'TLSv1.3' : 'TLSv1.2';
  // Keep-alive to the upstream: idle connections kept per worker process (enough for the benchmark's clients).
  const upstream = options.upstreamPort === undefined
    ? ''
    : `    upstream node_upstream {
        server ${options.host}:${options.upstreamPort};
        keepalive 64;
    }
`;
  const location = options.upstreamPort === undefined
    ? `            return 200 "ok\\n";`
    : `            proxy_pass http://node_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";`;
  return `# Generated by bench/load.ts for one run; deleted afterwards.
daemon off;
master_process on;
worker_processes ${options.workers};
pid ${join(options.directory, 'nginx.pid')};
error_log ${join(options.directory, 'error.log')} warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path ${join(options.directory, 'client_body')};
    proxy_temp_path ${join(options.directory, 'proxy')};
    fastcgi_temp_path ${join(options.directory, 'fastcgi')};
    uwsgi_temp_path ${join(options.directory, 'uwsgi')};
    scgi_temp_path ${join(options.directory, 'scgi')};
${upstream}    server {
        listen ${options.host}:${options.port} ssl;
        ssl_certificate ${options.certFile};
        ssl_certificate_key ${options.keyFile};
        ssl_protocols ${protocols};
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 5m;
        ssl_session_tickets ${tickets};
        location / {
${location}
        }
    }
}
`;
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts nginx for `spec` (answering `ok` itself, or proxying to `upstreamPort`). */
async function startNginx(spec: ServerSpec, upstreamPort?: number): Promise<RunningServer> {
  const directory = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  const port = await freePort(spec.host);
  const configFile = join(directory, 'nginx.conf');
  writeFileSync(
    configFile,
    nginxConfig({
      workers: spec.workers,
      port,
      host: spec.host,
      protocol: spec.protocol,
      certFile: spec.certificate.certFile,
      keyFile: spec.certificate.keyFile,
      directory,
      upstreamPort,
    }),
  );
  const child = spawn('nginx', ['-p', directory, '-c', configFile, '-e', join(directory, 'error.log')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = tail(child);
  const errorLog = (): string => {
    try {
      return readFileSync(join(directory, 'error.log'), 'utf8').trim().slice(-2048);
    } catch {
      return '';
    }
  };
  const cleanUp = (): void => rmSync(directory, { recursive: true, force: true });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await canConnect(spec.host, port))) {
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const why = `${output()} ${errorLog()}`.trim();
      cleanUp();
      throw new Error(`nginx did not start: ${why || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    pid: child.pid!,
    port,
    counters: async () => undefined,
    async stop() {
      // SIGTERM: nginx's fast shutdown (SIGQUIT would wait for connections).
      await stopChild(child, () => child.kill('SIGTERM'));
      cleanUp();
    },
  };
}

const nginxUnavailable = (): string | undefined => (nginxVersion() === undefined ? 'nginx is not on the PATH' : undefined);

const nginxServer: ModeServer = {
  unavailable: nginxUnavailable,
  describe: () => `${nginxVersion() ?? 'nginx'}: master and worker processes, ssl_session_cache shared:SSL:10m, ssl_session_timeout 5m`,
  start: (spec) => startNginx(spec),
};

/** The Node side of `nginx-proxy`: the bench server module as plain HTTP on the bare thread runner. */
const upstreamServer = nodeModeServer('upstream', 'plain HTTP upstream');

const nginxProxyServer: ModeServer = {
  unavailable: nginxUnavailable,
  describe: () =>
    `${nginxVersion() ?? 'nginx'} terminating TLS as in nginx (as many worker processes), proxying HTTP/1.1 with upstream keep-alive ` +
    'to the same Node server module served as plain HTTP on as many worker threads (reusePort); both process trees measured together',
  async start(spec) {
    const upstream = await upstreamServer.start(spec);
    try {
      const nginx = await startNginx(spec, upstream.port);
      return {
        pid: nginx.pid,
        otherPids: [upstream.pid],
        port: nginx.port,
        counters: async () => undefined,
        async stop() {
          await Promise.all([nginx.stop(), upstream.stop()]);
        },
      };
    } catch (error) {
      await upstream.stop();
      throw error;
    }
  },
};

export const MODE_SERVERS: Readonly<Record<ModeName, ModeServer>> = {
  none: nodeModeServer('none', "Node's defaults: no session hooks, tickets with per-thread keys (worker threads, reusePort)"),
  'per-worker': nodeModeServer('per-worker', 'a Map in each worker thread behind the session hooks, tickets with per-thread keys'),
  shared: nodeModeServer('shared', 'this project: the cluster runtime, its shared table (and ticket keys, when it shares them)'),
  nginx: nginxServer,
  'nginx-proxy': nginxProxyServer,
  redis: nodeModeServer(
    'shared',
    'this project on two hosts: two server processes (each the cluster runtime, its own table and worker threads) sharing sessions and ticket keys through one local redis-server; clients alternate between them',
    LOAD_REDIS_MAIN,
    () => (redisServerVersion() === undefined ? 'redis-server is not on the PATH' : undefined),
  ),
  cluster: nodeModeServer(
    'shared',
    'this project for node:cluster apps: worker processes (scheduling as --cluster-scheduling says), the table in the primary reached over its Unix socket with a local copy per process, ticket keys pushed to every process',
    LOAD_CLUSTER_MAIN,
  ),
  'redis-cluster': nodeModeServer(
    'shared',
    'this project on two hosts as in redis, sharing a Redis Cluster of 3 masters (no replicas; redis-cli --cluster create) in TLS_CACHE_REDIS_MODE=cluster; clients alternate between them',
    LOAD_REDIS_MAIN,
    () => (redisServerVersion() === undefined ? 'redis-server is not on the PATH' : !onPath('redis-cli') ? 'redis-cli is not on the PATH' : undefined),
    ['--topology=cluster'],
  ),
  'cluster-redis': nodeModeServer(
    'shared',
    'this project on two hosts, each a node:cluster app as in cluster (a primary and worker processes, each process with its own Redis connection), sharing one local redis-server; clients alternate between them',
    LOAD_REDIS_MAIN,
    () => (redisServerVersion() === undefined ? 'redis-server is not on the PATH' : undefined),
    ['--hosts=processes'],
  ),
};

/** Whether `command` is an executable on the PATH. */
function onPath(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** redis-server's version, or `undefined` when it is not on the PATH. */
export function redisServerVersion(): string | undefined {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
    return /v=(\S+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}
