// An HTTPS app run by PM2 in cluster mode (`pm2 start ecosystem.config.cjs`), with the session cache
// added by one line: `await attachSharedCache(server)`. Under PM2 the node:cluster primary is PM2's own
// daemon, so the instances share the cache through the host's cache daemon, which the first instance
// starts and which outlives every instance (`pm2 reload`, a crash, a deploy): every instance resumes
// every other's sessions, by session ID and by ticket, TLS 1.2 and 1.3. Answers with its pid.
//
// Environment: PORT (default 8443), APP_CERT and APP_KEY (PEM files; the ecosystem file
// makes a development certificate when they are unset), and the TLS_CACHE_* settings.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { attachSharedCache, sharedCacheServerOptions } from 'tls-resumption';

const port = Number(process.env.PORT || 8443);
const server = createServer(
  {
    cert: readFileSync(process.env.APP_CERT),
    key: readFileSync(process.env.APP_KEY),
    ...sharedCacheServerOptions(), // the deployment's sessionTimeout and sessionIdContext
  },
  (request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(`${JSON.stringify({ pid: process.pid, reused: request.socket.isSessionReused(), protocol: request.socket.getProtocol() })}\n`);
  },
);
await attachSharedCache(server); // <- added: finds (or starts) the cache daemon; never waits more than 2 s

server.listen(port); // in cluster mode, pm2 reload moves on once this instance listens

// pm2 stop and pm2 reload send SIGINT: finish the connections in flight, then exit. Not at once: under PM2 the
// node:cluster primary hands each connection over to an instance, and one it handed over just before this server
// closed is only passed on to another instance if this one is still there to answer (Node's round-robin handoff).
process.on('SIGINT', () => {
  server.close(() => setTimeout(() => process.exit(0), 500));
  server.closeIdleConnections();
});
