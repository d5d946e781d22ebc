// The private redis-server the Redis tests and the load benchmark's redis mode start (bench/lib/redis-server.ts).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../lib/threads/free-port.ts';
import { pingRedis, spawnRedisServer } from '../bench/lib/redis-server.ts';
import { REDIS_SERVER, requireCommand } from './helpers/requirements.ts';

requireCommand(t, REDIS_SERVER);

async function scratch(t: { teardown(fn: () => void): void }): Promise<{ dir: string; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-server-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, port: await freePort('127.0.0.1') };
}

t.test('resolves once the server answers PING, and it keeps answering', async (t) => {
  const { dir, port } = await scratch(t);
  const child = await spawnRedisServer({ port, dir });
  t.teardown(() => void child.kill('SIGKILL'));
  t.equal(child.exitCode, null, 'running');
  t.ok(await pingRedis(port));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  t.notOk(await pingRedis(port), 'no answer once killed');
});

t.test('with a password, PING answers only after AUTH', async (t) => {
  const { dir, port } = await scratch(t);
  const child = await spawnRedisServer({ port, dir, password: 'correct-horse' });
  t.teardown(() => void child.kill('SIGKILL'));
  t.ok(await pingRedis(port, { password: 'correct-horse' }));
  t.notOk(await pingRedis(port, { password: 'wrong' }));
  t.notOk(await pingRedis(port));
});

t.test('a server that cannot start rejects with what happened', async (t) => {
  const { dir, port } = await scratch(t);
  await t.rejects(spawnRedisServer({ port, dir, binary: join(dir, 'no-such-redis-server') }), /^cannot start .*no-such-redis-server: .*ENOENT/);
  await t.rejects(spawnRedisServer({ port, dir, binary: 'false' }), /^false exited with code 1$/);
  // A program that runs but never answers PING.
  const silent = join(dir, 'silent-server');
  writeFileSync(silent, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
  const started = Date.now();
  await t.rejects(spawnRedisServer({ port, dir, binary: silent, timeoutMs: 300 }), /silent-server did not answer PING on port \d+ within 0.3 s$/);
  t.ok(Date.now() - started < 5000, 'gave up after its timeout');
});
