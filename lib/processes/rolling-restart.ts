/**
 * The rolling restart of a `node:cluster` app's worker processes
 * (`ClusterCache.restartWorkers()`), as the thread runtime reloads its
 * threads: new code and certificates, every session kept, since the primary
 * holds them (the table and the ticket key ring live in its process).
 *
 * 1. **Start.** A replacement per worker process, forked one at a time;
 *    each must listen (the cluster's `'listening'` event) within the start
 *    timeout before the next is forked.
 * 2. **Fail, or commit.** If a replacement exits or does not listen in
 *    time, every replacement is disconnected (and killed after the shutdown
 *    timeout) and the workers from before go on serving: the restart fails.
 * 3. **Retire.** Every worker that is not a replacement is disconnected
 *    (`worker.disconnect()`: it closes its servers and lets its connections
 *    finish); each gets the shutdown timeout (all at the same time), then
 *    is killed. Node's cluster module holds the listening socket in the primary
 *    (or shares one socket among the workers), so no connection waiting to
 *    be accepted is lost.
 *
 * An application that forks a new worker whenever one exits must not do so
 * for these: they have `worker.exitedAfterDisconnect === true`.
 *
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { ReloadAbortedError, ReloadFailedError } from '../errors.ts';

/** Options of `ClusterCache.restartWorkers()`. */
export interface RestartWorkersOptions {
  /**
   * Forks the replacement of a worker (`old`), e.g. with the environment the
   * application gave it: `(old) => cluster.fork(env)`.
   * @defaultValue `() => cluster.fork()`
   */
  fork?: (old: Worker) => Worker;
  /**
   * How long each replacement may take to listen, in ms.
   * @defaultValue 60000
   */
  startTimeout?: number;
  /**
   * How long each old worker may take to finish its connections once
   * disconnected, in ms; then it is killed (SIGKILL).
   * @defaultValue `TLS_CACHE_SHUTDOWN_TIMEOUT` (10 s)
   */
  shutdownTimeout?: number;
}

/** One worker process replaced by a restart. */
export interface ProcessReplacement {
  /** The replacement's process ID; `undefined` for a worker forked during the restart by someone else, retired too. */
  pid: number | undefined;
  /** The replaced worker's process ID. */
  replacedPid: number;
  /** Whether the old worker's connections finished within the shutdown timeout (false: it was killed). */
  drained: boolean;
  /** From its disconnect to its exit, in ms. */
  drainMs: number;
}

/** What a successful restart did. */
export interface RestartResult {
  /** Every worker replaced, in the order they were forked. */
  workers: ProcessReplacement[];
  /** From the start of the restart to the exit of the last old worker, in ms. */
  durationMs: number;
}

/** Whether a worker is alive and not already leaving. */
function serving(worker: Worker): boolean {
  return !worker.isDead() && !worker.exitedAfterDisconnect;
}

/** Resolves when the worker listens; rejects if it exits first or after `ms`. */
function listening(worker: Worker, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onListening = (): void => done();
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`the new worker process ${worker.process.pid} exited (${signal ?? `exit code ${code}`}) before listening`));
    const timer = setTimeout(() => done(new Error(`the new worker process ${worker.process.pid} did not listen within ${ms} ms`)), ms);
    function done(error?: Error): void {
      clearTimeout(timer);
      worker.off('listening', onListening);
      worker.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    }
    worker.once('listening', onListening);
    worker.once('exit', onExit);
  });
}

/** Disconnects a worker and waits for its exit up to `ms`, then kills it. */
async function retire(worker: Worker, ms: number): Promise<{ drained: boolean; drainMs: number }> {
  const started = Date.now();
  if (worker.isDead()) return { drained: true, drainMs: 0 };
  const exited = new Promise<true>((resolve) => worker.once('exit', () => resolve(true)));
  try {
    worker.disconnect();
  } catch {
    // Its channel closed already: it is on its way out.
  }
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([exited, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  if (!drained) {
    worker.process.kill('SIGKILL');
    await exited;
  }
  return { drained, drainMs: Date.now() - started };
}

/**
 * Replaces every worker process serving now; see the module's
 * documentation. `closed()` says whether the cache was closed meanwhile
 * (the restart then ends as aborted).
 * @throws ReloadFailedError (`ERR_TLS_CACHE_RELOAD_FAILED`) when a replacement failed; the workers from before go on serving.
 * @throws ReloadAbortedError (`ERR_TLS_CACHE_RELOAD_ABORTED`) when the cache was closed during the restart.
 */
export async function rollingRestart(
  options: Required<RestartWorkersOptions>,
  logger: Logger,
  closed: () => boolean,
): Promise<RestartResult> {
  const startedAt = Date.now();
  const before = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && serving(w));
  const fresh: Worker[] = [];
  try {
    for (const old of before) {
      if (closed()) throw new ReloadAbortedError('The cluster cache was closed during the restart');
      const worker = options.fork(old);
      fresh.push(worker);
      await listening(worker, options.startTimeout);
      logger.debug({ pid: worker.process.pid, replaces: old.process.pid }, 'restart: new worker process listening');
    }
    const dead = fresh.find((worker) => worker.isDead());
    if (dead !== undefined) throw new Error(`the new worker process ${dead.process.pid} exited before every new one listened`);
    if (closed()) throw new ReloadAbortedError('The cluster cache was closed during the restart');
  } catch (error) {
    await Promise.all(fresh.map((worker) => retire(worker, options.shutdownTimeout)));
    if (error instanceof ReloadAbortedError) throw error;
    throw new ReloadFailedError(undefined, `Restart failed: ${(error as Error).message}; the worker processes from before go on serving`, {
      cause: error,
    });
  }
  // Commit: every worker that is not a replacement leaves (an application may have forked one meanwhile).
  const replaced = new Set(fresh);
  const old = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !replaced.has(w) && serving(w));
  const partner = new Map(before.map((worker, i) => [worker, fresh[i]]));
  const retirements = old.map(async (worker) => {
    const replacedPid = worker.process.pid ?? -1;
    const { drained, drainMs } = await retire(worker, options.shutdownTimeout);
    const done: ProcessReplacement = { pid: partner.get(worker)?.process.pid, replacedPid, drained, drainMs };
    logger.info(done, drained ? 'worker replaced' : 'worker replaced; the old process was killed at the shutdown timeout');
    return done;
  });
  const workers = await Promise.all(retirements);
  const durationMs = Date.now() - startedAt;
  logger.info({ workers: fresh.length, durationMs, killed: workers.filter((w) => !w.drained).length }, 'restart complete: every worker process replaced');
  return { workers, durationMs };
}
