/**
 * The cache daemon: the owner of the table and the ticket key ring for
 * processes with no primary of their own (PM2 cluster mode, systemd
 * units, several containers or apps on one host), serving them over the
 * deployment's Unix socket (`owner-service.ts`). Started by the first
 * process that finds no owner at the socket (`daemon-start.ts`), or by an
 * operator: `tls-resumption daemon` runs it in the foreground (systemd,
 * its own PM2 app), `tls-resumption daemon --detach` in the background.
 *
 * It reads its settings from the environment as every runtime does
 * (`TLS_CACHE_*`, the Redis fleet included), rotates the ticket keys,
 * serves `/metrics` when `TLS_CACHE_METRICS_PORT` is set (totals of every
 * process it serves), and logs as pino. Signals: SIGTERM and SIGINT stop
 * it (processes then miss until another owner answers), SIGUSR1 rotates
 * the ticket keys, SIGUSR2 flushes every session and key.
 *
 * Of several daemons started at once for one socket, one listens (the
 * lock beside the socket) and the others exit with status 0, as one that
 * finds a daemon answering already does.
 *
 * @module
 */
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.ts';
import type { CacheConfig } from '../config/settings.ts';
import { configForLog } from '../config/redact.ts';
import { warnOfUnknownSettings } from '../config/unknown-settings.ts';
import { createLogger, resolveLogFormat } from '../operations/logger.ts';
import { CachePrimary } from '../runtime/cache-primary.ts';
import { workerSettings } from '../runtime/worker-settings.ts';
import { removeStartingMarker, startDaemon } from './daemon-start.ts';
import { answers, OwnerService, releaseSocketLock, takeSocketLock } from './owner-service.ts';
import { checkPrivateDirectory, isRunning, preparePrivateDirectory, socketPathOf } from './socket-path.ts';
import { askStatus, findOwnerSockets } from './status-client.ts';
import { DaemonStopError, NotRunningError } from '../errors.ts';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';

/** A running daemon. */
export interface CacheDaemon {
  readonly socketPath: string;
  readonly primary: CachePrimary;
  readonly service: OwnerService;
  /** Stops serving, frees the table and ring, removes the socket and its lock. Idempotent. */
  close(): Promise<void>;
  /**
   * Resolves once no process has been attached for `daemonIdleTimeout`
   * (`TLS_CACHE_DAEMON_IDLE_TIMEOUT`; never with 0): the daemon should stop
   * ({@link handleDaemonSignals} stops it then). Logged at info.
   */
  readonly idle: Promise<void>;
}

/** Options of {@link runDaemon}. */
export interface RunDaemonOptions {
  /** Settings. @defaultValue `process.env` */
  env?: NodeJS.ProcessEnv;
  /** @defaultValue pino to standard output at `TLS_CACHE_LOG_LEVEL` */
  logger?: Logger;
}

/**
 * Runs the daemon in this process until a signal stops it; resolves to
 * the daemon, or to `undefined` when another daemon answers at the socket
 * already (nothing to do).
 * @throws InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for a bad `TLS_CACHE_*` variable, before anything listens.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the socket's directory is not private or the socket cannot be listened on.
 * @throws TicketKeyFileError, MetricsListenError as the other runtimes do.
 */
export async function runDaemon(options: RunDaemonOptions = {}): Promise<CacheDaemon | undefined> {
  const env = options.env ?? process.env;
  const config = loadConfig({}, env);
  const socketPath = socketPathOf(config, env);
  const logger = options.logger ?? createLogger({ level: config.logLevel, ...resolveLogFormat(config) });
  preparePrivateDirectory(socketPath);
  if ((await answers(socketPath)) || !takeSocketLock(socketPath)) {
    logger.info({ socket: socketPath }, 'a cache daemon answers at this socket already (or is starting): nothing to do');
    return undefined;
  }
  try {
    return await serve(config, env, socketPath, logger);
  } finally {
    // Listening, or given up: processes that find no daemon may start one again.
    removeStartingMarker(socketPath);
  }
}

async function serve(config: CacheConfig, env: NodeJS.ProcessEnv, socketPath: string, logger: Logger): Promise<CacheDaemon> {
  warnOfUnknownSettings(logger, env);
  // With no process attached for daemonIdleTimeout, the daemon has served its deployment: it goes.
  let idleTimer: NodeJS.Timeout | undefined;
  let becameIdle: () => void = () => {};
  const idle = new Promise<void>((resolve) => (becameIdle = resolve));
  const watchIdle = (attached: number): void => {
    clearTimeout(idleTimer);
    idleTimer = undefined;
    if (attached > 0 || config.daemonIdleTimeout === 0) return;
    idleTimer = setTimeout(() => {
      logger.info({ idleTimeoutMs: config.daemonIdleTimeout }, 'no process attached for TLS_CACHE_DAEMON_IDLE_TIMEOUT: the cache daemon stops');
      becameIdle();
    }, config.daemonIdleTimeout);
    idleTimer.unref();
  };
  let primary: CachePrimary | undefined;
  let service: OwnerService | undefined;
  try {
    primary = CachePrimary.create(config, logger);
    service = await OwnerService.listen({ primary, settings: workerSettings(primary.config, 'auto'), socketPath, kind: 'daemon', onAttached: (n) => watchIdle(n) });
    const served = service;
    await primary.start({ workers: () => ({ configured: served.attached, listening: served.attached }), certificates: () => served.certificates(), ports: () => served.ports() });
  } catch (error) {
    await service?.close();
    await primary?.close();
    releaseSocketLock(socketPath);
    throw error;
  }
  const running = primary;
  const listening = service;
  let closing: Promise<void> | undefined;
  const daemon: CacheDaemon = {
    socketPath,
    primary: running,
    service: listening,
    idle,
    close: () =>
      (closing ??= (async () => {
        clearTimeout(idleTimer);
        await listening.close();
        await running.close();
        releaseSocketLock(socketPath);
      })()),
  };
  const stats = running.table.stats();
  logger.info(
    { socket: socketPath, config: configForLog(config), node: process.version, table: { bufferBytes: stats.bufferBytes, capacityEntries: stats.capacityEntries } },
    'cache daemon listening',
  );
  watchIdle(0);
  return daemon;
}

