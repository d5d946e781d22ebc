/**
 * The command line: `tls-resumption [--port N] [--host ADDR] ./server.js`
 * runs a server module on the worker-thread runtime, as `runThreadCluster` does,
 * for an app that does not want a main module of its own.
 *
 * Every bad input ends the process with a coded error on standard error
 * and a non-zero exit code before anything listens: a usage error
 * (`ERR_TLS_CACHE_USAGE`, exit 2), a missing module
 * (`ERR_TLS_CACHE_SERVER_MODULE`), a bad `PORT` or `TLS_CACHE_*` variable
 * (`ERR_TLS_CACHE_INVALID_ENV`), a module that fails in its threads
 * (`ERR_TLS_CACHE_WORKER_START`, naming the module's own error), exit 1.
 * Once listening, SIGTERM and SIGINT stop gracefully and exit 0; SIGHUP
 * reloads every worker (the module loaded again); SIGUSR1 rotates the
 * ticket keys; SIGUSR2 flushes every session and key.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidEnvironmentError, ServerModuleError, UsageError } from '../errors.ts';
import { nearestName } from '../config/did-you-mean.ts';
import type { ThreadCluster } from '../threads/cluster.ts';
import { runThreadCluster } from '../threads/run-cluster.ts';
import { summarize } from '../describe.ts';
import { DEFAULT_PORT, helpText, packageVersion } from './help.ts';
import { detachDaemon, handleDaemonSignals, runDaemon, stopDaemon } from '../owner/daemon.ts';
import { NOT_RUNNING_EXIT } from './status.ts';
import { NotRunningError } from '../errors.ts';
import { status } from './status.ts';
import { PID_FILE_VARIABLE, writePidFile } from './pid-file.ts';

/** Where {@link main} reads and writes. */
export interface MainIo {
  env: NodeJS.ProcessEnv;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** Exit code of a usage error, as most command-line tools use. */
const USAGE_EXIT = 2;
/** The long options, for suggestions. */
const OPTIONS = ['--port', '--host', '--pid-file', '--help', '--version', '--detach', '--stop', '--json'] as const;

/**
 * Runs the command line. Resolves to an exit code when the process should
 * end (`--help`, `--version`, a failure), or to `undefined` once the
 * cluster listens (the process then runs until a signal stops it).
 */
export async function main(argv: readonly string[], io: MainIo): Promise<number | undefined> {
  let command: Command;
  try {
    command = parseCommand(argv, io.env);
  } catch (error) {
    return fail(io, error);
  }
  if (command.kind === 'help') {
    io.stdout.write(helpText());
    return 0;
  }
  if (command.kind === 'version') {
    io.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (command.kind === 'daemon' && command.stop) return stop(io);
  if (command.kind === 'daemon') return daemon(command.detach, io);
  if (command.kind === 'status') {
    try {
      return await status(command.json, io);
    } catch (error) {
      return fail(io, error, 'status');
    }
  }
  let cluster: ThreadCluster | undefined;
  try {
    if (command.pidFile !== undefined) writePidFile(command.pidFile.path, command.pidFile.source);
    cluster = await runThreadCluster({ server: command.module, port: command.port, host: command.host, env: io.env, applicationVariables: [PID_FILE_VARIABLE] });
  } catch (error) {
    return fail(io, error);
  }
  // runThreadCluster wrote why it could not start and set process.exitCode.
  return cluster === undefined ? 1 : undefined;
}

/**
 * `tls-resumption daemon`: runs the cache daemon in the foreground until a
 * signal stops it (resolves to `undefined` while it runs, 0 when another
 * daemon answers already); with `--detach`, starts it in the background
 * and resolves to 0.
 */
async function daemon(detach: boolean, io: MainIo): Promise<number | undefined> {
  try {
    if (detach) {
      const socket = detachDaemon(io.env);
      io.stdout.write(`tls-resumption: cache daemon starting at ${socket} (log: ${socket}.log)\n`);
      return 0;
    }
    const running = await runDaemon({ env: io.env });
    if (running === undefined) return 0;
    handleDaemonSignals(running, running.primary.logger);
    return undefined;
  } catch (error) {
    return fail(io, error);
  }
}

/**
 * `tls-resumption daemon --stop`: stops the daemon at the deployment's
 * socket and waits until it is gone; 3 when none answers.
 */
async function stop(io: MainIo): Promise<number> {
  try {
    const { pid, socketPath, attached } = await stopDaemon(io.env);
    io.stdout.write(`tls-resumption: cache daemon pid ${pid} stopped; ${socketPath} removed\n`);
    if (attached > 0) {
      io.stdout.write(`tls-resumption: ${attached} process${attached === 1 ? ' was' : 'es were'} attached: each starts another daemon, with its own settings, when it next looks for one; stop them first to stop for good\n`);
    }
    return 0;
  } catch (error) {
    const code = fail(io, error, 'daemon --stop');
    return error instanceof NotRunningError ? NOT_RUNNING_EXIT : code;
  }
}

type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'daemon'; detach: boolean; stop: boolean }
  | { kind: 'status'; json: boolean }
  | { kind: 'run'; module: string; port: number; host: string | undefined; pidFile: { path: string; source: 'option' | 'env' } | undefined };

/**
 * Reads the arguments and `PORT`.
 * @throws UsageError for unknown options, a missing or extra module, a bad `--port`.
 * @throws InvalidEnvironmentError for a bad `PORT`.
 * @throws ServerModuleError when the module file does not exist.
 */
function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        'pid-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        detach: { type: 'boolean' },
        stop: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw usageError(error);
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  if (positionals[0] === 'daemon') {
    if (positionals.length > 1 || values.port !== undefined || values.host !== undefined || values['pid-file'] !== undefined) {
      throw new UsageError('tls-resumption daemon takes no module, --port, --host or --pid-file; only --detach or --stop');
    }
    if (values.json !== undefined) throw new UsageError('--json goes with the status command: tls-resumption status --json');
    if (values.detach === true && values.stop === true) throw new UsageError('--detach and --stop do not go together: tls-resumption daemon --stop stops the running daemon');
    return { kind: 'daemon', detach: values.detach === true, stop: values.stop === true };
  }
  if (values.stop === true && positionals[0] !== 'daemon') throw new UsageError('--stop goes with the daemon command: tls-resumption daemon --stop');
  if (positionals[0] === 'status') {
    if (positionals.length > 1 || values.port !== undefined || values.host !== undefined || values.detach !== undefined || values['pid-file'] !== undefined) {
      throw new UsageError('tls-resumption status takes no module, --port, --host, --pid-file or --detach; only --json');
    }
    return { kind: 'status', json: values.json === true };
  }
  if (values.json !== undefined) throw new UsageError('--json goes with the status command: tls-resumption status --json');
  if (values.detach === true) throw new UsageError('--detach goes with the daemon command: tls-resumption daemon --detach');
  if (positionals.length === 0) throw new UsageError('Missing the server module: tls-resumption [options] ./server.js');
  if (positionals.length > 1) {
    throw new UsageError(`Expected one server module, got ${positionals.length}: ${positionals.map((p) => JSON.stringify(p)).join(', ')}`);
  }
  const port = values.port !== undefined ? readPort(values.port, 'option') : env.PORT ? readPort(env.PORT, 'env') : DEFAULT_PORT;
  if (values.host !== undefined && values.host.trim() === '') throw new UsageError('--host needs an address, e.g. --host 127.0.0.1');
  const pidFile =
    values['pid-file'] !== undefined
      ? { path: values['pid-file'], source: 'option' as const }
      : env[PID_FILE_VARIABLE] !== undefined
        ? { path: env[PID_FILE_VARIABLE], source: 'env' as const }
        : undefined;
  return { kind: 'run', module: serverModule(positionals[0]), port, host: values.host, pidFile };
}

