/**
 * Headless Chromium against 4 worker threads, TLS 1.3 with the shared
 * ticket keys: a page that makes 20 requests one after another, each on a
 * new connection (the server answers `Connection: close`). Chromium uses
 * each ticket once (RFC 8446 appendix C.4); every resumption now brings a
 * fresh ticket, so every connection resumes except those made before the
 * first tickets arrived: the page's own, and the one Chromium opens
 * speculatively while the page loads (it serves the first request). Before
 * renewal it was two of every three.
 */
import t from 'tap';
import { startTestCluster } from '../fixtures/start.ts';
import type { Served } from '../fixtures/session-server.ts';
import { pageResult } from '../helpers/chromium.ts';
import { CHROMIUM, requireCommand } from '../helpers/requirements.ts';

requireCommand(t, CHROMIUM);

const REQUESTS = 20;

t.test(`a page opening ${REQUESTS} connections one after another resumes all but those made before the first tickets`, async (t) => {
  const { cluster } = await startTestCluster('https', 'shared', {}, { tickets: true, closeConnections: true });
  t.teardown(() => cluster.stop());
  const results = await pageResult<Served[]>(`https://127.0.0.1:${cluster.port}/page?n=${REQUESTS}`);
  t.equal(results.length, REQUESTS);
  t.ok(results.every((r) => r.protocol === 'TLSv1.3'), 'TLS 1.3');
  const resumed = results.filter((r) => r.reused).length;
  const workers = new Set(results.map((r) => r.workerId));
  const pattern = results.map((r) => (r.reused ? 'R' : 'F')).join('');
  t.comment(`Chromium: ${resumed} of ${REQUESTS} connections resumed: ${pattern}, on workers ${[...workers].sort().join(', ')}`);
  // At most the first request, on the connection Chromium opened while the page loaded, is a full handshake.
  t.match(pattern, /^F?R+$/, 'full handshakes only before the first resumption; from then on every connection resumed');
  t.ok(resumed >= REQUESTS - 1, `${resumed} of ${REQUESTS} resumed`);
  t.ok(workers.size >= 2, 'on several workers');
  const counts = cluster.counters.values();
  t.ok(counts.resumedTls13 >= REQUESTS, `the server counted ${counts.resumedTls13} resumed and ${counts.fullTls13} full TLS 1.3 handshakes`);
  const tickets = await cluster.ticketCounters();
  t.ok(tickets.renewed >= REQUESTS, `each resumption got a fresh ticket (${tickets.renewed} renewed)`);
  t.equal(tickets.expired, 0);
});
