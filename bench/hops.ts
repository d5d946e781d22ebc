/**
 * The hops of one `resumeSession` (`npm run bench:hops`; `-- --list` names
 * each one): the calls of the package's functions (`lib/`, `workers/`)
 * from Node's emit of `resumeSession` to the call of its callback with the
 * session, counted by V8's precise coverage (`lib/hop-count.ts`), and the
 * files they are in. Two deployments, one lookup that finds the session
 * each time:
 *
 * - a worker thread of `startThreadCluster()` (the table in shared memory),
 *   resuming a session made on the same port;
 * - a `node:cluster` worker process attached with `attachSharedCache()`
 *   (`TLS_CACHE_LOCAL_SIZE` default), resuming a session made on another
 *   worker process: its local copy misses, the primary (the owner, over
 *   its Unix socket) has it. Three segments: the requesting process from
 *   the emit to its socket write (and on to the emit's return), the owner
 *   from its socket's `data` to the write of its answer, the requesting
 *   process from the `data` of the answer to the callback.
 *
 * What a hop is, and the path by file: docs/contributing.md#the-path-of-one-lookup.
 *
 * @module
 */
import cluster from 'node:cluster';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { loadCertificate } from '../examples/certificate.ts';
import type { Hop } from './lib/hop-count.ts';
import type { RequestHops } from './lib/hop-probe.ts';

/** Lookups measured per deployment; the figures are each segment's median (a timer of the process may add calls to one lookup; the table reads one bucket instead of two for a few IDs). */
const LOOKUPS = 5;
const ENV = { TLS_CACHE_LOG_LEVEL: 'warn', TLS_CACHE_OWNER_TIMEOUT: '2s', TLS_CACHE_STATS_INTERVAL: '0', TLS_CACHE_SUMMARY_INTERVAL: '0' };

interface Segment {
  name: string;
  hops: Hop[];
}

/** A TLS 1.2 handshake offering `session` by ID (no tickets); its session and whether it resumed. */
function handshake(port: number, session?: Buffer): Promise<{ session: Buffer; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      rejectUnauthorized: false,
      maxVersion: 'TLSv1.2',
      secureOptions: constants.SSL_OP_NO_TICKET,
      session,
    });
    socket.once('secureConnect', () => {
      const made = socket.getSession()!;
      const reused = socket.isSessionReused();
      socket.end();
      resolve({ session: made, reused });
    });
    socket.once('error', reject);
  });
}

/** The segment of the median lookup by its total of calls. */
function median(runs: Hop[][]): Hop[] {
  const total = (hops: Hop[]): number => hops.reduce((sum, hop) => sum + hop.calls, 0);
  return [...runs].sort((a, b) => total(a) - total(b))[Math.floor(runs.length / 2)]!;
}

function report(title: string, segments: Segment[], list: boolean): void {
  const files = new Set(segments.flatMap(({ hops }) => hops.map((hop) => hop.file)));
  const calls = segments.reduce((sum, { hops }) => sum + hops.reduce((s, hop) => s + hop.calls, 0), 0);
  console.log(`\n${title}: ${calls} hops (calls of the package's functions), ${files.size} files of lib/ and workers/`);
  for (const { name, hops } of segments) {
    const segmentFiles = new Set(hops.map((hop) => hop.file));
    console.log(`  ${name}: ${hops.reduce((s, hop) => s + hop.calls, 0)} hops, ${hops.length} functions, ${segmentFiles.size} files`);
    if (!list) continue;
    for (const file of segmentFiles) {
      const here = hops.filter((hop) => hop.file === file);
      console.log(`    ${file}: ${here.map((hop) => (hop.calls === 1 ? hop.fn : `${hop.fn} x${hop.calls}`)).join(', ')}`);
    }
  }
  console.log(`  files: ${[...files].sort().join(' ')}`);
}

/** The thread runtime: one server thread (`hops-thread.ts`), each lookup a hit in the table. */
async function threadRun(list: boolean): Promise<void> {
  const { startThreadCluster } = await import('../lib/threads/cluster.ts');
  const dir = mkdtempSync(join(tmpdir(), 'hops-'));
  const out = join(dir, 'hops.jsonl');
  const { cert, key } = await loadCertificate({});
  const threads = await startThreadCluster({
    server: new URL('./hops-thread.ts', import.meta.url),
    port: 0,
    host: '127.0.0.1',
    config: { workers: 1, logLevel: 'warn', statsInterval: 0, summaryInterval: 0 },
    data: { cert, key, out },
  });
  try {
    for (let i = 0; i < LOOKUPS; i++) {
      const { session } = await handshake(threads.port);
      const { reused } = await handshake(threads.port, session);
      if (!reused) throw new Error('the worker thread did not resume the session');
    }
  } finally {
    await threads.stop();
  }
  const runs = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as RequestHops);
  rmSync(dir, { recursive: true, force: true });
  const found = runs.filter((run) => run.found);
  report('worker thread (table in shared memory)', [{ name: 'emit -> callback', hops: median(found.map((run) => run.request)) }], list);
}

