/**
 * A worker process's connection to the owner of the table and ring over
 * its Unix socket: connects, says hello on every connection (`W_HELLO`,
 * then `W_PROCESS` with this process's pid, for `tls-resumption status`),
 * and reconnects by itself when the owner goes away (100 ms after, then
 * doubling up to a second), so that a restarted owner is found again
 * without anyone's help. When nothing answers at the socket and the
 * process may start the cache daemon (it has no primary of its own), it
 * starts one (`daemon-start.ts`), at most once per {@link DAEMON_START_INTERVAL_MS}.
 *
 * Nothing else is sent on a connection until the process accepted the
 * owner's answer to its hello ({@link SocketChannel.accept}: its settings
 * are the process's): until then {@link SocketChannel.send} returns false,
 * and a lookup misses at once.
 *
 * Before connecting it checks that the socket's directory is private to
 * this user (`socket-path.ts`): a socket another user could have put there
 * gets no sessions.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { SharedCounters } from '../operations/counters.ts';
import { FrameReader, frame } from './frames.ts';
import { decodeToWorker, encodeToOwner, W_HELLO, W_PROCESS, type ToOwner, type ToWorker } from './messages.ts';
import { checkPrivateDirectory } from './socket-path.ts';
import { startDaemon } from './daemon-start.ts';

/** First delay before connecting again, in ms; it doubles up to {@link MAX_RETRY_MS}. */
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 1000;
/** The daemon is started at most this often (it takes a few hundred ms to listen). */
const DAEMON_START_INTERVAL_MS = 2000;

/** Options of {@link SocketChannel}. */
export interface SocketChannelOptions {
  socketPath: string;
  /** Start the cache daemon when nothing answers (a process with no primary of its own). */
  startDaemon: boolean;
  /**
   * Asked each time before a daemon would be started: false when this
   * process is shutting down (its servers closed), which never starts one.
   * @defaultValue always true
   */
  mayStartDaemon?: () => boolean;
  /** The environment the daemon starts with (its settings). @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
  /** Largest session accepted from the owner, in bytes (until {@link SocketChannel.maxSessionSize} is set: once the hello says). */
  maxSessionSize: number;
  /** Where malformed messages are counted (`ownerMalformed`). */
  counters: SharedCounters;
  logger: Logger;
}

/** What a {@link SocketChannel} tells its process of. */
export interface SocketChannelHandler {
  /** Each checked message. */
  onMessage(message: ToWorker): void;
  /** A connection ended (the next one is being made). */
  onDisconnected(): void;
}

/** See the module's documentation. */
export class SocketChannel {
  /** Largest session accepted from the owner, in bytes. */
  maxSessionSize: number;
  #options: SocketChannelOptions;
  #socket: Socket | undefined;
  #connected = false;
  #closed = false;
  #retryMs = FIRST_RETRY_MS;
  #retry: NodeJS.Timeout | undefined;
  #daemonStartedAt = -Infinity;
  #refusedLogged = false;
  #notStartingLogged = false;
  #accepted = false;
  #handler: SocketChannelHandler;

  /** Connects at once; until {@link handleWith}, messages go to `handler`. */
  constructor(options: SocketChannelOptions, handler: SocketChannelHandler) {
    this.#options = options;
    this.maxSessionSize = options.maxSessionSize;
    this.#handler = handler;
    this.#connect();
  }

