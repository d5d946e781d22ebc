/**
 * The node:cluster attach line in a server thread of the cluster runtime
 * (issue 6): `await attachSharedCache(server)` attaches the shared table
 * and ticket keys, the runtime does not attach them again, and every
 * handshake is counted once.
 */
import t from 'tap';
import { startThreadCluster } from '../lib/threads/cluster.ts';
import { loadCertificate } from '../examples/certificate.ts';
import { reconnect } from './helpers/cluster-client.ts';

const { cert, key } = await loadCertificate({});
const cluster = await startThreadCluster({
  server: new URL('./fixtures/attach-thread-server.ts', import.meta.url),
  port: 0,
  host: '127.0.0.1',
  config: { workers: 3, logLevel: 'silent', summaryInterval: 0 },
  env: {},
  data: { cert, key },
  execArgv: [],
});
t.teardown(() => cluster.stop());

t.test('the same attach line works in runtime threads: >= 99% resumed, counted once', async (t) => {
  const runs = 60;
  let handshakes = 0;
  for (const options of [{ version: 'TLSv1.2', noTicket: true }, { version: 'TLSv1.3' }] as const) {
    const { ratio, pids } = await reconnect({ port: cluster.port, ...options }, runs);
    handshakes += runs + 1;
    t.equal(pids.size, 3, `${options.version}: every thread served`);
    t.ok(ratio >= 0.99, `${options.version}: resumed ${(ratio * 100).toFixed(1)}%`);
  }
  const v = cluster.counters.values();
  const counted = v.fullTls12 + v.fullTls13 + v.resumedTls12 + v.resumedTls13;
  t.equal(counted, handshakes, `every handshake counted once (${counted})`);
  t.ok(v.lookupHits >= runs * 0.99, 'session-ID resumptions went through the shared table hooks');
  t.ok(v.decrypted >= runs * 0.99, 'tickets went through the shared ring');
});
