/**
 * An HTTPS app written the ordinary `node:cluster` way (a primary forking
 * worker processes, each listening on the same port), with the session
 * cache added: one call in the primary, one attach in each worker. Every
 * worker process then resumes every other's sessions, by session ID and by
 * ticket, TLS 1.2 and 1.3.
 *
 * ```sh
 * npm run example:cluster                     # PORT=8443, WORKERS = cores
 * curl -k https://localhost:8443/
 * ```
 *
 * Environment: `PORT` (default 8443), `WORKERS` (default: one per core),
 * `TLS_CACHE_CERT` and `TLS_CACHE_KEY` (PEM files; without them the primary
 * makes a self-signed certificate for localhost and hands it to the workers
 * in a private temporary directory), and the `TLS_CACHE_*` settings.
 * Signals to the primary: SIGHUP restarts every worker process, one at a
 * time (new code and certificate files, every session kept), SIGUSR1
 * rotates the ticket keys, SIGUSR2 flushes every session and key,
 * SIGTERM/SIGINT stop.
 *
 * @module
 */
import cluster from 'node:cluster';
import { constants } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { attachSharedCache, sharedCacheServerOptions, loadConfig, startClusterCache } from '../lib/index.ts';
import { CERTIFICATE_VARIABLES, loadCertificate } from './certificate.ts';

const port = Number(process.env.PORT || 8443);

if (cluster.isPrimary) {
  const cache = await startClusterCache({ applicationVariables: CERTIFICATE_VARIABLES }); // <- added: the cache lives in the primary

  // The workers read the same certificate: a development one goes to files only they and we can read.
  const certificate = await loadCertificate(process.env);
  const env: Record<string, string> = {};
  let directory: string | undefined;
  if (certificate.source === 'self-signed') {
    directory = mkdtempSync(join(tmpdir(), 'cluster-app-'));
    writeFileSync(join(directory, 'cert.pem'), certificate.cert, { mode: 0o600 });
    writeFileSync(join(directory, 'key.pem'), certificate.key, { mode: 0o600 });
    env.TLS_CACHE_CERT = join(directory, 'cert.pem');
    env.TLS_CACHE_KEY = join(directory, 'key.pem');
  }

  // The workers accept connections themselves: under Node's default (SCHED_RR) the primary accepts and hands over
  // each one, which costs more CPU than the cache (docs/node-cluster.md). NODE_CLUSTER_SCHED_POLICY still decides.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const workers = Number(process.env.WORKERS || availableParallelism());
  for (let i = 0; i < workers; i++) cluster.fork(env);
  let stopping = false;
  cluster.on('exit', (worker, code, signal) => {
    // A worker that was disconnected on purpose (a restart, a stop) is not replaced here.
    if (stopping || worker.exitedAfterDisconnect) return;
    cache.logger.warn({ pid: worker.process.pid, code, signal }, 'worker exited; starting another');
    cluster.fork(env);
  });
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers) cache.logger.info({ port, workers }, `listening: curl -k https://localhost:${port}/`);
  });

  // A rolling restart: the replacements get the same environment; the outcome is logged either way.
  process.on('SIGHUP', () => cache.restartWorkers({ fork: () => cluster.fork(env) }).catch(() => undefined));
  process.on('SIGUSR1', () => cache.rotateTicketKeys());
  process.on('SIGUSR2', () => cache.flush());
  const stop = (): void => {
    stopping = true;
    cluster.disconnect(() => {
      if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
      cache.close().then(() => process.exit(0));
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const { cert, key } = await loadCertificate(process.env);
  const secureOptions = loadConfig().tickets === 'off' ? constants.SSL_OP_NO_TICKET : 0;
  const server = createServer({ cert, key, secureOptions, ...sharedCacheServerOptions() }, (request, response) => {
    const socket = request.socket as TLSSocket;
    response.setHeader('content-type', 'text/plain; charset=utf-8');
    response.end(
      `Hello from worker process ${process.pid}; TLS session ${socket.isSessionReused() ? 'reused' : 'new'}, ${socket.getProtocol()}\n`,
    );
  });
  await attachSharedCache(server); // <- added: the shared cache and ticket keys
  server.listen(port);
}
