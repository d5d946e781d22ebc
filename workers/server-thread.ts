/**
 * One server thread of the cluster runtime: opens the shared table and the
 * ticket key ring, lets the server module make its server, attaches the
 * cache and the ring, listens on the shared port with `reusePort`, and closes
 * gracefully when the primary says stop.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import type { Http2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { Server as TlsServer } from 'node:tls';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import type { FromServerThread, ServerThreadData, ToServerThread } from '../lib/threads/messages.ts';
import { summarize } from '../lib/describe.ts';
import { redactConfig } from '../lib/config/redact.ts';
import { SharedCounters } from '../lib/operations/counters.ts';
import { createStore, type RuntimeStore } from '../lib/runtime/create-store.ts';
import { attachRuntime, runtimeServerOptions, type RuntimeBinding } from '../lib/runtime/attach-runtime.ts';
import type { ServerContext } from '../lib/runtime/server-context.ts';
import { sniInUse } from '../lib/tls/node-internals.ts';
import { adoptNodeCapabilities } from '../lib/tls/known-capabilities.ts';
import { attachOnce, setThreadRuntime } from '../lib/runtime/thread-runtime.ts';
import { SessionTable } from '../lib/table/session-table.ts';
import { ServerModuleError } from '../lib/errors.ts';
import { createLogger } from '../lib/operations/logger.ts';
import { TicketKeyRing } from '../lib/tickets/key-ring.ts';
import { setRenewalState } from '../lib/tickets/ticket-links.ts';

/** How often a stopping server closes connections that went idle (HTTP keep-alive). */
const IDLE_SWEEP_MS = 100;

const port = parentPort!;
const data = workerData as ServerThreadData;
const { config, ticketMode } = data.settings;
const logger = createLogger({ level: config.logLevel, ...data.log }).child({
  workerId: data.workerId,
  threadId,
});

function post(message: FromServerThread): void {
  port.postMessage(message);
}

interface Started extends RuntimeBinding {
  server: TlsServer;
}

/** The TLS-level counts of this thread, added to the cluster's shared counters. */
const counters = SharedCounters.open(data.counters);
/** This thread's session store (with `redisUrl`, the table then Redis over a connection of its own). */
let sessionStore: RuntimeStore<unknown> | undefined;

async function start(): Promise<Started> {
  // The primary checked this Node, and ran the renewal self-test, for every thread: no need to again here.
  adoptNodeCapabilities(data.capabilities);
  if (data.renewal !== undefined) setRenewalState(data.renewal.state, data.renewal.reason);
  const table = SessionTable.open(data.buffer);
  const ticketKeys = data.ticketKeys === undefined ? undefined : TicketKeyRing.open(data.ticketKeys);
  const context: ServerContext = Object.freeze({
    workerId: data.workerId,
    table,
    ticketKeys,
    serverOptions: runtimeServerOptions(table, config),
    logger,
    // The server module has no use for the Redis secrets; keep them out of anything it might log.
    config: Object.freeze(redactConfig(config)),
    data: data.data,
  });
  // With Redis, a miss in this host's table asks Redis (bounded by redisTimeout); new sessions go to both.
  const created = createStore({ host: table, config, counters, logger });
  sessionStore = created;
  const { store } = created;
  // Every attach in this thread, the runtime's below and a module's attachSharedCache(), attaches this store (issue 22).
  const attach = attachOnce((server) =>
    attachRuntime(server, {
      store,
      ticketKeys,
      ticketMode: ticketMode,
      counters,
      logger,
      sessionIdContext: config.sessionIdContext,
      onCertificates: (fingerprints) => post({ type: 'certificate', certificate: fingerprints.join(',') || undefined }),
    }),
  );
  setThreadRuntime({ serverOptions: context.serverOptions, attach });
  const server = await makeServer(context);
  const attached = attach(server);
  // Renewal of TLS 1.3 tickets starts once this thread's self-test passed: listen after it.
  await attached.tickets?.ready;
  if (attached.tickets !== undefined) logger.debug({ mode: attached.tickets.mode, renewing: attached.tickets.renewing }, 'ticket keys attached');
  // The first handshakes should find Redis (its connection, or a Redis Cluster's masters, still opening); not for long.
  await created.ready();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: data.port, host: data.host, reusePort: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, ...attached };
}

