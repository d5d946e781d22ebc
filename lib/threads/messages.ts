/**
 * The messages between the cluster's primary and its server threads.
 * Internal to the runtime.
 *
 * @module
 */
import type { NodeCapabilities } from '../tls/known-capabilities.ts';
import type { WorkerSettings } from '../runtime/worker-settings.ts';
import type { LogFormat } from '../operations/logger.ts';
import type { ErrorSummary } from '../describe.ts';

/** `workerData` of a server thread. */
export interface ServerThreadData {
  workerId: number;
  buffer: SharedArrayBuffer;
  /** URL of the server module. */
  module: string;
  port: number;
  host: string | undefined;
  /** The one settings message (`runtime/worker-settings.ts`): the configuration and how ticket keys are attached. */
  settings: WorkerSettings;
  data: unknown;
  /** The ticket key ring's buffer (`TicketKeyRing.buffer`); absent when tickets are off. */
  ticketKeys: SharedArrayBuffer | undefined;
  /** The shared counter block's buffer (`SharedCounters.buffer`). */
  counters: SharedArrayBuffer;
  /** How to write log lines, resolved by the primary (threads cannot tell whether standard output is a terminal). */
  log: { format: LogFormat; colour: boolean };
  /** TLS 1.3 ticket renewal, as the primary's self-test found it (same Node and OpenSSL); absent when it did not run. */
  renewal?: { state: 'on' | 'off'; reason: string | undefined };
  /** What this Node supports, as the primary checked it (`tls/node-capabilities.ts`: same Node, same OpenSSL). */
  capabilities: NodeCapabilities;
}

/** Primary to thread. */
export type ToServerThread =
  | { type: 'stop' }
  /** The ticket keys changed (rotation, flush): a fallback server sets the new key now. */
  | { type: 'ticket-keys' };

/** Thread to primary. */
export type FromServerThread =
  | {
      type: 'listening';
      port: number;
      /** The server uses SNI (see `runtime/certificate-binding.ts`): the primary warns once. */
      sni: 'SNICallback' | 'addContext' | undefined;
      /** Why its sessions are not bound to its certificate, if they are not: the primary warns once. */
      unbound: 'internals' | 'no-certificate' | undefined;
      /** Its certificates' SHA-256 fingerprints, comma-separated (`RuntimeBinding.certificates()`), announced to the other hosts with Redis. */
      certificate: string | undefined;
    }
  /** The listening server's certificates changed (`setSecureContext()`, or a name served from a certificate not seen before). */
  | { type: 'certificate'; certificate: string | undefined }
  | { type: 'start-failed'; error: ErrorSummary }
  /** Told to stop, the thread closed its listening socket and drains its connections. */
  | { type: 'draining' };

/**
 * Where a failure started, for a person: the stack of the innermost cause
 * that has one (the application's own line, under the library's wrapper),
 * or `undefined` when the failure has no cause with a stack.
 */
export function originOf(summary: ErrorSummary | undefined): string | undefined {
  const cause = summary?.cause;
  return cause === undefined ? undefined : (originOf(cause) ?? cause.stack);
}
