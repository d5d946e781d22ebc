/**
 * The ticket key ring on an injected clock: rotation, the decryption window
 * (a key decrypts for the session timeout after it stopped encrypting),
 * erasure (the bytes are zeroed in shared memory), flush, reads from another
 * thread, and nginx key files (byte order, bad files).
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { InvalidOptionError, InvalidTicketKeyBufferError, TicketKeyFileError } from '../lib/errors.ts';
import { MAX_TICKET_KEYS } from '../lib/tickets/ring-layout.ts';
import { TicketKeyRing } from '../lib/tickets/key-ring.ts';
import { fromNginxKey, readNginxKeyFiles, toNginxKey } from '../lib/tickets/nginx-keys.ts';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** Every key name the ring would decrypt right now, hex. */
function names(ring: TicketKeyRing, candidates: Buffer[]): string[] {
  return candidates.filter((name) => ring.decryptionKey(name) !== undefined).map((name) => name.toString('hex'));
}

/** Whether `needle` occurs anywhere in the ring's shared memory. */
function inMemory(ring: TicketKeyRing, needle: Buffer): boolean {
  return Buffer.from(ring.buffer).includes(needle);
}

t.test('one key encrypts; a rotation keeps the previous one decrypting for the timeout, then zeroes it', async (t) => {
  const c = clock();
  const ring = TicketKeyRing.create({ timeout: 5, rotate: 1000, clock: c.now });
  const reader = TicketKeyRing.open(ring.buffer, { clock: c.now });
  const first = reader.encryptionKey()!;
  t.equal(first.name.length, 16);
  t.notSame(first.hmac, first.aes, 'random parts');
  t.same(reader.decryptionKey(first.name), { name: first.name, hmac: first.hmac, aes: first.aes }, 'the current key decrypts');
  t.equal(ring.nextDueAt(), 1_000_000 + 1000, 'the next rotation is due after rotate ms');

  c.advance(999);
  t.same(ring.tick(), { rotated: false, erased: 0 }, 'not yet');
  c.advance(1);
  t.same(ring.tick(), { rotated: true, erased: 0 }, 'rotated on time');
  const second = reader.encryptionKey()!;
  t.notSame(second.name, first.name, 'a new key encrypts');
  t.ok(reader.decryptionKey(first.name), 'the previous key still decrypts');
  t.equal(ring.stats().keys, 2);

  // The first key stopped encrypting at +1000: it decrypts until +6000.
  const keysSeen = [first, second];
  for (let i = 0; i < 4; i++) {
    c.advance(1000);
    ring.tick();
    keysSeen.push(reader.encryptionKey()!);
  }
  t.equal(c.now(), 1_005_000);
  t.ok(reader.decryptionKey(first.name), 'at +5000 the first key still decrypts');
  c.advance(999);
  t.ok(reader.decryptionKey(first.name), 'at +5999 too');
  c.advance(1);
  t.equal(reader.decryptionKey(first.name), undefined, 'at +6000 it does not, even before the primary erases it');
  t.ok(inMemory(ring, first.hmac), 'its bytes are still there until the primary ticks');
  const result = ring.tick();
  t.ok(result.rotated, 'the sixth rotation');
  t.equal(result.erased, 1, 'the first key erased');
  t.notOk(inMemory(ring, first.name) || inMemory(ring, first.hmac) || inMemory(ring, first.aes), 'its bytes are zeroed');
  t.same(names(reader, [first.name]), []);
  t.equal(ring.stats().keys, 6, 'the current key and the five retired within the last timeout');
});

