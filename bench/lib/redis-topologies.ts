/**
 * Real Redis topologies on loopback, for the tests and the load benchmark:
 * a Redis Cluster made with `redis-cli --cluster create` (3 masters, each
 * with a replica or not), and a Sentinel setup (a master, a replica, one
 * sentinel). Every server runs in a temporary directory of its own,
 * without persistence, as a child of this process; `stop()` SIGKILLs them
 * all and removes the directories.
 *
 * Timings on the project's 2-core machine: a cluster of 6 nodes is ready
 * (every slot served, every replica linked) 2.05 to 2.3 s after start, of
 * which 2 s is Redis's own delay before a new cluster takes writes; with
 * `--cluster-node-timeout 1000` a SIGKILLed master's replica serves its
 * slots 1.9 to 2.9 s later. Sentinel: with `down-after-milliseconds 500`
 * the replica is promoted 0.54 to 0.59 s after the master is killed, and
 * the sentinel names it 0.6 to 1.1 s after.
 *
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../lib/threads/free-port.ts';

const execFileAsync = promisify(execFile);

/** One redis-server (or redis-sentinel) of a topology. */
interface TopologyNode {
  readonly port: number;
  readonly child: ChildProcess;
  readonly dir: string;
}

/** A running Redis Cluster. */
export interface RedisClusterHandle {
  /** Every node, masters first as created (their roles change with failovers). */
  readonly nodes: TopologyNode[];
  /** `TLS_CACHE_REDIS_URL` for it: the first three nodes as seeds. */
  readonly url: string;
  /** The hash slot of `key` (`CLUSTER KEYSLOT`). */
  slotOf(key: string): Promise<number>;
  /** Ports of the nodes that are masters now, with their slot ranges, asked of a live node. */
  masters(): Promise<Array<{ port: number; slots: Array<[number, number]> }>>;
  /**
   * SIGKILLs the master serving `slot`; resolves once another node serves
   * it and the cluster is whole again (`cluster_state:ok`), with how long
   * that took.
   */
  killMaster(slot: number): Promise<{ killed: number; promoted: number; ms: number }>;
  stop(): Promise<void>;
}

/** A running master, replica and sentinel. */
export interface RedisSentinelHandle {
  /** `TLS_CACHE_REDIS_URL` for it: the sentinel's URL. */
  readonly url: string;
  readonly name: string;
  readonly master: TopologyNode;
  readonly replica: TopologyNode;
  readonly sentinel: TopologyNode;
  /** SIGKILLs the master; resolves once the sentinel names the replica as master, with how long that took. */
  killMaster(): Promise<number>;
  stop(): Promise<void>;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  return (await execFileAsync('redis-cli', ['-p', String(port), ...args])).stdout.trim();
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`redis topology: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort('127.0.0.1');
    if (port + 10_000 > 65_535) continue;
    const busFree = await new Promise<boolean>((resolve) => {
      const server = createServer()
        .once('error', () => resolve(false))
        .listen(port + 10_000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (busFree) return port;
  }
}

function alive(node: TopologyNode): boolean {
  return node.child.exitCode === null && node.child.signalCode === null;
}

async function killAll(nodes: TopologyNode[], root: string): Promise<void> {
  await Promise.all(
    nodes.map(
      (node) =>
        new Promise<void>((resolve) => {
          if (!alive(node)) return resolve();
          node.child.once('exit', () => resolve());
          node.child.kill('SIGKILL');
        }),
    ),
  );
  rmSync(root, { recursive: true, force: true });
}

const COMMON = (dir: string): string[] => ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0', '--dir', dir, '--logfile', join(dir, 'redis.log')];

/**
 * Starts a Redis Cluster of 3 masters (each with `replicas` replicas, 0 or
 * 1) and resolves once every slot is served and every replica linked.
 * `nodeTimeout` is Redis's `cluster-node-timeout` (how soon a failed master
 * is replaced).
 */
export async function startRedisCluster(options: { replicas?: 0 | 1; nodeTimeout?: number } = {}): Promise<RedisClusterHandle> {
  const { replicas = 1, nodeTimeout = 1000 } = options;
  const root = mkdtempSync(join(tmpdir(), 'tls-cache-redis-cluster-'));
  const nodes: TopologyNode[] = [];
  try {
    for (let i = 0; i < 3 * (1 + replicas); i++) {
      const port = await freeClusterPort();
      const dir = join(root, String(port));
      mkdirSync(dir);
      const child = spawn('redis-server', ['--port', String(port), '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-node-timeout', String(nodeTimeout), '--cluster-require-full-coverage', 'no', ...COMMON(dir)], { stdio: 'ignore' });
      nodes.push({ port, child, dir });
    }
    for (const node of nodes) await until(`PING on ${node.port}`, async () => (await cli(node.port, 'ping')) === 'PONG');
    await execFileAsync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes']);
    for (const node of nodes) await until(`cluster_state:ok on ${node.port}`, async () => (await cli(node.port, 'cluster', 'info')).includes('cluster_state:ok'));
    if (replicas > 0) {
      for (const node of nodes) await until(`replication on ${node.port}`, async () => /role:master|master_link_status:up/.test(await cli(node.port, 'info', 'replication')));
    }
  } catch (error) {
    await killAll(nodes, root);
    throw error;
  }
  const live = (): TopologyNode => nodes.find(alive)!;
  const masters = async (via = live().port): Promise<Array<{ port: number; slots: Array<[number, number]> }>> =>
    (await cli(via, 'cluster', 'nodes'))
      .split('\n')
      .map((line) => line.split(' '))
      .filter((fields) => fields[2]?.includes('master') && !fields[2].includes('fail') && fields.length > 8)
      .map((fields) => ({
        port: Number(fields[1].split('@')[0].split(':').at(-1)),
        slots: fields.slice(8).filter((range) => /^\d/.test(range)).map((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return [from, to] as [number, number];
        }),
      }));
  const masterOf = async (slot: number, via?: number): Promise<number | undefined> =>
    (await masters(via)).find((m) => m.slots.some(([from, to]) => slot >= from && slot <= to))?.port;
  return {
    nodes,
    url: nodes.slice(0, 3).map((n) => `redis://127.0.0.1:${n.port}`).join(','),
    masters: () => masters(),
    slotOf: async (key) => Number(await cli(live().port, 'cluster', 'keyslot', key)),
    async killMaster(slot) {
      const killed = (await masterOf(slot))!;
      const node = nodes.find((n) => n.port === killed)!;
      const started = Date.now();
      node.child.kill('SIGKILL');
      const other = nodes.find((n) => n !== node && alive(n))!.port;
      let promoted = 0;
      await until('a replica to take the slots over', async () => {
        promoted = (await masterOf(slot, other)) ?? killed;
        return promoted !== killed && (await cli(other, 'cluster', 'info')).includes('cluster_state:ok');
      });
      return { killed, promoted, ms: Date.now() - started };
    },
    stop: () => killAll(nodes, root),
  };
}

