/**
 * What the cluster runtime hands a server module in each worker thread, and
 * what it expects back.
 *
 * A server module's default export is a {@link ServerFactory}: it gets a
 * {@link ServerContext} and returns a `tls.Server` (an `https.Server`, an
 * HTTP/2 secure server, ...) that is not listening yet. The runtime attaches
 * the shared session cache to it (unless the module attached a store
 * itself), listens on the cluster's port with `reusePort`, and closes it on
 * shutdown.
 *
 * @module
 */
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { CacheConfig } from '../config/settings.ts';
import type { RuntimeServerOptions } from './attach-runtime.ts';
import type { SessionTable } from '../table/session-table.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';

/** The argument of a server module's default export. */
export interface ServerContext {
  /** Which worker this is, from 1 to `config.workers`; a restarted worker keeps its number. */
  readonly workerId: number;
  /** The shared session table, opened in this thread. */
  readonly table: SessionTable;
  /**
   * The shared ticket key ring, opened in this thread (read only), or
   * `undefined` when tickets are off (`config.tickets === 'off'`: create the
   * server with `secureOptions: SSL_OP_NO_TICKET` then, or it is refused).
   * The runtime attaches it to the server (unless the module did).
   */
  readonly ticketKeys: TicketKeyRing | undefined;
  /**
   * Options to spread into the server's creation options:
   * `{ sessionTimeout: table.timeout, sessionIdContext: config.sessionIdContext }`,
   * which attaching the cache requires.
   */
  readonly serverOptions: RuntimeServerOptions;
  /** A pino logger whose lines carry `workerId`. */
  readonly logger: Logger;
  /** The cluster's resolved configuration, its secrets redacted as in its logs (`redactConfig`: the Redis secrets and passwords, a password in `redisUrl`). */
  readonly config: Readonly<CacheConfig>;
  /** The `data` given to `startThreadCluster()` (a structured clone), e.g. a certificate. */
  readonly data: unknown;
}

/** The default export of a server module. */
export type ServerFactory = (context: ServerContext) => TlsServer | Promise<TlsServer>;
