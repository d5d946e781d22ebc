/**
 * The settings' names of 0.1 (`TLS_CACHE_TIMEOUT`, `TLS_CACHE_IPC_TIMEOUT`;
 * issue 31) in a real `node:cluster` app: the primary and the workers it
 * forked before its cache started read them, each warning once
 * (`TLS_CACHE_DEP003`, `TLS_CACHE_DEP004`), and agree; the primary then
 * hands on the new names only, so the workers of a rolling restart read
 * `TLS_CACHE_SESSION_TIMEOUT` and do not warn again.
 */
import t from 'tap';
import type { RestartResult } from '../lib/processes/rolling-restart.ts';
import { visit } from './helpers/cluster-client.ts';
import { removeCertificateFiles, startClusterApp } from './helpers/cluster-app.ts';

t.teardown(removeCertificateFiles);

const count = (text: string, code: string): number => text.split(`[${code}] DeprecationWarning`).length - 1;
const REFUSALS = ['ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH', 'ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH', 'ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH'];

t.test('old setting names: read by the primary and its first workers, agreed on, and not handed on', async (t) => {
  // A 2-minute lifetime, not the default hour: a worker that read anything else would refuse the owner's servers.
  // The cache starts once the 4 workers are forked: they inherit the old names, as from a primary of 0.1.
  const app = await startClusterApp({ TLS_CACHE_TIMEOUT: '2m', TLS_CACHE_IPC_TIMEOUT: '100ms', FIXTURE_START_AFTER_FORK_MS: '100', NODE_OPTIONS: '--warnings' });
  t.teardown(() => app.kill());
  const first = await visit({ port: app.port, version: 'TLSv1.2', noTicket: true });
  t.notOk(first.reused);
  const again = [];
  for (let i = 0; i < 8; i++) again.push(await visit({ port: app.port, version: 'TLSv1.2', noTicket: true, session: first.session }));
  t.ok(again.every((v) => v.reused), 'a session ID resumes in every process');
  t.ok(new Set(again.map((v) => v.greeting.pid)).size >= 2, 'across processes');
  const { refusals } = await app.ask<{ refusals: string[][] }>('refusals');
  t.same(refusals, [REFUSALS, REFUSALS, REFUSALS, REFUSALS], "every worker's own servers agree with the owner's lifetime; only the wrong ones are refused");
  const before = { dep003: count(app.output(), 'TLS_CACHE_DEP003'), dep004: count(app.output(), 'TLS_CACHE_DEP004') };
  t.same(before, { dep003: 5, dep004: 5 }, 'each old name warned once in each process that read it: the primary and its 4 first workers');

  const { result, error } = await app.ask<{ result?: RestartResult; error?: unknown }>('restart');
  t.notOk(error, 'the rolling restart succeeded');
  t.equal(result!.workers.length, 4, 'every worker replaced');
  const after = [];
  for (let i = 0; i < 8; i++) after.push(await visit({ port: app.port, version: 'TLSv1.2', noTicket: true, session: first.session }));
  t.ok(after.every((v) => v.reused), 'the session still resumes in the new workers');
  t.same({ dep003: count(app.output(), 'TLS_CACHE_DEP003'), dep004: count(app.output(), 'TLS_CACHE_DEP004') }, before,
    'the new workers read the new names only: no warning');
});
