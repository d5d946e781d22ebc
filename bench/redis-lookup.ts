/**
 * `node:cluster` worker processes on Redis: what a lookup of a session that
 * is in Redis only (made on another host) costs a worker process, through
 * this project's own stores and messages, three ways:
 *
 * - `own connection` (what the library does): the local copy, then the
 *   primary's table (a miss; here over IPC, which this benchmark's own primary answers), then the process's own Redis
 *   connection: the store of levels a worker process builds.
 * - `through the primary`: the worker asks the primary over IPC
 *   (`OwnerLevel`), and the primary asks Redis (`RedisSessionLevel`)
 *   before it answers: one Redis connection per host, every worker's
 *   lookups in line behind the primary's one event loop.
 * - `own connection, Redis only`: the process's own connection without the
 *   primary's table first (`RedisSessionLevel` alone), the floor.
 *
 * `workers` worker processes look up at once, each one lookup at a time,
 * every lookup a different session (so none is found on the host), against
 * a private `redis-server` on loopback. Figures: µs per lookup (p50, p90,
 * p99) over every worker's lookups.
 *
 * Usage: `node bench/redis-lookup.ts [workers] [lookups per worker]`
 * (defaults 2 and 2000).
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { freePort } from '../lib/threads/free-port.ts';
import { SharedCounters } from '../lib/operations/counters.ts';
import { connectRedis, waitUntilReady } from '../lib/redis/connection.ts';
import { RedisSessionLevel } from '../lib/redis/session-store.ts';
import { OwnerLevel } from '../lib/owner/owner-level.ts';
import { LocalSessions } from '../lib/store/local-sessions.ts';
import { LevelledStore } from '../lib/store/levelled-store.ts';
import { decodeToOwner, decodeToWorker, encodeToOwner, encodeToWorker, fromIpc, isTagged, O_GOT, toIpc, W_GET } from '../lib/owner/messages.ts';
import { spawnRedisServer } from './lib/redis-server.ts';

const DESIGNS = ['own connection', 'through the primary', 'own connection, Redis only'] as const;
type Design = (typeof DESIGNS)[number];
/** A secret for this run only, the same in every process (inherited). */
const SECRET = (process.env.BENCH_LOOKUP_SECRET ??= randomBytes(32).toString('base64'));
const NAMESPACE = 'bench';
const TIMEOUT_S = 300;
const WARMUP = 300;
/** A lookup waits this long at most here: the figures are latencies, not misses. */
const BOUND_MS = 2000;

const idOf = (design: number, worker: number, i: number): Buffer => createHash('sha256').update(`${design}/${worker}/${i}`).digest();
/** Redis alone, as a store: what another host writes, and the "Redis only" design. */
const redisOnly = (redis: ReturnType<typeof connectRedis>): LevelledStore =>
  new LevelledStore({ timeout: TIMEOUT_S, levels: [new RedisSessionLevel({ redis, secret: SECRET, namespace: NAMESPACE, timeout: BOUND_MS })] });

