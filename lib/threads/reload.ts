/**
 * The rolling reload of a cluster's worker threads (`ThreadCluster.reload()`,
 * SIGHUP): every worker is replaced by a new thread that imports the server
 * module afresh (new code, new certificate files), without a moment with
 * fewer listeners than workers and without a half-reloaded set.
 *
 * 1. **Start.** A new thread per worker, one at a time; each must listen
 *    (alongside the old ones, on the same port with `reusePort`) within
 *    the start timeout before the next starts.
 * 2. **Fail, or commit.** If a new thread fails to load, throws, does not
 *    listen in time or ends before the commit, every new thread is stopped
 *    (they may hold connections already: they drain) and the old ones go on
 *    serving as if nothing happened: the reload fails. Otherwise every
 *    worker slot takes its new thread at once (synchronously: none can end
 *    in between).
 * 3. **Retire.** The old threads are told to stop one at a time, each
 *    closing its listening socket before the next is told; each drains its
 *    connections within the shutdown timeout, then is terminated.
 *
 * The session table and the ticket key ring belong to the primary and
 * stay: sessions and tickets from before resume after.
 *
 * @module
 */
import type { Logger } from 'pino';
import { ReloadAbortedError, ReloadFailedError, WorkerStartError } from '../errors.ts';
import { summarize } from '../describe.ts';
import type { Retirement, ThreadHandle } from './thread-handle.ts';

/** Options of `ThreadCluster.reload()`. */
export interface ReloadOptions {
  /**
   * How long each new thread may take to load the server module and
   * listen, in ms; one that takes longer fails the reload.
   * @defaultValue 60000
   */
  startTimeout?: number;
}

/** One worker replaced by a reload. */
export interface WorkerReplacement {
  workerId: number;
  /** The new thread. */
  threadId: number;
  /** The thread it replaced, or `undefined` when the slot had none (it was waiting for a restart after a crash). */
  replacedThreadId: number | undefined;
  /** Whether the old thread's connections finished within the shutdown timeout (false: they were closed). */
  drained: boolean;
  /** From telling the old thread to stop to its end, in ms. */
  drainMs: number;
}

/** What a successful reload did. */
export interface ReloadResult {
  /** Every worker, in order of `workerId`. */
  workers: WorkerReplacement[];
  /** From the start of the reload to the end of the last old thread, in ms. */
  durationMs: number;
}

/** What a reload needs of its cluster. */
export interface ReloadHost {
  readonly logger: Logger;
  /** Worker slots, `workerId` 1 to this. */
  readonly workers: number;
  readonly shutdownTimeout: number;
  /** Whether the cluster is stopping (the reload then ends as aborted). */
  stopping(): boolean;
  /** Starts a new thread for a slot, tracked by the cluster (a stop stops it too) but not its current one. */
  launch(workerId: number): ThreadHandle;
  /** Makes `thread` the slot's current thread; returns the one it replaces, if any. */
  swap(workerId: number, thread: ThreadHandle): ThreadHandle | undefined;
}

export const DEFAULT_START_TIMEOUT_MS = 60_000;

/**
 * Replaces every worker thread; see the module's documentation. Resolves
 * once every old thread ended.
 * @throws ReloadFailedError (`ERR_TLS_CACHE_RELOAD_FAILED`) when a new thread failed; the old ones go on serving.
 * @throws ReloadAbortedError (`ERR_TLS_CACHE_RELOAD_ABORTED`) when the cluster began stopping during the reload.
 */