t.test('a key lives rotate + timeout; the ring never holds more than it needs', async (t) => {
  const c = clock();
  const ring = TicketKeyRing.create({ timeout: 300, clock: c.now });
  t.equal(ring.rotate, 300_000, 'the rotation defaults to the timeout');
  const first = ring.encryptionKey()!;
  for (let i = 0; i < 20; i++) {
    c.advance(ring.nextDueAt() - c.now());
    ring.tick();
    t.ok(ring.stats().keys <= 3, `at most 3 keys alive (${ring.stats().keys})`);
  }
  t.equal(ring.decryptionKey(first.name), undefined);
  // Born at 0, encrypting until 300 s, decrypting until 600 s: twice the session lifetime.
  const c2 = clock(0);
  const ring2 = TicketKeyRing.create({ timeout: 300, clock: c2.now });
  const key = ring2.encryptionKey()!;
  c2.advance(300_000);
  ring2.tick();
  c2.advance(299_999);
  t.ok(ring2.decryptionKey(key.name), 'decrypts until 600 s');
  c2.advance(1);
  t.notOk(ring2.decryptionKey(key.name), 'not at 600 s');
});

t.test('rotateNow and flush', async (t) => {
  const c = clock();
  const ring = TicketKeyRing.create({ timeout: 60, rotate: 60_000, clock: c.now });
  const a = ring.encryptionKey()!;
  const generation = ring.generation;
  ring.rotateNow();
  t.ok(ring.generation > generation, 'the generation moves');
  const b = ring.encryptionKey()!;
  t.notSame(a.name, b.name);
  t.ok(ring.decryptionKey(a.name), 'the rotated-out key decrypts');
  ring.flush();
  const fresh = ring.encryptionKey()!;
  t.same(names(ring, [a.name, b.name]), [], 'every previous key is gone');
  for (const key of [a, b]) t.notOk(inMemory(ring, key.hmac) || inMemory(ring, key.aes), 'and zeroed');
  t.ok(ring.decryptionKey(fresh.name), 'a fresh key works');
  t.equal(ring.stats().keys, 1);
  // Rotating by hand faster than keys expire never overflows: the oldest goes early.
  for (let i = 0; i < 3 * MAX_TICKET_KEYS; i++) ring.rotateNow();
  t.ok(ring.stats().keys <= ring.stats().slots);
  t.ok(ring.encryptionKey());
  ring.close();
  t.equal(ring.encryptionKey(), undefined, 'closed: no key');
  t.notOk(Buffer.from(ring.buffer).subarray(32).some((b) => b !== 0), 'closed: every byte after the header is zero');
});

