/**
 * The library's pino loggers: JSON lines for log collectors, or readable
 * lines (pino-pretty) for a person at a terminal, as `TLS_CACHE_LOG_FORMAT`
 * says (`auto`: pretty when standard output is a terminal).
 *
 * @module
 */
import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
import type { CacheConfig } from '../config/settings.ts';

/** pino-pretty is loaded only for pretty lines: a process logging JSON (a service, a daemon) does not pay its start-up. */
const require = createRequire(import.meta.url);

/** A resolved format: what the log lines look like. */
export type LogFormat = 'json' | 'pretty';

/** What {@link createLogger} needs. */
export interface LoggerOptions {
  /** The least severe pino level written. */
  level: string;
  /** `json`, or `pretty` (with colours when `colour`). */
  format: LogFormat;
  /** Colour the pretty lines (a terminal). @defaultValue `false` */
  colour?: boolean;
}

/**
 * Resolves `TLS_CACHE_LOG_FORMAT` for this process: `auto` is `pretty` when
 * `stdout` is a terminal and `json` otherwise. Worker threads cannot tell
 * (their standard output is a pipe to the main thread): the primary resolves
 * the format and hands the result down.
 */
export function resolveLogFormat(config: Pick<CacheConfig, 'logFormat'>, stdout: { isTTY?: boolean } = process.stdout): { format: LogFormat; colour: boolean } {
  const terminal = stdout.isTTY === true;
  const format: LogFormat = config.logFormat === 'json' || config.logFormat === 'pretty' ? config.logFormat : terminal ? 'pretty' : 'json';
  return { format, colour: format === 'pretty' && terminal };
}

/** A logger named `tls-resumption`, writing to standard output (file descriptor 1). */
export function createLogger({ level, format, colour = false }: LoggerOptions): Logger {
  const options = { level, name: 'tls-resumption' };
  // Synchronous, on descriptor 1: usable from worker threads, nothing lost or reordered at exit (pino's default
  // destination writes asynchronously, and its exit-time flush wrote a process's last line before the one in flight).
  if (format === 'json') return pino(options, pino.destination({ dest: 1, sync: true }));
  const pretty = require('pino-pretty') as typeof PinoPretty;
  return pino(options, pretty({ colorize: colour, sync: true, destination: 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'hostname' }));
}
