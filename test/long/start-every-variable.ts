/**
 * Every setting's environment variable, given a bad value, stops the
 * runtime (the HTTPS example on worker threads) before it listens: a
 * non-zero exit, nothing accepted on the port all along, and standard
 * error naming the variable with `ERR_TLS_CACHE_INVALID_ENV`. One process
 * per variable (about 40), two at a time: in `test/long/` for its scale;
 * `test/cli.ts` and the `config-*` suites check the same refusal for a few
 * variables, and every variable's parse in-process, under `npm test`.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { SETTINGS } from '../../lib/config/settings.ts';
import { accepts, freePort, run } from '../fixtures/process.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/https-server.ts', import.meta.url));

interface Refusal {
  label: string;
  code: number | string;
  accepted: number;
  stderr: string;
  listened: boolean;
}

/** Runs the example with `env` until it exits, trying to connect all along. */
async function attempt(env: Record<string, string>, cleanups: Array<() => void>): Promise<Refusal> {
  const port = await freePort();
  const running = run(EXAMPLE, { PORT: String(port), TLS_CACHE_WORKERS: '2', ...env });
  cleanups.push(() => running.kill());
  let accepted = 0;
  let done = false;
  const code = running.exited.then((c) => ((done = true), c));
  while (!done) {
    if (await accepts(port)) accepted++;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    label: Object.entries(env).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' '),
    code: await code,
    accepted,
    stderr: running.stderr(),
    listened: running.logs.some((l) => l.msg === 'listening'),
  };
}

t.test('every environment variable with a bad value stops the runtime before it listens', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    // 'bogus' is a valid name (a session ID context, a namespace): give those a space.
    ...SETTINGS.map((s): [Record<string, string>, string] => [{ [s.env]: s.kind === 'name' ? 'bo gus' : 'bogus' }, s.env]),
    [{ TLS_CACHE_WORKERS: '0' }, 'TLS_CACHE_WORKERS'],
    [{ TLS_CACHE_SESSION_TIMEOUT: '1500ms' }, 'TLS_CACHE_SESSION_TIMEOUT'],
    [{ PORT: 'https' }, 'PORT'],
    [{ PORT: '65536' }, 'PORT'],
    [{ TLS_CACHE_CERT: '/nonexistent/cert.pem' }, 'TLS_CACHE_KEY'],
    [{ TLS_CACHE_CERT: '/nonexistent/cert.pem', TLS_CACHE_KEY: '/nonexistent/key.pem' }, 'TLS_CACHE_CERT'],
  ];
  const cleanups: Array<() => void> = [];
  t.teardown(() => cleanups.forEach((kill) => kill()));
  // Two at a time: the machine has two cores.
  for (let i = 0; i < cases.length; i += 2) {
    const batch = cases.slice(i, i + 2);
    const refusals = await Promise.all(batch.map(([env]) => attempt(env, cleanups)));
    refusals.forEach((r, j) => {
      const variable = batch[j][1];
      t.not(r.code, 0, `${r.label}: exit code ${r.code}`);
      t.equal(r.accepted, 0, `${r.label}: nothing accepted on the port`);
      t.notOk(r.listened, `${r.label}: never listened`);
      t.match(r.stderr, `ERR_TLS_CACHE_INVALID_ENV: Invalid environment variable ${variable}`, `${r.label}: stderr names ${variable}`);
    });
  }
});