/**
 * Loads the server module and calls its default export. Every way it can
 * fail is a `ServerModuleError` naming the module (not its data).
 */
async function makeServer(context: ServerContext): Promise<TlsServer> {
  let module: { default?: unknown };
  try {
    module = (await import(data.module)) as { default?: unknown };
  } catch (error) {
    if (error instanceof SyntaxError) locateSyntaxError(error, data.module);
    throw new ServerModuleError(data.module, `The server module ${data.module} failed to load: ${describeFailure(error)}`, { cause: error });
  }
  if (typeof module.default !== 'function') {
    throw new ServerModuleError(
      data.module,
      `The server module ${data.module} has no default export function; export default (context) => tls.Server (tls, https or http2 secure server, not listening yet)`,
    );
  }
  let server: unknown;
  try {
    server = await module.default(context);
  } catch (error) {
    throw new ServerModuleError(data.module, `The default export of ${data.module} threw: ${describeFailure(error)}`, { cause: error });
  }
  if (!(server instanceof TlsServer)) {
    throw new ServerModuleError(
      data.module,
      `The default export of ${data.module} returned ${server === null ? 'null' : typeof server === 'object' ? `an object that is not a tls.Server (${server.constructor?.name ?? 'no constructor'})` : typeof server}; expected a tls.Server (tls, https or http2 secure server), not listening yet`,
    );
  }
  if (server.listening) {
    throw new ServerModuleError(
      data.module,
      `The default export of ${data.module} returned a server that is already listening; return it before listen(): the runtime listens on the shared port itself`,
    );
  }
  return server;
}

/**
 * Puts the file, line and column of a syntax error at the top of its stack:
 * Node prints them for an uncaught one, but a caught `import()` failure
 * carries none, so `node --check` finds them again (only on this path).
 */
function locateSyntaxError(error: SyntaxError, module: string): void {
  if (!module.startsWith('file:')) return;
  const checked = spawnSync(process.execPath, ['--check', fileURLToPath(module)], { encoding: 'utf8', timeout: 10_000 });
  const location = checked.stderr?.split(/\n\s*\n/)[0]?.trimEnd();
  if (checked.status !== 0 && location) error.stack = `${location}\n\n${error.stack ?? `${error.name}: ${error.message}`}`;
}

/** An error's code and message, for a message about the module that threw it. */
function describeFailure(error: unknown): string {
  const { code, message } = summarize(error);
  return code === undefined || message.startsWith(code) ? message : `${code}: ${message}`;
}

let stopping = false;

/** Stops accepting, lets open connections finish, then ends the thread. Once: a second stop changes nothing. */
function stop(server: TlsServer, sessions: Set<Http2Session>): void {
  if (stopping) return;
  stopping = true;
  logger.debug('closing: no new connections');
  server.close(() => {
    logger.debug('closed: every connection finished');
    sessionStore?.close();
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
  const { server, tickets, certificate, certificates } = await start();
  const sessions = new Set<Http2Session>();
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('error', (error) => logger.error({ err: summarize(error) }, 'server error'));
  port.on('message', (message: ToServerThread) => {
    if (message.type === 'stop') {
      stop(server, sessions);
      post({ type: 'draining' });
    } else if (message.type === 'ticket-keys') tickets?.refresh();
  });
  const address = server.address();
  post({
    type: 'listening',
    port: typeof address === 'object' && address !== null ? address.port : data.port,
    // Checked now rather than at attach: contexts added before listening count too.
    sni: sniInUse(server),
    unbound: certificate.unbound,
    certificate: certificates().join(',') || undefined,
  });
} catch (error) {
  // The summary names the failure for the primary; rethrowing ends the thread
  // (and reaches the primary as the Worker's 'error' event should the message not).
  post({ type: 'start-failed', error: summarize(error, { stack: true }) });
  throw error;
}
