/**
 * node:cluster worker processes (issue 6) with the ticket fallback (the
 * public `setTicketKeys()`, one key at a time): tickets resume across 4
 * processes, and right after a rotation every process encrypts and decrypts
 * under the new key at once (a worker sets it as soon as the primary's keys
 * arrive, not at its next poll), so a ticket issued just after a rotation
 * resumes on every process. The primary of this app starts the cache only
 * after every worker asked for it once, unanswered: they attach once it
 * answers.
 */
import t from 'tap';
import { reconnect, visit } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';

t.teardown(removeCertificateFiles);
// This app's primary also starts the cache only after every worker asked once, unanswered, and 500 ms
// more: the workers keep asking until it answers.
const app = await startClusterApp({ FIXTURE_TICKET_MODE: 'fallback', FIXTURE_START_AFTER_FORK_MS: '500', TLS_CACHE_OWNER_TIMEOUT: '100ms' });
t.teardown(() => app.kill());

t.test('fallback: TLS 1.3 tickets resume across 4 processes (attached although the cache started after them)', async (t) => {
  const { ratio, pids } = await reconnect({ port: app.port, version: 'TLSv1.3' }, 60);
  t.equal(pids.size, 4);
  t.equal(ratio, 1, '100% resumed');
});

t.test('fallback: a ticket issued right after a rotation resumes on every process', async (t) => {
  t.ok((await app.ask<{ rotated: boolean }>('rotate')).rotated);
  // Well within the 1 s poll of the fallback: only the push makes every process switch this fast.
  const started = Date.now();
  let resumed = 0;
  let tried = 0;
  const pids = new Set<number>();
  for (let i = 0; i < 6; i++) {
    const fresh = (await visit({ port: app.port, version: 'TLSv1.3' })).session!;
    for (let j = 0; j < 4; j++) {
      const v = await visit({ port: app.port, version: 'TLSv1.3', session: fresh });
      pids.add(v.greeting.pid);
      tried++;
      if (v.reused) resumed++;
    }
  }
  t.comment(`${tried} resumptions tried within ${Date.now() - started} ms of the rotation`);
  t.equal(pids.size, 4, 'on every process');
  t.equal(resumed, tried, 'every one resumed: every process holds the new key');
});