/** The process runtime, in a process of its own: this file as a `node:cluster` primary with two workers. */
function processRun(list: boolean): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--process', ...(list ? ['--list'] : [])]);
  return new Promise((resolve, reject) => child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the process run exited with ${code}`)))));
}

/** The `node:cluster` primary: the owner (`startClusterCache()`), counting its segment, and the client. */
async function primary(list: boolean): Promise<void> {
  const { reset, take } = await import('./lib/hop-count.ts');
  const { O_GOT } = await import('../lib/owner/messages.ts');
  const { startClusterCache } = await import('../lib/processes/cluster-cache.ts');
  const owner: Hop[][] = [];
  // The owner's sockets are those its server accepted on a path: a segment runs from their data to the write of an answer.
  const ownerSocket = (socket: Socket): boolean => typeof (socket as Socket & { server?: { address(): unknown } }).server?.address() === 'string';
  let reading: Socket | undefined;
  const emit = Socket.prototype.emit;
  Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'data' || !ownerSocket(this)) return Reflect.apply(emit, this, [event, ...args]) as boolean;
    reading = this;
    reset();
    try {
      return Reflect.apply(emit, this, [event, ...args]) as boolean;
    } finally {
      reading = undefined;
    }
  } as typeof emit;
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...args: unknown[]): boolean {
    // A frame: 4 bytes of length, then a MessagePack array whose first element is the op (a fixint).
    if (this === reading && Buffer.isBuffer(chunk) && chunk[5] === O_GOT) owner.push(take());
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...args);
  } as typeof write;

  const cache = await startClusterCache();
  // One certificate for both (a session is bound to the certificate it was made under).
  const { cert, key } = await loadCertificate({});
  const workers = [cluster.fork({ HOPS_CERT: cert, HOPS_KEY: key }), cluster.fork({ HOPS_CERT: cert, HOPS_KEY: key })];
  const ports = await Promise.all(workers.map((worker) => new Promise<number>((resolve) => worker.on('message', (message: { port?: number }) => message.port !== undefined && resolve(message.port)))));
  const requests: RequestHops[] = [];
  workers[1]!.on('message', (message: { hops?: RequestHops }) => {
    if (message.hops !== undefined) requests.push(message.hops);
  });
  for (let i = 0; i < LOOKUPS; i++) {
    // Made on the first process, resumed on the second: its local copy misses, the owner has it.
    const { session } = await handshake(ports[0]!);
    const { reused } = await handshake(ports[1]!, session);
    if (!reused) throw new Error("the second worker process did not resume the first one's session");
  }
  while (requests.length < LOOKUPS) await new Promise((resolve) => setTimeout(resolve, 10));
  const asked = requests.filter((run) => run.found && run.answer !== undefined);
  if (asked.length === 0 || owner.length === 0) throw new Error('no lookup reached the owner');
  report('worker process (node:cluster worker, owner over the Unix socket)', [
    { name: 'requesting process, emit -> socket write', hops: median(asked.map((run) => run.request)) },
    { name: 'requesting process, socket write -> return of the emit', hops: median(asked.map((run) => run.afterWrite ?? [])) },
    { name: 'owner, socket data -> answer written', hops: median(owner) },
    { name: 'requesting process, socket data -> callback', hops: median(asked.map((run) => run.answer!)) },
  ], list);
  for (const worker of workers) worker.kill();
  await cache.close();
}

/** A `node:cluster` worker: one server on a port of its own, its lookups probed and sent to the primary. */
async function worker(): Promise<void> {
  const { probeLookups } = await import('./lib/hop-probe.ts');
  const { attachSharedCache, sharedCacheServerOptions } = await import('../lib/processes/attach-shared-cache.ts');
  const server = createServer({ cert: process.env.HOPS_CERT, key: process.env.HOPS_KEY, ...sharedCacheServerOptions() }, (socket) => socket.end());
  probeLookups(server, (hops) => process.send!({ hops }));
  await attachSharedCache(server);
  server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
    const address = server.address();
    process.send!({ port: typeof address === 'object' && address !== null ? address.port : 0 });
  });
}

const list = process.argv.includes('--list');
Object.assign(process.env, ENV);
if (cluster.isWorker) await worker();
else if (process.argv.includes('--process')) await primary(list);
else {
  await threadRun(list);
  await processRun(list);
}