t.test('workers only read', async (t) => {
  const ring = TicketKeyRing.create({ timeout: 5 });
  const reader = TicketKeyRing.open(ring.buffer);
  for (const method of ['rotateNow', 'flush', 'tick', 'close'] as const) {
    t.throws(() => reader[method](), InvalidOptionError, `${method} refused`);
  }
  t.throws(() => TicketKeyRing.open(new SharedArrayBuffer(64)), InvalidTicketKeyBufferError);
  t.throws(() => TicketKeyRing.open(new ArrayBuffer(64) as unknown as SharedArrayBuffer), InvalidTicketKeyBufferError);
  t.equal(reader.decryptionKey(Buffer.alloc(16)), undefined, 'an all-zero name is unknown');
  t.equal(reader.decryptionKey(Buffer.alloc(3)), undefined, 'a short name is unknown');
  t.throws(() => TicketKeyRing.create({ timeout: 3600, rotate: 1000 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'ticketRotate' });
  t.throws(() => TicketKeyRing.create({ timeout: 0 }), InvalidOptionError);
  t.throws(() => TicketKeyRing.create({ timeout: 5, keys: [Buffer.alloc(47)] }), InvalidOptionError);
});

t.test('another thread reads whole keys while the primary rotates', async (t) => {
  const ring = TicketKeyRing.create({ timeout: 5, rotate: 1000 });
  const source = `
    const { workerData, parentPort } = require('node:worker_threads');
    parentPort.once('message', async () => {
      const { TicketKeyRing } = await import(${JSON.stringify(new URL('../lib/tickets/key-ring.ts', import.meta.url).href)});
      const ring = TicketKeyRing.open(workerData);
      const seen = new Set();
      let reads = 0, torn = 0, none = 0;
      const end = Date.now() + 300;
      while (Date.now() < end) {
        const key = ring.encryptionKey();
        reads++;
        // The primary writes keys whose three parts are equal: a mix of two keys shows.
        if (!key) none++;
        else if (!key.name.equals(key.hmac) || !key.name.equals(key.aes)) torn++;
        else seen.add(key.name.toString('hex'));
      }
      parentPort.postMessage({ reads, torn, none, distinct: seen.size });
    });`;
  ring.replace([Buffer.alloc(48, 1)]);
  const worker = new Worker(source, { eval: true, workerData: ring.buffer, execArgv: [] });
  let done = false;
  const result = new Promise<{ reads: number; torn: number; none: number; distinct: number }>((resolve) =>
    worker.once('message', (message) => {
      done = true;
      resolve(message);
    }),
  );
  worker.postMessage('go');
  let n = 2;
  while (!done) {
    ring.replace([Buffer.alloc(48, n), Buffer.alloc(48, n - 1)]);
    n = n === 255 ? 2 : n + 1;
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { reads, torn, none, distinct } = await result;
  await worker.terminate();
  t.comment(`${reads} reads, ${distinct} distinct keys, ${none} gave up while the primary wrote`);
  t.equal(torn, 0, 'no torn read');
  t.ok(distinct > 1, 'saw several keys');
});

t.test('nginx key files: name, AES key, HMAC secret; Node: name, HMAC secret, AES key', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ticket-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const nginx = Buffer.concat([Buffer.alloc(16, 0x11), Buffer.alloc(16, 0xaa), Buffer.alloc(16, 0x48)]);
  const node = fromNginxKey(nginx);
  t.same(node, Buffer.concat([Buffer.alloc(16, 0x11), Buffer.alloc(16, 0x48), Buffer.alloc(16, 0xaa)]));
  t.same(toNginxKey(node), nginx, 'and back');
  const first = join(dir, 'current.key');
  const second = join(dir, 'previous.key');
  writeFileSync(first, nginx);
  writeFileSync(second, Buffer.alloc(48, 0x22));
  const keys = readNginxKeyFiles([first, second]);
  t.same(keys[0], node);
  const c = clock();
  const ring = TicketKeyRing.create({ timeout: 5, keys, clock: c.now });
  t.ok(ring.fixed);
  const current = ring.encryptionKey()!;
  t.same(current.name, Buffer.alloc(16, 0x11), 'the first file encrypts');
  t.same(current.hmac, Buffer.alloc(16, 0x48), 'HMAC secret from bytes 32-47 of the nginx file');
  t.same(current.aes, Buffer.alloc(16, 0xaa), 'AES key from bytes 16-31 of the nginx file');
  t.ok(ring.decryptionKey(Buffer.alloc(16, 0x22)), 'the second file decrypts');
  t.equal(ring.nextDueAt(), Infinity, 'no scheduled rotation');
  c.advance(365 * 86_400_000);
  t.same(ring.tick(), { rotated: false, erased: 0 });
  t.ok(ring.decryptionKey(Buffer.alloc(16, 0x22)), 'file keys do not expire');
  t.throws(() => ring.rotateNow(), InvalidOptionError, 'fixed keys are replaced, not rotated');

  const short = join(dir, 'short.key');
  writeFileSync(short, Buffer.alloc(47, 0x5c));
  const long = join(dir, 'long.key');
  writeFileSync(long, Buffer.alloc(80, 0x5c));
  for (const [paths, fragment] of [
    [[short], 'is 47 bytes; expected 48'],
    [[long], "nginx's 80-byte AES-256 keys are not supported"],
    [[join(dir, 'missing.key')], '(ENOENT)'],
    [[dir], 'expected 48'],
  ] as const) {
    const error = t.throws(() => readNginxKeyFiles(paths)) as TicketKeyFileError;
    t.ok(error instanceof TicketKeyFileError, 'a TicketKeyFileError');
    t.equal(error.code, 'ERR_TLS_CACHE_TICKET_KEY_FILE');
    t.equal(error.path, paths[0]);
    t.ok(error.message.includes(fragment), error.message);
    t.notOk(/5c5c|\\\\/.test(error.message) || error.message.includes('\\'), 'no key bytes in the message');
  }
});
