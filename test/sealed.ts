/**
 * Sealing with real AES-256-GCM: a round trip, and a refusal (never an
 * exception) for every altered, truncated, extended or misplaced value, and
 * for a value sealed under another secret, namespace or purpose; two secrets
 * while hosts move to a new one.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { createSealer, DOUBLE_SEALED_VERSION, SEAL_OVERHEAD, SEALED_VERSION } from '../lib/redis/sealed.ts';

const SECRET = 'a-secret-of-at-least-32-characters-0123456789';
const OTHER_SECRET = 'another-secret-of-at-least-32-characters-9876';

t.test('a sealed value opens to its plaintext, and holds no plaintext', async (t) => {
  const sealer = createSealer({ secret: SECRET, namespace: 'ns', purpose: 'session' });
  const id = randomBytes(32);
  const plaintext = randomBytes(180);
  const sealed = sealer.seal(id, plaintext);
  t.equal(sealed.length, plaintext.length + SEAL_OVERHEAD);
  t.equal(sealed[0], SEALED_VERSION, 'versioned');
  t.same(sealer.open(id, sealed), plaintext);
  t.notOk(sealed.includes(plaintext.subarray(0, 16)), 'no 16 plaintext bytes in a row in the sealed value');
  const again = sealer.seal(id, plaintext);
  t.notSame(again, sealed, 'a fresh IV each time');
  t.same(sealer.open(id, again), plaintext);
  t.same(sealer.open(id, sealer.seal(id, Buffer.alloc(0))), Buffer.alloc(0), 'an empty plaintext round-trips');
});

t.test('anything altered, truncated, extended or moved is refused, never thrown', async (t) => {
  const sealer = createSealer({ secret: SECRET, namespace: 'ns', purpose: 'session' });
  const id = randomBytes(32);
  const plaintext = randomBytes(100);
  const sealed = sealer.seal(id, plaintext);
  let refused = 0;
  for (let i = 0; i < sealed.length; i++) {
    for (const bit of [0x01, 0x80]) {
      const altered = Buffer.from(sealed);
      altered[i] ^= bit;
      if (sealer.open(id, altered) === undefined) refused++;
    }
  }
  t.equal(refused, sealed.length * 2, 'every single-bit change in every byte is refused');
  for (let length = 0; length < sealed.length; length++) {
    if (sealer.open(id, sealed.subarray(0, length)) !== undefined) t.fail(`truncated to ${length} bytes opened`);
  }
  t.equal(sealer.open(id, Buffer.concat([sealed, Buffer.from([0])])), undefined, 'extended');
  const otherId = Buffer.from(id);
  otherId[31] ^= 1;
  t.equal(sealer.open(otherId, sealed), undefined, 'under another id');
  t.equal(sealer.open(id.subarray(0, 31), sealed), undefined, 'under a shorter id');
  t.equal(sealer.open(id, randomBytes(200)), undefined, 'random bytes');
  t.equal(sealer.open(id, 'text' as unknown as Uint8Array), undefined, 'not bytes');
  t.equal(sealer.open(id, Buffer.alloc(0)), undefined, 'empty');
});

t.test('another secret, namespace or purpose opens nothing', async (t) => {
  const id = randomBytes(16);
  const plaintext = randomBytes(48);
  const sealed = createSealer({ secret: SECRET, namespace: 'ns', purpose: 'ticket-key' }).seal(id, plaintext);
  t.equal(createSealer({ secret: OTHER_SECRET, namespace: 'ns', purpose: 'ticket-key' }).open(id, sealed), undefined, 'another secret');
  t.equal(createSealer({ secret: SECRET, namespace: 'ns2', purpose: 'ticket-key' }).open(id, sealed), undefined, 'another namespace');
  t.equal(createSealer({ secret: SECRET, namespace: 'ns', purpose: 'session' }).open(id, sealed), undefined, 'another purpose');
  t.same(createSealer({ secret: SECRET, namespace: 'ns', purpose: 'ticket-key' }).open(id, sealed), plaintext, 'the same three: opens');
});

t.test('bad options get a coded error that never repeats the secret', async (t) => {
  const short = 'short-secret';
  t.throws(() => createSealer({ secret: short, namespace: 'ns', purpose: 'session' }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
  try {
    createSealer({ secret: short, namespace: 'ns', purpose: 'session' });
  } catch (error) {
    t.notMatch((error as Error).message, short, 'the message does not carry the secret');
  }
  t.throws(() => createSealer({ secret: SECRET, namespace: '', purpose: 'session' }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
  t.throws(() => createSealer({ secret: SECRET, namespace: 'ns', purpose: 'other' as 'session' }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
});

t.test('a previous secret: values open under either secret, and are sealed under both', async (t) => {
  const id = randomBytes(32);
  const plaintext = randomBytes(120);
  const moving = createSealer({ secret: OTHER_SECRET, previousSecret: SECRET, namespace: 'ns', purpose: 'session' });
  const before = createSealer({ secret: SECRET, namespace: 'ns', purpose: 'session' });
  const after = createSealer({ secret: OTHER_SECRET, namespace: 'ns', purpose: 'session' });
  const sealed = moving.seal(id, plaintext);
  t.equal(sealed[0], DOUBLE_SEALED_VERSION, 'sealed under two secrets');
  t.equal(sealed.length, 2 + 2 * (2 + plaintext.length + SEAL_OVERHEAD), 'two seals and their framing');
  t.same(before.open(id, sealed), plaintext, 'a host still on the previous secret alone opens it');
  t.same(after.open(id, sealed), plaintext, 'a host on the new secret alone opens it');
  t.same(moving.openChecked(id, sealed), { plaintext, current: true }, 'under the current secret');
  t.same(moving.openChecked(id, before.seal(id, plaintext)), { plaintext, current: false }, "a value of a host on the previous secret alone: opens, as the previous secret's");
  t.same(moving.openChecked(id, after.seal(id, plaintext)), { plaintext, current: true });
  t.equal(after.open(id, before.seal(id, plaintext)), undefined, 'without the previous secret, what it alone sealed does not open');
  t.equal(createSealer({ secret: 'x'.repeat(40), namespace: 'ns', purpose: 'session' }).open(id, sealed), undefined, 'a third secret opens neither seal');
  t.notOk(sealed.includes(plaintext.subarray(0, 16)), 'no plaintext in it');

  let refused = 0;
  for (let i = 0; i < sealed.length; i++) {
    const altered = Buffer.from(sealed);
    altered[i] ^= 0x01;
    // A flipped bit in one seal leaves the other, which still opens: what matters is that nothing altered opens to other bytes.
    const opened = before.open(id, altered);
    if (opened === undefined) refused++;
    else if (!opened.equals(plaintext)) t.fail(`byte ${i} altered opened to other bytes`);
  }
  t.ok(refused >= 4, `framing changes are refused whole (${refused} of ${sealed.length} single-bit changes)`);
  for (let length = 0; length < sealed.length; length++) {
    if (after.open(id, sealed.subarray(0, length)) !== undefined) t.fail(`truncated to ${length} bytes opened`);
  }
  t.equal(after.open(id, Buffer.concat([sealed, Buffer.from([0])])), undefined, 'extended');
  t.equal(after.open(randomBytes(32), sealed), undefined, 'under another id');
  t.throws(() => createSealer({ secret: SECRET, previousSecret: 'short', namespace: 'ns', purpose: 'session' }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
  t.equal(createSealer({ secret: SECRET, previousSecret: '', namespace: 'ns', purpose: 'session' }).seal(id, plaintext)[0], SEALED_VERSION, 'an empty previous secret is none');
});
