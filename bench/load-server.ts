/**
 * The load benchmark's TLS server, one per worker thread: it completes
 * handshakes and otherwise lets the client close. The mode decides where
 * sessions go:
 * - `none`: Node's defaults. No session hooks (so no TLS 1.2 session-ID
 *   resumption), tickets as Node does them (random keys per server, that is
 *   per thread).
 * - `per-worker`: a `Map` in this thread behind the same hooks the shared
 *   table uses (`attachSessionCache`), tickets as Node does them: what most
 *   applications do. With one worker, the best any cache can do here.
 * - `shared`: this project. The server is made by the cluster runtime's
 *   server module (the default export), and the runtime attaches the shared
 *   table and whatever else it shares across threads (ticket keys).
 * For `tls12-id`, every server sets `SSL_OP_NO_TICKET`, so TLS 1.2 sessions
 * go by session ID; the other protocols keep tickets on.
 *
 * With `http` (the benchmark's `--requests`), the server is an
 * `https.Server` (a `tls.Server` with the same options and hooks) whose
 * every request gets {@link answerRequest}; the `nginx-proxy` mode serves
 * the same answer as plain HTTP behind nginx ({@link createPlainServer}).
 *
 * `none` and `per-worker` run on `bench/load-threads.ts`, a bare
 * worker-thread runner with `reusePort`, not on the cluster runtime: the
 * runtime gives every server it hosts the shared ticket keys, which would
 * no longer be Node's defaults.
 *
 * @module
 */
import { constants } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { attachSessionCache, type SessionCacheBinding, type SessionStore } from '../lib/tls/session-hooks.ts';
import type { ServerContext } from '../lib/runtime/server-context.ts';
import type { Protocol } from './lib/load-args.ts';

/** `upstream`: plain HTTP, no TLS (the Node side of `nginx-proxy`). */
export type NodeMode = 'none' | 'per-worker' | 'shared' | 'upstream';

export interface LoadServerData {
  mode: NodeMode;
  protocol: Protocol;
  cert: string;
  key: string;
  /** Answer HTTP/1.1 requests after the handshake (an `https.Server`); handshakes only when absent. */
  http?: boolean;
}

/** The one answer of every server under test (nginx's `return 200 "ok\n"` says the same). */
export function answerRequest(_request: IncomingMessage, response: ServerResponse): void {
  // x-bench-server tells a test that nginx-proxy's answer came from Node, not from nginx.
  response.writeHead(200, { 'content-type': 'text/plain', 'x-bench-server': 'node' });
  response.end('ok\n');
}

/** The `nginx-proxy` mode's upstream: {@link answerRequest} over plain HTTP/1.1 (keep-alive), not listening yet. */
export function createPlainServer(): HttpServer {
  const server = createHttpServer({ keepAliveTimeout: 60_000 }, answerRequest);
  server.on('clientError', (_error, socket) => socket.destroy());
  return server;
}

/** A per-thread cache as applications write it: a Map keyed by the hex ID, expiring on read. */
export function perWorkerMapStore(timeout: number): SessionStore {
  const sessions = new Map<string, { session: Buffer; expires: number }>();
  return {
    timeout,
    get(id) {
      const key = Buffer.from(id).toString('hex');
      const entry = sessions.get(key);
      if (entry === undefined) return undefined;
      if (entry.expires > Date.now()) return entry.session;
      sessions.delete(key);
      return undefined;
    },
    set(id, session) {
      sessions.set(Buffer.from(id).toString('hex'), { session: Buffer.from(session), expires: Date.now() + timeout * 1000 });
      return true;
    },
  };
}

/**
 * Makes one thread's server, not listening yet; for `per-worker` with its
 * Map attached (the binding counts its hooks).
 */
export function createBenchServer(
  data: LoadServerData,
  serverOptions: { sessionTimeout: number; sessionIdContext?: string },
): { server: Server; binding: SessionCacheBinding | undefined } {
  const sessionTimeout = serverOptions.sessionTimeout;
  const options = {
    cert: data.cert,
    key: data.key,
    ...serverOptions,
    ...(data.protocol === 'tls12-id' ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
  };
  const server: Server = data.http === true
    ? createHttpsServer(options, answerRequest)
    : createServer(options, (socket: TLSSocket) => {
      // The client closes after its handshake (and, in TLS 1.3, its ticket).
      socket.on('error', () => {});
      socket.resume();
    });
  // Clients cut at the end of a window: not worth a log line.
  server.on('tlsClientError', () => {});
  const binding = data.mode === 'per-worker' ? attachSessionCache(server, perWorkerMapStore(sessionTimeout)) : undefined;
  return { server, binding };
}

/** The cluster runtime's server module (`shared` mode): the runtime attaches what it shares. */
export default function createLoadServer(context: ServerContext): Server {
  const data = context.data as LoadServerData;
  return createBenchServer({ ...data, mode: 'shared' }, context.serverOptions).server;
}
