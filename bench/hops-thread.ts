/**
 * The server module of `hops.ts`'s worker thread: a TLS server whose
 * lookups are probed (`lib/hop-probe.ts`), each one's hops appended to a
 * file as a JSON line.
 *
 * @module
 */
import { appendFileSync } from 'node:fs';
import { createServer, type Server } from 'node:tls';
import type { ServerContext } from '../lib/runtime/server-context.ts';
import { probeLookups } from './lib/hop-probe.ts';

export default function hopsServer(context: ServerContext): Server {
  const { cert, key, out } = context.data as { cert: string; key: string; out: string };
  const server = createServer({ cert, key, ...context.serverOptions }, (socket) => socket.end());
  probeLookups(server, (hops) => appendFileSync(out, `${JSON.stringify(hops)}\n`));
  return server;
}
