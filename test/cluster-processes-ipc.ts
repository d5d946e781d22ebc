/**
 * node:cluster worker processes (issue 6): messages from the IPC channel are
 * input like any other. Malformed ones (garbage strings, wrong types,
 * oversize IDs and sessions, unknown operations, forged answers to requests
 * never made, ring states that do not fit), sent by every worker to the
 * primary and by the primary to every worker, are each counted once in
 * `ownerMalformed` and change nothing: no process dies, sessions made before
 * still resume everywhere, and resumption stays at 100%. The application's
 * own messages on the same channel are neither counted nor disturbed. The
 * same holds when the app's channel uses 'advanced' serialization.
 */
import t from 'tap';
import type { CounterValues } from '../lib/operations/counters.ts';
import { reconnect, visit } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';

t.teardown(removeCertificateFiles);
// A generous bound: this file tests what malformed messages do, not timing.
const app = await startClusterApp({ TLS_CACHE_OWNER_TIMEOUT: '100ms' });
t.teardown(() => app.kill());

const before = {
  id: (await visit({ port: app.port, version: 'TLSv1.2', noTicket: true })).session!,
  ticket: (await reconnect({ port: app.port, version: 'TLSv1.3' }, 0)).visits[0].session!,
};

t.test('malformed messages both ways are counted once each, and dropped', async (t) => {
  const start = await app.ask<{ counters: CounterValues }>('counters');
  t.equal(start.counters.ownerMalformed, 0, 'nothing malformed before');
  const sent = await app.ask<{ toPrimary: number; toWorkers: number }>('garbage');
  t.ok(sent.toPrimary >= 4 * 15 && sent.toWorkers >= 4 * 10, `sent ${sent.toPrimary} to the primary, ${sent.toWorkers} to the workers`);
  const after = await app.ask<{ counters: CounterValues; table: { entries: number } }>('counters');
  t.equal(after.counters.ownerMalformed, sent.toPrimary + sent.toWorkers, 'every malformed message was counted once, in the primary and in the workers');
  const workers = await app.ask<{ pids: number[] }>('workers');
  t.same(workers.pids.sort(), [...app.pids].sort(), 'every worker process is still the one started');
  t.equal(app.child.exitCode, null, 'the primary is running');
  t.notMatch(app.output(), /"level":(50|60)/, 'no error was logged');
});

t.test('nothing changed: sessions from before resume on every process', async (t) => {
  for (const [name, options] of [
    ['session ID', { version: 'TLSv1.2', noTicket: true, session: before.id }],
    ['TLS 1.3 ticket', { version: 'TLSv1.3', session: before.ticket }],
  ] as const) {
    const pids = new Set<number>();
    let reused = 0;
    for (let i = 0; i < 24; i++) {
      const v = await visit({ port: app.port, ...options });
      pids.add(v.greeting.pid);
      if (v.reused) reused++;
    }
    t.equal(pids.size, 4, `${name}: tried on every worker process`);
    t.equal(reused, 24, `${name}: resumed every time`);
  }
});

t.test('nothing changed: resumption is still 100%', async (t) => {
  for (const options of [
    { version: 'TLSv1.2', noTicket: true },
    { version: 'TLSv1.2' },
    { version: 'TLSv1.3' },
  ] as const) {
    const { ratio, pids } = await reconnect({ port: app.port, ...options }, 60);
    t.equal(pids.size, 4, `${JSON.stringify(options)}: every worker process`);
    t.equal(ratio, 1, `${JSON.stringify(options)}: 100% resumed`);
  }
  const { counters } = await app.ask<{ counters: CounterValues }>('counters');
  t.equal(counters.ownerTimeouts, 0, 'no lookup timed out');
});

t.test("an app whose cluster channel uses 'advanced' serialization: the same messages work, malformed ones are counted", async (t) => {
  const advanced = await startClusterApp({ FIXTURE_SERIALIZATION: 'advanced', TLS_CACHE_OWNER_TIMEOUT: '100ms', WORKERS: '2' });
  t.teardown(() => advanced.kill());
  for (const options of [{ version: 'TLSv1.2', noTicket: true }, { version: 'TLSv1.3' }] as const) {
    const { ratio, pids } = await reconnect({ port: advanced.port, ...options }, 40);
    t.equal(pids.size, 2, `${options.version}: both worker processes`);
    t.equal(ratio, 1, `${options.version}: 100% resumed`);
  }
  const sent = await advanced.ask<{ toPrimary: number; toWorkers: number }>('garbage');
  const { counters } = await advanced.ask<{ counters: CounterValues }>('counters');
  t.equal(counters.ownerMalformed, sent.toPrimary + sent.toWorkers, 'malformed messages counted once each under advanced serialization too');
  t.equal(counters.ownerTimeouts, 0);
});