/**
 * Starts a master, its replica, and one sentinel monitoring them as `name`
 * (quorum 1, `down-after-milliseconds` `downAfter`), and resolves once the
 * sentinel knows the replica (it learns of it from the master's INFO, which
 * it reads every 10 s: it starts once the replica is linked, so it finds it
 * at once).
 */
export async function startRedisSentinel(options: { name?: string; downAfter?: number; failoverTimeout?: number } = {}): Promise<RedisSentinelHandle> {
  const { name = 'mymaster', downAfter = 500, failoverTimeout = 2000 } = options;
  const root = mkdtempSync(join(tmpdir(), 'tls-cache-redis-sentinel-'));
  const started: TopologyNode[] = [];
  const node = (role: string, port: number, binary: string, args: (dir: string) => string[]): TopologyNode => {
    const dir = join(root, role);
    mkdirSync(dir, { recursive: true });
    const child = spawn(binary, args(dir), { stdio: 'ignore' });
    const made = { port, child, dir };
    started.push(made);
    return made;
  };
  try {
    const [masterPort, replicaPort, sentinelPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    const master = node('master', masterPort, 'redis-server', (dir) => ['--port', String(masterPort), ...COMMON(dir)]);
    const replica = node('replica', replicaPort, 'redis-server', (dir) => ['--port', String(replicaPort), '--replicaof', '127.0.0.1', String(masterPort), ...COMMON(dir)]);
    await until('the replica to link', async () => (await cli(replicaPort, 'info', 'replication')).includes('master_link_status:up'));
    const sentinel = node('sentinel', sentinelPort, 'redis-sentinel', (dir) => {
      const conf = join(dir, 'sentinel.conf');
      writeFileSync(conf, [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `logfile ${join(dir, 'sentinel.log')}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, `sentinel down-after-milliseconds ${name} ${downAfter}`,
        `sentinel failover-timeout ${name} ${failoverTimeout}`, ''].join('\n'));
      return [conf];
    });
    await until('the sentinel to know the replica', async () => /flags\nslave\n/.test(await cli(sentinelPort, 'sentinel', 'replicas', name)));
    return {
      url: `redis://127.0.0.1:${sentinelPort}`,
      name,
      master,
      replica,
      sentinel,
      async killMaster() {
        const killedAt = Date.now();
        master.child.kill('SIGKILL');
        await until('the sentinel to name the replica', async () =>
          (await cli(sentinelPort, 'sentinel', 'get-master-addr-by-name', name)).endsWith(String(replicaPort)));
        return Date.now() - killedAt;
      },
      stop: () => killAll(started, root),
    };
  } catch (error) {
    await killAll(started, root);
    throw error;
  }
}