function readPort(text: string, from: 'option' | 'env'): number {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (Number.isInteger(port) && port >= 0 && port <= 65535) return port;
  const expected = 'a port number from 0 to 65535 (0 picks a free port)';
  if (from === 'env') throw new InvalidEnvironmentError('PORT', `expected ${expected}, got ${JSON.stringify(text)}`);
  throw new UsageError(`--port expects ${expected}, got ${JSON.stringify(text)}`);
}

/** The module's absolute path, checked to be a file (URLs are taken as they are). */
function serverModule(given: string): string {
  if (/^(file|data|https?):/i.test(given)) return given;
  const path = resolve(given);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    // Reported below.
  }
  if (!isFile) {
    throw new ServerModuleError(given, `No such server module: ${given} (looked for ${path}); give the path of a JavaScript module whose default export returns a tls.Server`);
  }
  return path;
}

/** Node's `parseArgs` error as a usage error; an unknown option gets the closest known one. */
function usageError(error: unknown): UsageError {
  const { code, message } = summarize(error);
  const unknown = code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']+)'/.exec(message)?.[1] : undefined;
  if (unknown === undefined) return new UsageError(message);
  const suggestion = nearestName(unknown, OPTIONS);
  return new UsageError(`Unknown option ${unknown}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`);
}

/** Writes the failure; usage errors point to --help. Resolves to the exit code. */
function fail(io: MainIo, error: unknown, command?: 'status' | 'daemon --stop'): number {
  const { code, message } = summarize(error);
  const usage = error instanceof UsageError;
  const text = `${code ? `${code}: ` : ''}${message}`;
  const failed = command === undefined ? 'tls-resumption: could not start:' : `tls-resumption ${command}:`;
  io.stderr.write(usage ? `tls-resumption: ${text}\nRun tls-resumption --help for the options and variables.\n` : `${failed} ${text}\n`);
  return usage ? USAGE_EXIT : 1;
}
