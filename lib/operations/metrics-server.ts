/**
 * The primary's small HTTP endpoint for operators: `GET /metrics` (the
 * Prometheus text of `metrics.ts`) and `GET /health` (200 `ready` only when
 * every worker thread is listening, 503 with a short JSON body otherwise).
 * Off unless `TLS_CACHE_METRICS_PORT` is set.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import { MetricsListenError } from '../errors.ts';
import type { CacheMetrics } from './metrics.ts';

/** What {@link startMetricsServer} serves. */
export interface MetricsServerOptions {
  port: number;
  host: string;
  metrics: CacheMetrics;
  /** Worker threads configured and listening now. */
  workers: () => { configured: number; listening: number };
}

/** A listening metrics endpoint. */
export interface MetricsServer {
  /** The port it listens on (the one asked for, or the one picked for 0). */
  readonly port: number;
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/**
 * Listens on `port` and `host` and serves `/metrics` and `/health`.
 * @throws MetricsListenError (`ERR_TLS_CACHE_METRICS_LISTEN`) when it cannot listen (port taken, bad address, ...).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, workers } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
    } else if (path === '/metrics') {
      metrics.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
      );
    } else if (path === '/health') {
      const { configured, listening } = workers();
      if (listening === configured && configured > 0) res.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
      else res.writeHead(503, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ready: false, listening, workers: configured })}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics or /health\n');
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new MetricsListenError(
          `The metrics endpoint cannot listen on ${options.host} port ${options.port}${error.code ? ` (${error.code})` : ''} ` +
            '(TLS_CACHE_METRICS_PORT and TLS_CACHE_METRICS_HOST, options metricsPort and metricsHost)',
          { cause: error },
        ),
      ),
    );
    server.listen({ port: options.port, host: options.host }, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  server.unref();
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
