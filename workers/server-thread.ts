/**
 * One server thread of the cluster runtime: opens the shared table and the
 * ticket key ring, lets the server module make its server, attaches the
 * cache and the ring, listens on the shared port with `reusePort`, and closes
 * gracefully when the primary says stop.
 *
 * @module
 */
import { constants } from 'node:crypto';
import type { Http2Session } from 'node:http2';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { FromServerThread, ServerThreadData, ToServerThread } from '../lib/cluster-messages.ts';
import { summarize } from '../lib/cluster-messages.ts';
import { HOOK_COUNTER_NAMES, SharedCounters, TICKET_COUNTER_NAMES } from '../lib/counters.ts';
import { InvalidSessionError, TicketsNotDisabledError } from '../lib/errors.ts';
import { attachSessionCache, sessionCacheOf, sessionCacheServerOptions, type SessionCacheBinding } from '../lib/hooks.ts';
import type { ServerContext } from '../lib/server-context.ts';
import { SessionTable } from '../lib/table.ts';
import { TicketKeyRing } from '../lib/ticket-keys.ts';
import { attachTicketKeys, ticketKeysOf, type TicketKeyBinding } from '../lib/tickets.ts';

/** How often a stopping server closes connections that went idle (HTTP keep-alive). */
const IDLE_SWEEP_MS = 100;

const port = parentPort!;
const data = workerData as ServerThreadData;
const logger = pino({ level: data.config.logLevel, name: 'tls-session-cache' }).child({
  workerId: data.workerId,
  threadId,
});

function post(message: FromServerThread): void {
  port.postMessage(message);
}

interface Started {
  server: TlsServer;
  binding: SessionCacheBinding;
  tickets: TicketKeyBinding | undefined;
}

/** The TLS-level counts of this thread, added to the cluster's shared counters. */
const counters = SharedCounters.open(data.counters);

async function start(): Promise<Started> {
  const table = SessionTable.open(data.buffer);
  const ticketKeys = data.ticketKeys === undefined ? undefined : TicketKeyRing.open(data.ticketKeys);
  const context: ServerContext = Object.freeze({
    workerId: data.workerId,
    table,
    ticketKeys,
    serverOptions: sessionCacheServerOptions(table),
    logger,
    config: Object.freeze({ ...data.config }),
    data: data.data,
  });
  const module = (await import(data.module)) as { default?: unknown };
  if (typeof module.default !== 'function') {
    throw new TypeError(`The server module ${data.module} has no default export function (context) => tls.Server`);
  }
  const server: unknown = await module.default(context);
  if (!(server instanceof TlsServer)) {
    throw new TypeError(
      `The default export of ${data.module} returned ${server === null ? 'null' : typeof server}; expected a tls.Server (tls, https or http2 secure server), not listening yet`,
    );
  }
  const binding =
    sessionCacheOf(server) ??
    attachSessionCache(server, table, {
      counters: counters.mirror(HOOK_COUNTER_NAMES),
      onError(error, hook) {
        // Oversize sessions are routine and counted by the table; anything else is worth a look.
        const level = error instanceof InvalidSessionError ? 'debug' : 'warn';
        logger[level]({ err: summarize(error), hook }, 'session store refused');
      },
    });
  const tickets = attachTickets(server, ticketKeys);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: data.port, host: data.host, reusePort: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, binding, tickets };
}

/**
 * With tickets on, makes the server use the shared ring; with tickets off,
 * refuses a server that would issue tickets under keys of its own.
 */
function attachTickets(server: TlsServer, ring: TicketKeyRing | undefined): TicketKeyBinding | undefined {
  if (ring === undefined) {
    const secureOptions = Number((server as { secureOptions?: unknown }).secureOptions ?? 0);
    if ((secureOptions & constants.SSL_OP_NO_TICKET) === 0) {
      throw new TicketsNotDisabledError(
        'Tickets are off (TLS_CACHE_TICKETS=off) but the server would issue tickets under keys of its own thread; ' +
          "create it with secureOptions including SSL_OP_NO_TICKET (e.g. when context.config.tickets === 'off')",
      );
    }
    return undefined;
  }
  const tickets = ticketKeysOf(server) ?? attachTicketKeys(server, ring, { mode: data.ticketMode, counters: counters.mirror(TICKET_COUNTER_NAMES) });
  logger.debug({ mode: tickets.mode }, 'ticket keys attached');
  return tickets;
}

/** Stops accepting, lets open connections finish, then ends the thread. */
function stop(server: TlsServer, sessions: Set<Http2Session>): void {
  logger.debug('closing: no new connections');
  server.close(() => {
    logger.debug('closed: every connection finished');
    process.exit(0);
  });
  for (const session of sessions) session.close();
  const closeIdle = (server as { closeIdleConnections?: () => void }).closeIdleConnections;
  if (typeof closeIdle === 'function') {
    closeIdle.call(server);
    setInterval(() => closeIdle.call(server), IDLE_SWEEP_MS).unref();
  }
}

try {
  const { server, tickets } = await start();
  server.on('secureConnection', (socket: TLSSocket) => counters.countHandshake(socket.isSessionReused(), socket.getProtocol()));
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('error', (error) => logger.error({ err: summarize(error) }, 'server error'));
  port.on('message', (message: ToServerThread) => {
    if (message.type === 'stop') stop(server, sessions);
    else if (message.type === 'ticket-keys') tickets?.refresh();
  });
  const address = server.address();
  post({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : data.port });
} catch (error) {
  // The summary names the failure for the primary; rethrowing ends the thread
  // (and reaches the primary as the Worker's 'error' event should the message not).
  post({ type: 'start-failed', error: summarize(error) });
  throw error;
}
