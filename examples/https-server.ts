/**
 * An HTTPS server on every worker thread, sharing one port and one TLS
 * session cache. Each response says which worker answered and whether the
 * TLS session was resumed.
 *
 * ```sh
 * npm start                         # PORT=8443, one worker per core
 * curl -k https://localhost:8443/
 * ```
 *
 * Environment: `PORT` (default 8443), `TLS_CACHE_CERT` and `TLS_CACHE_KEY`
 * (PEM files; without them a self-signed certificate for localhost is made),
 * and the `TLS_CACHE_*` settings of the runtime. SIGHUP reloads every
 * worker: the files are read again (a renewed certificate), the sessions
 * and ticket keys stay.
 *
 * Run as a program, this file is the primary; each worker thread imports it
 * as the server module and calls its default export.
 *
 * @module
 */
import { constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { isMainThread, threadId } from 'node:worker_threads';
import { runThreadCluster } from '../lib/threads/run-cluster.ts';
import { InvalidEnvironmentError } from '../lib/errors.ts';
import type { ServerContext } from '../lib/runtime/server-context.ts';
import { CERTIFICATE_VARIABLES, loadCertificate, readCertificateFiles, type Certificate } from './certificate.ts';

const DEFAULT_PORT = 8443;

/** Makes this worker's HTTPS server (the runtime attaches the cache and listens). */
export default function createHttpsServer({ workerId, serverOptions, config, data }: ServerContext): Server {
  // Certificate files are read by each thread as it starts, so that a reload (SIGHUP) serves them as they are
  // then; the primary read them once already, to fail at start rather than in every thread.
  const given = data as Certificate;
  const { cert, key } = given.source === 'self-signed' ? given : readCertificateFiles(process.env);
  // Tickets on (the default): the runtime makes every thread encrypt and
  // decrypt them with the shared, rotated key ring, so TLS 1.2 and 1.3
  // tickets resume on any thread. Tickets off (TLS_CACHE_TICKETS=off): no
  // tickets at all, and TLS 1.2 clients resume by session ID from the shared
  // table (the runtime refuses a server that would still issue tickets).
  const secureOptions = config.tickets === 'off' ? constants.SSL_OP_NO_TICKET : 0;
  return createServer({ cert, key, secureOptions, ...serverOptions }, (request, response) => {
    const socket = request.socket as TLSSocket;
    const session = socket.isSessionReused() ? 'reused' : 'new';
    response.setHeader('content-type', 'text/plain; charset=utf-8');
    response.end(`Hello from worker ${workerId} (thread ${threadId}); TLS session ${session}, ${socket.getProtocol()}\n`);
  });
}

function portFromEnv(env: NodeJS.ProcessEnv): number {
  const text = env.PORT;
  if (text === undefined || text === '') return DEFAULT_PORT;
  if (!/^\d+$/.test(text.trim()) || Number(text) > 65535) {
    throw new InvalidEnvironmentError('PORT', `${JSON.stringify(text)} is not a port; expected an integer from 0 to 65535`);
  }
  return Number(text);
}

async function main(): Promise<void> {
  let port: number;
  let certificate: Certificate;
  try {
    port = portFromEnv(process.env);
    certificate = await loadCertificate(process.env);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    process.stderr.write(`https-server: could not start: ${code ? `${code}: ` : ''}${message}\n`);
    process.exitCode = 1;
    return;
  }
  const cluster = await runThreadCluster({ server: new URL(import.meta.url), port, data: certificate, applicationVariables: CERTIFICATE_VARIABLES });
  if (cluster === undefined) return;
  if (certificate.source === 'self-signed') {
    cluster.logger.info(
      { certificate: 'self-signed', subject: 'localhost', validDays: 30 },
      'made a self-signed development certificate for localhost (clients must skip verification: curl -k); set TLS_CACHE_CERT and TLS_CACHE_KEY to use your own',
    );
  } else {
    cluster.logger.info({ certificate: certificate.source }, 'loaded the certificate from TLS_CACHE_CERT and TLS_CACHE_KEY');
  }
  cluster.logger.info(`try: curl -k https://localhost:${cluster.port}/`);
}

if (isMainThread) await main();