/**
 * Installs the daemon's signal handlers: SIGTERM and SIGINT close it and
 * end the process, SIGUSR1 rotates the ticket keys, SIGUSR2 flushes; and
 * stops it the same way once it is idle ({@link CacheDaemon.idle}).
 */
export function handleDaemonSignals(daemon: CacheDaemon, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const started = performance.now();
    logger.info({ reason: signal, attached: daemon.service.attached }, 'cache daemon stopping');
    void daemon.close().then(() => {
      // The socket and its lock are gone: a process that looks now finds no daemon, and may start one.
      logger.info({ reason: signal, ms: Math.round(performance.now() - started) }, 'cache daemon stopped');
      process.exit(0);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  void daemon.idle.then(() => stop('idle'));
  process.on('SIGUSR1', () => {
    try {
      daemon.primary.rotateTicketKeys();
    } catch (error) {
      logger.error({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'ticket key rotation failed: the keys in use stay');
    }
  });
  process.on('SIGUSR2', () => {
    try {
      daemon.service.flush();
    } catch (error) {
      logger.error({ err: { code: (error as { code?: string }).code, message: (error as Error).message } }, 'flush failed: nothing was flushed');
    }
  });
  // Nothing to reload: the settings are the deployment's, read at start.
  process.on('SIGHUP', () => logger.info('SIGHUP ignored: restart the daemon to change its settings (its sessions and keys go with it)'));
}

/** How long `tls-resumption daemon --stop` waits for the daemon to be gone, in ms. */
const STOP_WAIT_MS = 15_000;

/** What {@link stopDaemon} stopped. */
export interface StoppedDaemon {
  pid: number;
  socketPath: string;
  /** Processes attached when it was asked to stop (they start another daemon, with their own settings, when they next need one). */
  attached: number;
}

/**
 * `tls-resumption daemon --stop`: finds the daemon at the deployment's
 * socket by asking it (`status-client.ts`: the pid comes from the daemon
 * itself, never from a file that may be stale), sends it SIGTERM, and
 * waits until it has exited and its socket is gone.
 * @throws NotRunningError (`ERR_TLS_CACHE_NOT_RUNNING`) when no daemon answers at the socket.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the socket's directory is not private to this user.
 * @throws DaemonStopError (`ERR_TLS_CACHE_DAEMON_STOP`) when it is still there after {@link STOP_WAIT_MS}.
 */
export async function stopDaemon(env: NodeJS.ProcessEnv, wait = STOP_WAIT_MS): Promise<StoppedDaemon> {
  const config = loadConfig({}, env);
  const socketPath = socketPathOf(config, env);
  if (existsSync(dirname(socketPath))) checkPrivateDirectory(socketPath);
  const answer = await askStatus(socketPath);
  if (!('status' in answer) || answer.status.kind !== 'daemon') {
    const why = 'error' in answer ? answer.error : `a ${answer.status.kind} answers there, not a daemon`;
    // The deployment's settings name its socket: with other ones, say which daemons do run.
    const others = await otherDaemons(env, socketPath);
    const hint = others.length === 0 ? '' : `; daemons of this user: ${others.join(', ')} (give the deployment's TLS_CACHE_* settings, or its TLS_CACHE_SOCKET)`;
    throw new NotRunningError(`no cache daemon answers at ${socketPath} (${why})${hint}`);
  }
  const { pid } = answer.status;
  const attached = answer.status.workers.listening;
  try {
    process.kill(pid, 'SIGTERM');
  } catch (error) {
    if ((error as { code?: string }).code !== 'ESRCH') throw error;
  }
  const deadline = Date.now() + wait;
  while (isRunning(pid)) {
    if (Date.now() > deadline) throw new DaemonStopError(pid, `The cache daemon (pid ${pid}) is still running ${wait} ms after SIGTERM; its log says why (${socketPath}.log when detached)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { pid, socketPath, attached };
}

/** The daemons answering in the socket's directory other than at `socketPath`, as `<socket> (pid N)`. */
async function otherDaemons(env: NodeJS.ProcessEnv, socketPath: string): Promise<string[]> {
  const { sockets } = findOwnerSockets(env);
  const answers = await Promise.all(sockets.filter((socket) => socket !== socketPath).map((socket) => askStatus(socket, 1000)));
  return answers.flatMap((a) => ('status' in a && a.status.kind === 'daemon' ? [`${a.socket} (pid ${a.status.pid})`] : []));
}

/**
 * `tls-resumption daemon --detach`: starts the daemon in a session of its
 * own, its output appended to `<socket>.log` (mode 0600), and returns at
 * once. Settings are checked here first, so that a bad variable is
 * reported to whoever ran the command.
 * @throws as {@link runDaemon} does for bad settings and a directory that is not private.
 */
export function detachDaemon(env: NodeJS.ProcessEnv): string {
  const config = loadConfig({}, env);
  const socketPath = socketPathOf(config, env);
  preparePrivateDirectory(socketPath);
  startDaemon(socketPath, env);
  return socketPath;
}
