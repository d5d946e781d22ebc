/**
 * A real Redis Cluster, or a master, replica and sentinel, for a test file
 * (`bench/lib/redis-topologies.ts`), ended in the test's teardown; and
 * what the tests read from them.
 */
import { Redis } from 'ioredis';
import { startRedisCluster, startRedisSentinel, type RedisClusterHandle, type RedisSentinelHandle } from '../../bench/lib/redis-topologies.ts';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** A Redis Cluster of 3 masters, each with a replica (so that a master can fail over), stopped at `t`'s teardown. */
export async function testRedisCluster(t: Teardown, options: { replicas?: 0 | 1 } = {}): Promise<RedisClusterHandle> {
  const cluster = await startRedisCluster({ replicas: options.replicas ?? 1 });
  t.teardown(() => cluster.stop());
  return cluster;
}

/** A master, a replica and a sentinel, stopped at `t`'s teardown. */
export async function testRedisSentinel(t: Teardown): Promise<RedisSentinelHandle> {
  const sentinel = await startRedisSentinel();
  t.teardown(() => sentinel.stop());
  return sentinel;
}

/** The keys matching `pattern` on one node (asked directly, not through the cluster). */
export async function keysOn(port: number, pattern: string): Promise<string[]> {
  const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys;
  } finally {
    client.disconnect();
  }
}
