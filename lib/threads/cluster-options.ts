/**
 * The options of `startThreadCluster` and `runThreadCluster`, and their checks: every
 * bad option is named before anything starts.
 *
 * @module
 */
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.ts';
import type { CacheConfig, CacheConfigOptions } from '../config/settings.ts';
import { checkApplicationVariables } from '../config/unknown-settings.ts';
import { describe } from '../describe.ts';
import { InvalidOptionError } from '../errors.ts';
import { moduleUrl } from './server-module.ts';

/** Options of {@link startThreadCluster} and {@link runThreadCluster}. */
export interface ThreadClusterOptions {
  /**
   * The server module, run in every worker thread: a file path (relative to
   * the working directory) or a URL. Its default export is a
   * `ServerFactory` (see `runtime/server-context.ts`).
   */
  server: string | URL;
  /** The port every worker listens on; 0 picks a free one (see {@link ThreadCluster.port}). */
  port: number;
  /**
   * The address to listen on.
   * @defaultValue every address (Node's default for `listen()`)
   */
  host?: string;
  /** Settings that win over the environment, as numbers in their unit or as the text of their variable (`{ sessionTimeout: '5m' }`); see `loadConfig()`. @defaultValue `{}` */
  config?: CacheConfigOptions;
  /**
   * The environment to read `TLS_CACHE_*` settings from. A `TLS_CACHE_*`
   * variable that is no setting (a misspelling such as `TLS_CACHE_WORKER`)
   * gets one warning at start, naming it and the closest setting, never its
   * value; see `unknownSettings()`.
   * @defaultValue `process.env`
   */
  env?: NodeJS.ProcessEnv;
  /**
   * `TLS_CACHE_*` variables the application reads itself (the examples'
   * `TLS_CACHE_CERT` and `TLS_CACHE_KEY`): not warned of as unknown.
   * @defaultValue `[]`
   */
  applicationVariables?: readonly string[];
  /**
   * Anything structured-cloneable handed to every server module as
   * `context.data`, e.g. a certificate made once in the primary.
   * @defaultValue `undefined`
   */
  data?: unknown;
  /**
   * The primary's logger. Worker threads log to standard output with pino at
   * `config.logLevel`.
   * @defaultValue pino to standard output at `config.logLevel`
   */
  logger?: Logger;
  /**
   * Node options of the worker threads (as `new Worker()`'s `execArgv`).
   * @defaultValue the primary's `process.execArgv`
   */
  execArgv?: string[];
  /**
   * How worker threads use the ticket key ring: `auto` uses Node's internal
   * ticket key callback when present (every key of the ring decrypts), else
   * the public `setTicketKeys()`; `fallback` forces the latter (one key at a
   * time: a ticket under an older key costs a full handshake).
   * @defaultValue `'auto'`
   */
  ticketMode?: 'auto' | 'fallback';
}

/** {@link ThreadClusterOptions} checked, with the configuration they resolve to. */
export interface CheckedClusterOptions {
  env: NodeJS.ProcessEnv;
  config: CacheConfig;
  applicationVariables: readonly string[];
  port: number;
  host: string | undefined;
  ticketMode: 'auto' | 'fallback';
  /** The server module's URL (a `file:` module exists). */
  module: string;
}

/**
 * Checks `options` and loads the configuration.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) or InvalidEnvironmentError (`ERR_TLS_CACHE_INVALID_ENV`) for bad settings.
 * @throws ServerModuleError (`ERR_TLS_CACHE_SERVER_MODULE`) when the server module is a file that does not exist.
 */
export function checkClusterOptions(options: ThreadClusterOptions): CheckedClusterOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', `expected an object, got ${describe(options)}`);
  }
  const env = options.env ?? process.env;
  const config = loadConfig(options.config ?? {}, env);
  const applicationVariables = options.applicationVariables ?? [];
  checkApplicationVariables(applicationVariables);
  const port = options.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidOptionError('port', `expected an integer from 0 to 65535, got ${describe(port)}`);
  }
  const host = options.host;
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new InvalidOptionError('host', `expected an address, got ${describe(host)}`);
  }
  const ticketMode = options.ticketMode ?? 'auto';
  if (ticketMode !== 'auto' && ticketMode !== 'fallback') {
    throw new InvalidOptionError('ticketMode', `expected "auto" or "fallback", got ${describe(ticketMode)}`);
  }
  const execArgv = options.execArgv;
  if (execArgv !== undefined && !(Array.isArray(execArgv) && execArgv.every((a) => typeof a === 'string'))) {
    throw new InvalidOptionError('execArgv', `expected an array of strings, got ${describe(execArgv)}`);
  }
  // After the options: a bad option is named even when the module is missing too.
  const module = moduleUrl(options.server);
  return { env, config, applicationVariables, port, host, ticketMode, module };
}
