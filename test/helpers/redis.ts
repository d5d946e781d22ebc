/**
 * A private, real `redis-server` for a test: on a free loopback port, in a
 * temporary directory, without persistence. It can be killed (SIGKILL) and
 * started again on the same port; it is always ended in the test's teardown.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { spawnRedisServer } from '../../bench/lib/redis-server.ts';
import { freePort } from '../fixtures/process.ts';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** A plain client for the test itself (inspecting, tampering); closed at teardown. */
  client(): Redis;
  /** SIGKILLs the server; resolves when it has exited. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (empty: no persistence); resolves when it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung Redis). */
  pause(): void;
  /** SIGCONT after {@link pause}. */
  resume(): void;
  /** Whether the server process is running. */
  readonly running: boolean;
}

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/**
 * Starts a redis-server for the test `t`. With `password`, clients must
 * AUTH; with `tls` (PEM files), it listens only for TLS (`rediss://`, no
 * plain port), with that certificate.
 */
export async function startRedis(
  t: Teardown,
  options: { binary?: string; password?: string; tls?: { certFile: string; keyFile: string; cert: string } } = {},
): Promise<TestRedis> {
  const password = options.password;
  const tls = options.tls;
  const binary = options.binary ?? process.env.REDIS_SERVER ?? 'redis-server';
  const dir = mkdtempSync(join(tmpdir(), 'tls-cache-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const clients: Redis[] = [];

  const launch = async (): Promise<void> => {
    const started = await spawnRedisServer({ binary, port, dir, password, tls });
    child = started;
    exited = new Promise<void>((resolve) => {
      if (started.exitCode !== null || started.signalCode !== null) resolve();
      else started.once('exit', () => resolve());
    });
  };

  const redis: TestRedis = {
    port,
    url: `${tls === undefined ? 'redis' : 'rediss'}://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}127.0.0.1:${port}`,
    client() {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1, password, ...(tls === undefined ? {} : { tls: { ca: tls.cert } }) });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    restart: launch,
    pause() {
      if (redis.running) child!.kill('SIGSTOP');
    },
    resume() {
      if (redis.running) child!.kill('SIGCONT');
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
  };
  t.teardown(async () => {
    for (const client of clients) client.disconnect();
    redis.resume();
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  });
  await launch();
  return redis;
}