if (cluster.isPrimary) {
  const workers = Number(process.argv[2] ?? 2);
  const lookups = Number(process.argv[3] ?? 2000);
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-lookup-'));
  const port = await freePort('127.0.0.1');
  const server = await spawnRedisServer({ port, dir });
  const url = `redis://127.0.0.1:${port}`;
  const redis = connectRedis(url, { role: 'bench' });
  await waitUntilReady(redis, 5000);
  // The sessions, sealed as another host would have written them (a TLS 1.2 session is about 160 to 250 bytes).
  const writer = redisOnly(redis);
  const session = randomBytes(200);
  for (let d = 0; d < DESIGNS.length; d++) {
    for (let w = 0; w < workers; w++) for (let i = 0; i < WARMUP + lookups; i++) writer.set(idOf(d, w, i), session);
    await redis.ping();
  }
  const results: string[] = [];
  for (const [d, design] of DESIGNS.entries()) {
    // The primary: its table is empty; through the primary, it asks Redis for its workers.
    const reader = redisOnly(redis);
    const onMessage = (worker: Worker, raw: unknown): void => {
      if (!isTagged(raw)) return;
      const bytes = fromIpc(raw);
      const message = bytes === undefined ? undefined : decodeToOwner(bytes, 65536);
      if (message?.op !== W_GET) return;
      const answer = (found: Uint8Array | undefined): void => {
        worker.send(toIpc(encodeToWorker({ op: O_GOT, request: message.request, session: found === undefined ? undefined : Buffer.from(found) })));
      };
      if (design !== 'through the primary') return answer(undefined);
      void Promise.resolve(reader.get(message.id)).then(answer);
    };
    cluster.on('message', onMessage);
    const forked = Array.from({ length: workers }, (_, w) => cluster.fork({ BENCH_LOOKUP: JSON.stringify({ design: d, worker: w, lookups, url }) }));
    const samples = await new Promise<number[]>((resolve) => {
      const all: number[] = [];
      let ready = 0;
      let done = 0;
      for (const worker of forked) {
        worker.on('message', (message: { ready?: true; samples?: number[]; misses?: number }) => {
          if (message.ready && ++ready === workers) for (const w of forked) w.send({ go: true });
          if (message.samples === undefined) return;
          all.push(...message.samples);
          if (message.misses) process.stderr.write(`${design}: ${message.misses} lookups missed\n`);
          if (++done === workers) resolve(all);
        });
      }
    });
    cluster.off('message', onMessage);
    await Promise.all(forked.map((worker) => new Promise((resolve) => worker.once('exit', resolve).kill())));
    samples.sort((a, b) => a - b);
    const q = (p: number): string => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))].toFixed(0);
    results.push(`| ${design} | ${q(0.5)} µs | ${q(0.9)} µs | ${q(0.99)} µs |`);
  }
  console.log(`A session in Redis only, looked up by ${workers} worker process(es) at once, ${lookups} lookups each, one at a time (redis-server on loopback):\n`);
  console.log('| lookup | p50 | p90 | p99 |\n| --- | --- | --- | --- |');
  console.log(results.join('\n'));
  redis.disconnect();
  server.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
} else {
  const { design: d, worker: w, lookups, url } = JSON.parse(process.env.BENCH_LOOKUP ?? '{}') as { design: number; worker: number; lookups: number; url: string };
  const design: Design = DESIGNS[d];
  const counters = SharedCounters.create();
  const logger = pino({ level: 'silent' });
  const ipc = new OwnerLevel({
    ownerTimeout: BOUND_MS,
    counters,
    send: (message) => process.send!(toIpc(encodeToOwner(message))),
  });
  process.on('message', (raw: unknown) => {
    if (!isTagged(raw)) return;
    const bytes = fromIpc(raw);
    const message = bytes === undefined ? undefined : decodeToWorker(bytes, 65536);
    if (message?.op === O_GOT) ipc.answer(message.request, message.session);
  });
  const redis = design === 'through the primary' ? undefined : connectRedis(url, { role: 'bench' });
  if (redis !== undefined) await waitUntilReady(redis, 5000);
  // A worker process's store as worker-process.ts builds it (the local copy off: every lookup goes further).
  const local = new LocalSessions(0);
  const store =
    design === 'through the primary'
      ? new LevelledStore({ timeout: TIMEOUT_S, levels: [local, ipc] })
      : design === 'own connection'
        ? new LevelledStore({
            timeout: TIMEOUT_S,
            levels: [local, ipc, new RedisSessionLevel({ redis: redis!, secret: SECRET, namespace: NAMESPACE, timeout: BOUND_MS, counters, logger })],
          })
        : redisOnly(redis!);
  let misses = 0;
  const lookup = async (i: number): Promise<number> => {
    const started = process.hrtime.bigint();
    // lookUp(), as the TLS hooks look up: a miss says why (a string).
    if (typeof (await store.lookUp(idOf(d, w, i))) === 'string') misses++;
    return Number(process.hrtime.bigint() - started) / 1000;
  };
  for (let i = 0; i < WARMUP; i++) await lookup(lookups + i);
  misses = 0;
  process.send!({ ready: true });
  await new Promise((resolve) => process.once('message', resolve));
  const samples: number[] = [];
  for (let i = 0; i < lookups; i++) samples.push(await lookup(i));
  process.send!({ samples, misses });
  redis?.disconnect();
}