  /** Where messages and ends of connections go from now on. */
  handleWith(handler: SocketChannelHandler): void {
    this.#handler = handler;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Whether the owner connected now was accepted ({@link accept}). */
  get accepted(): boolean {
    return this.#accepted;
  }

  /**
   * The owner connected now answered the hello with this process's
   * settings (`true`): messages go to it from now on, until the
   * connection ends; or not (`false`: none do).
   */
  accept(accepted: boolean): void {
    this.#accepted = accepted && this.#connected;
  }

  /**
   * Sends `message` to the owner once it was accepted; false (never a
   * throw) otherwise, or when no connection is open. Bound: a level sends
   * with it directly.
   */
  readonly send = (message: ToOwner): boolean => {
    const socket = this.#socket;
    if (!this.#accepted || !this.#connected || socket === undefined || socket.destroyed) return false;
    socket.write(frame(encodeToOwner(message)));
    return true;
  };

  /** Sends the hello, before the owner was accepted. */
  #write(message: ToOwner): boolean {
    const socket = this.#socket;
    if (!this.#connected || socket === undefined || socket.destroyed) return false;
    socket.write(frame(encodeToOwner(message)));
    return true;
  }

  /** The socket it connects to. */
  get socketPath(): string {
    return this.#options.socketPath;
  }

  /**
   * Connects to another owner from now on (a `node:cluster` primary that
   * answered late), starting no daemon: the connection open now, if any,
   * is closed (its lookups end as misses) and the next one goes there.
   */
  moveTo(socketPath: string): void {
    this.#options = { ...this.#options, socketPath, startDaemon: false };
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#retryMs = FIRST_RETRY_MS;
    if (this.#socket !== undefined && !this.#socket.destroyed) this.#socket.destroy();
    else this.#connect();
  }

  /** Closes the connection and stops reconnecting. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#socket?.destroy();
  }

  #connect(): void {
    if (this.#closed) return;
    const { socketPath, logger } = this.#options;
    if (!existsSync(dirname(socketPath))) {
      this.#nothingAnswers();
      return;
    }
    try {
      checkPrivateDirectory(socketPath);
    } catch (error) {
      // Not private: never connect there. Said once; checked again at each retry (it may be fixed).
      if (!this.#refusedLogged) logger.error({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'not connecting to the cache');
      this.#refusedLogged = true;
      this.#scheduleRetry();
      return;
    }
    const socket = connect({ path: socketPath, noDelay: true });
    // The cache never keeps a process alive: one that is done (its servers closed, its IPC channel gone) exits.
    socket.unref();
    this.#socket = socket;
    const reader = new FrameReader();
    socket.on('connect', () => {
      this.#connected = true;
      this.#accepted = false;
      this.#retryMs = FIRST_RETRY_MS;
      this.#refusedLogged = false;
      this.#write({ op: W_HELLO });
      this.#write({ op: W_PROCESS, pid: process.pid });
    });
    socket.on('data', (chunk: Buffer) => {
      const verdict = reader.push(chunk, (payload) => {
        const message = decodeToWorker(payload, this.maxSessionSize);
        if (message === undefined) this.#options.counters.add('ownerMalformed');
        else this.#handler.onMessage(message);
      });
      if (verdict === 'oversized') {
        this.#options.counters.add('ownerMalformed');
        socket.destroy();
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.#connected && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED')) this.#nothingAnswers();
    });
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      const was = this.#connected;
      this.#connected = false;
      this.#accepted = false;
      if (was && !this.#closed) this.#handler.onDisconnected();
      this.#scheduleRetry();
    });
  }

  /** No owner at the socket: start the daemon when this process may, then try again. */
  #nothingAnswers(): void {
    const now = Date.now();
    const may = this.#options.startDaemon && (this.#options.mayStartDaemon?.() ?? true);
    if (this.#options.startDaemon && !may && !this.#notStartingLogged) {
      this.#notStartingLogged = true;
      this.#options.logger.debug({ socket: this.#options.socketPath }, 'no cache daemon answered: this process is shutting down (its servers closed), and starts none');
    }
    if (may && now - this.#daemonStartedAt >= DAEMON_START_INTERVAL_MS) {
      this.#daemonStartedAt = now;
      try {
        const started = startDaemon(this.#options.socketPath, this.#options.env ?? process.env);
        this.#options.logger.debug({ directory: dirname(this.#options.socketPath) }, started ? 'no cache daemon answered: starting one' : 'no cache daemon answered: another process is starting one');
      } catch (error) {
        this.#options.logger.warn({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'could not start the cache daemon');
      }
      // Its socket appears within a few hundred ms: look often meanwhile.
      this.#retryMs = 50;
    }
    if (this.#socket === undefined || this.#socket.destroyed) this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#closed || this.#retry !== undefined) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, Math.max(FIRST_RETRY_MS, this.#retryMs * 2));
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect();
    }, delay);
    this.#retry.unref();
  }
}
