/**
 * The messages between the cluster's primary and its server threads.
 * Internal to the runtime.
 *
 * @module
 */
import type { CacheConfig } from '../config/settings.ts';
import type { LogFormat } from '../operations/logger.ts';

/** `workerData` of a server thread. */
export interface ServerThreadData {
  workerId: number;
  buffer: SharedArrayBuffer;
  /** URL of the server module. */
  module: string;
  port: number;
  host: string | undefined;
  config: CacheConfig;
  data: unknown;
  /** The ticket key ring's buffer (`TicketKeyRing.buffer`); absent when tickets are off. */
  ticketKeys: SharedArrayBuffer | undefined;
  /** The shared counter block's buffer (`SharedCounters.buffer`). */
  counters: SharedArrayBuffer;
  /** `auto`: Node's internal ticket key callback when present; `fallback`: the public single-key API. */
  ticketMode: 'auto' | 'fallback';
  /** How to write log lines, resolved by the primary (threads cannot tell whether standard output is a terminal). */
  log: { format: LogFormat; colour: boolean };
}

/** Primary to thread. */
export type ToServerThread =
  | { type: 'stop' }
  /** The ticket keys changed (rotation, flush): a fallback server sets the new key now. */
  | { type: 'ticket-keys' };

/** A failure that crossed the thread boundary, without its stack. */
export interface ErrorSummary {
  name: string;
  code: string | undefined;
  message: string;
}

/** Thread to primary. */
export type FromServerThread =
  | { type: 'listening'; port: number }
  | { type: 'start-failed'; error: ErrorSummary };

/** Names an error for a message or a log line, never including its data. */
export function summarize(error: unknown): ErrorSummary {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : undefined, message: error.message };
  }
  return { name: 'Error', code: undefined, message: `a non-error value was thrown (${typeof error})` };
}