export async function rollingReload(host: ReloadHost, startTimeout: number): Promise<ReloadResult> {
  const startedAt = Date.now();
  const { logger } = host;
  const fresh: ThreadHandle[] = [];
  /** Rejects as soon as a new thread ends before the commit. */
  let freshEnded: (thread: ThreadHandle) => void = () => {};
  const anyFreshEnded = new Promise<never>((_, reject) => {
    freshEnded = (thread) => reject(thread);
  });
  anyFreshEnded.catch(() => {});
  let committed = false;
  try {
    for (let workerId = 1; workerId <= host.workers; workerId++) {
      if (host.stopping()) throw aborted();
      const thread = host.launch(workerId);
      fresh.push(thread);
      void thread.exited.then(() => {
        if (!committed) freshEnded(thread);
      });
      await Promise.race([thread.ready, anyFreshEnded, timeout(thread, startTimeout)]);
      logger.debug({ workerId, threadId: thread.threadId }, 'reload: new worker listening');
    }
    if (host.stopping()) throw aborted();
    const dead = fresh.find((thread) => thread.ended);
    if (dead !== undefined) throw dead;
  } catch (reason) {
    committed = true;
    const error = await failure(reason, host.stopping());
    await Promise.all(fresh.map((thread) => thread.retire(host.shutdownTimeout)));
    throw error;
  }

  // Commit: every slot takes its new thread in this one synchronous step.
  committed = true;
  const old = fresh.map((thread) => host.swap(thread.workerId, thread));
  const retirements: Array<Promise<WorkerReplacement>> = [];
  for (const [i, thread] of fresh.entries()) {
    const previous = old[i];
    if (host.stopping()) break;
    const replacement = (retired: Retirement): WorkerReplacement => {
      const done: WorkerReplacement = {
        workerId: thread.workerId,
        threadId: thread.threadId,
        replacedThreadId: previous?.threadId,
        drained: retired.drained,
        drainMs: retired.ms,
      };
      logger.info(done, retired.drained ? 'worker replaced' : 'worker replaced; the old thread was terminated at the shutdown timeout');
      return done;
    };
    if (previous === undefined) {
      retirements.push(Promise.resolve(replacement({ drained: true, ms: 0 })));
      continue;
    }
    retirements.push(previous.retire(host.shutdownTimeout).then(replacement));
    // One listening socket closes at a time.
    await previous.draining;
  }
  const workers = await Promise.all(retirements);
  if (workers.length < fresh.length) throw aborted();
  const durationMs = Date.now() - startedAt;
  logger.info(
    { workers: workers.length, durationMs, terminated: workers.filter((w) => !w.drained).length },
    'reload complete: every worker replaced',
  );
  return { workers, durationMs };
}

function aborted(): ReloadAbortedError {
  return new ReloadAbortedError('The cluster began stopping during the reload; every thread, old and new, is stopping');
}

/** Rejects with a `WorkerStartError` once `ms` passed, unless the thread listened or ended first. */
function timeout(thread: ThreadHandle, ms: number): Promise<never> {
  return new Promise<never>((_, reject) => {
    const timer = setTimeout(
      () => reject(new WorkerStartError(thread.workerId, `The new worker ${thread.workerId} did not listen within ${ms} ms`)),
      ms,
    );
    const clear = (): void => clearTimeout(timer);
    thread.ready.then(clear, clear);
  });
}

/** The error a failed reload rejects with, naming what failed. */
async function failure(reason: unknown, stopping: boolean): Promise<Error> {
  if (stopping || reason instanceof ReloadAbortedError) return aborted();
  if (reason instanceof Error) {
    const workerId = reason instanceof WorkerStartError ? reason.workerId : undefined;
    return new ReloadFailedError(workerId, `Reload failed: ${reason.message}; the running workers go on serving`, { cause: reason });
  }
  // A new thread that ended (after listening, or while another started): its exit says why.
  const thread = reason as ThreadHandle;
  const started = await thread.ready.then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  const { code, message } = thread.failure ?? summarize(started ?? new Error('no error reported'));
  const exitCode = await thread.exited;
  return new ReloadFailedError(
    thread.workerId,
    `Reload failed: the new worker ${thread.workerId} ended (exit code ${exitCode})${started ? ' before listening' : ' after listening'}: ` +
      `${code ? `${code}: ` : ''}${message}; the running workers go on serving`,
    { cause: started },
  );
}
