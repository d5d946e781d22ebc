/**
 * One server thread as the cluster's primary sees it: started, listening,
 * told to stop, draining, ended. A worker slot (a `workerId`) has one
 * current thread; during a reload it also has a new one starting, or an
 * old one draining. Internal to the runtime.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { WorkerStartError } from '../errors.ts';
import type { FromServerThread, ServerThreadData, ToServerThread } from './messages.ts';
import { summarize, type ErrorSummary } from '../describe.ts';

/**
 * The thread entry point: `workers/server-thread.ts` when run from the
 * TypeScript sources, `server-thread.js` in the built package.
 */
const SERVER_THREAD = new URL(`../../workers/server-thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** What a thread said when it started listening. */
export type ListeningNotes = Pick<Extract<FromServerThread, { type: 'listening' }>, 'port' | 'sni' | 'unbound' | 'certificate'>;

/** How a thread that was told to stop ended. */
export interface Retirement {
  /** Whether its connections finished within the timeout (false: it was terminated, closing them). */
  drained: boolean;
  /** From the stop to its end, in ms. */
  ms: number;
}

/** See the module's documentation. */
export class ThreadHandle {
  readonly workerId: number;
  readonly threadId: number;
  readonly startedAt = Date.now();
  /** Whether it listens now (false again once it ended). */
  listening = false;
  /** Whether it ended. */
  ended = false;
  /** What made it fail, when it did. */
  failure: ErrorSummary | undefined;
  /** Its 'listening' message. */
  notes: ListeningNotes | undefined;
  /** Resolves once it listens; rejects with a `WorkerStartError` if it ends first. Never unhandled. */
  readonly ready: Promise<void>;
  /** Resolves with its exit code. */
  readonly exited: Promise<number>;
  /** Resolves once, told to stop, it closed its listening socket (or ended). */
  readonly draining: Promise<void>;

  readonly #worker: Worker;
  #stopAt = 0;

  constructor(data: ServerThreadData, execArgv: string[] | undefined) {
    this.workerId = data.workerId;
    const worker = new Worker(SERVER_THREAD, { workerData: data, name: `tls-resumption worker ${data.workerId}`, execArgv });
    this.#worker = worker;
    this.threadId = worker.threadId;
    let listening: () => void = () => {};
    let failed: (error: Error) => void = () => {};
    let drainingNow: () => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      listening = resolve;
      failed = reject;
    });
    this.ready.catch(() => {});
    this.draining = new Promise<void>((resolve) => {
      drainingNow = resolve;
    });
    this.exited = new Promise<number>((resolve) => {
      worker.on('exit', (exitCode) => {
        this.ended = true;
        this.listening = false;
        drainingNow();
        const failure = this.failure;
        failed(
          new WorkerStartError(
            this.workerId,
            `Worker ${this.workerId} ended (exit code ${exitCode}) before listening${
              failure ? `: ${failure.code ? `${failure.code}: ` : ''}${failure.message}` : ''
            }`,
            { cause: failure },
          ),
        );
        resolve(exitCode);
      });
    });
    worker.on('error', (error) => {
      this.failure ??= summarize(error, { stack: true });
    });
    worker.on('message', (message: FromServerThread) => {
      if (message.type === 'listening') {
        this.listening = true;
        this.notes = { port: message.port, sni: message.sni, unbound: message.unbound, certificate: message.certificate };
        listening();
      } else if (message.type === 'certificate') {
        if (this.notes !== undefined) this.notes.certificate = message.certificate;
      } else if (message.type === 'start-failed') {
        this.failure ??= message.error;
      } else if (message.type === 'draining') {
        this.listening = false;
        drainingNow();
      }
    });
  }

  /** Posts a message to the thread, unless it ended. */
  post(message: ToServerThread): void {
    if (!this.ended) this.#worker.postMessage(message);
  }

  /**
   * Tells it to stop: a listening thread closes its listening socket and
   * lets its connections finish; one not listening yet (it has none) is
   * terminated. Once: later calls change nothing.
   */
  stop(): void {
    if (this.#stopAt !== 0 || this.ended) return;
    this.#stopAt = Date.now();
    if (this.listening) this.post({ type: 'stop' });
    else void this.terminate();
  }

  /** Whether it was told to stop. */
  get stopping(): boolean {
    return this.#stopAt !== 0;
  }

  /** Ends it now, closing its connections. Resolves once it ended. */
  async terminate(): Promise<void> {
    if (!this.ended) await this.#worker.terminate();
    await this.exited;
  }

  /** Stops it ({@link stop}) and waits up to `timeoutMs` for its connections to finish, then terminates it. */
  async retire(timeoutMs: number): Promise<Retirement> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) await this.terminate();
    return { drained, ms: Date.now() - (this.#stopAt || Date.now()) };
  }
}
