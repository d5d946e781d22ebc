/**
 * node:cluster worker processes (issue 6), the parts on their own: the
 * local copy (bounded, LRU, absolute expiry), the expiry read from a real
 * session, the IPC message checks, a ticket key ring copied whole into
 * another process's ring (snapshot, restore, load), and the coded errors of
 * the public API and of its settings.
 */
import { constants } from 'node:crypto';
import { connect, createServer } from 'node:tls';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { Packr } from 'msgpackr';
import { attachSharedCache, sharedCacheServerOptions } from '../lib/processes/attach-shared-cache.ts';
import { COUNTER_NAMES } from '../lib/operations/counters.ts';
import { decodeToOwner, decodeToWorker, encodeToOwner, encodeToWorker, FILTER_CHUNK_BYTES, fromIpc, IPC_TAG, isTagged, MAX_PAYLOAD_BYTES, MAX_STORED_IDS, O_FILTER, O_GOT, O_HELLO, O_KEYS, O_OWNER, O_SET_DONE, O_STORED, toIpc, W_CERTIFICATE, W_COUNTS, W_GET, W_HELLO, W_LISTENING, W_PROCESS, W_SET, W_STATUS, W_WHERE_OWNER } from '../lib/owner/messages.ts';
import { loadConfig } from '../lib/config/load.ts';
import { LocalSessions, LOCAL_ENTRY_OVERHEAD } from '../lib/store/local-sessions.ts';
import { startClusterCache } from '../lib/processes/cluster-cache.ts';
import { sessionExpiresAt } from '../lib/tls/session-der.ts';
import { TicketKeyRing } from '../lib/tickets/key-ring.ts';
import { loadCertificate } from '../examples/certificate.ts';

const id = (n: number): Buffer => Buffer.alloc(32, n);

t.test('LocalSessions: bounded in bytes, least recently used out first', async (t) => {
  let now = 1_000_000;
  const entry = 32 + 100 + LOCAL_ENTRY_OVERHEAD;
  const local = new LocalSessions(3 * entry, () => now);
  for (let n = 1; n <= 3; n++) t.ok(local.put(id(n), Buffer.alloc(100, n), now + 60_000));
  t.equal(local.size, 3);
  t.equal(local.bytes, 3 * entry);
  t.same(local.lookUp(id(1)), Buffer.alloc(100, 1), 'a hit makes 1 the most recently used');
  t.ok(local.put(id(4), Buffer.alloc(100, 4), now + 60_000));
  t.equal(local.lookUp(id(2)), 'not_found', '2, the least recently used, went out');
  t.ok([1, 3, 4].every((n) => Buffer.isBuffer(local.lookUp(id(n)))), '1, 3 and 4 stayed');
  t.ok(local.bytes <= local.maxBytes, 'within the budget');
  t.notOk(local.put(id(5), Buffer.alloc(4 * entry), now + 60_000), 'a session larger than the whole budget is not kept');
  const copy = Buffer.alloc(100, 6);
  local.put(id(6), copy, now + 60_000);
  copy.fill(0);
  t.same(local.lookUp(id(6)), Buffer.alloc(100, 6), 'the copy is its own');
  t.equal(local.clear(), 3);
  t.equal(local.bytes, 0);
});

t.test('LocalSessions: absolute expiry, and 0 turns it off', async (t) => {
  let now = 1_000_000;
  const local = new LocalSessions(64 * 1024, () => now);
  t.notOk(local.put(id(1), Buffer.alloc(10), now), 'already expired: not kept');
  local.put(id(1), Buffer.alloc(10, 1), now + 5000);
  now += 4999;
  t.ok(Buffer.isBuffer(local.lookUp(id(1))), 'alive 1 ms before its expiry');
  now += 1;
  t.equal(local.lookUp(id(1)), 'not_found', 'gone at its expiry, however often it was read');
  t.equal(local.bytes, 0, 'and its bytes freed');
  const off = new LocalSessions(0, () => now);
  t.notOk(off.put(id(1), Buffer.alloc(10), now + 5000));
  t.equal(off.lookUp(id(1)), 'not_found');
  t.throws(() => new LocalSessions(-1), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
  t.throws(() => new LocalSessions(1.5), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
});

t.test('sessionExpiresAt reads time + timeout from a real session', async (t) => {
  const { cert, key } = await loadCertificate({});
  const sessions: Buffer[] = [];
  const server = createServer({ cert, key, sessionTimeout: 300, sessionIdContext: 'x', secureOptions: constants.SSL_OP_NO_TICKET });
  server.on('newSession', (_id: Buffer, session: Buffer, done: () => void) => {
    sessions.push(session);
    done();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const before = Date.now();
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ port: (server.address() as { port: number }).port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
      socket.end();
      resolve();
    });
    socket.on('error', reject);
  });
  const expiresAt = sessionExpiresAt(sessions[0]);
  t.type(expiresAt, 'number');
  // OpenSSL counts whole seconds.
  t.ok(expiresAt! > before + 298_000 && expiresAt! <= Date.now() + 300_000, `expires ${((expiresAt! - before) / 1000).toFixed(1)} s after the handshake`);
  t.equal(sessionExpiresAt(Buffer.from('not a session')), undefined);
  t.equal(sessionExpiresAt(sessions[0].subarray(0, 20)), undefined, 'a truncated session');
  t.equal(sessionExpiresAt(Buffer.alloc(0)), undefined);
});

t.test('owner messages: what is encoded decodes; anything malformed is refused', async (t) => {
  const max = 8192;
  const get = encodeToOwner({ op: W_GET, request: 7, id: id(1) });
  t.same(decodeToOwner(get, max), { op: W_GET, request: 7, id: id(1) });
  const set = decodeToOwner(encodeToOwner({ op: W_SET, id: id(2), session: Buffer.alloc(max, 1), expiresAt: 123 }), max);
  t.equal(set?.op, W_SET);
  const deltas = COUNTER_NAMES.map((_, i) => i);
  t.same(decodeToOwner(encodeToOwner({ op: W_COUNTS, request: 0, deltas }), max), { op: W_COUNTS, request: 0, deltas });
  t.same(decodeToWorker(encodeToWorker({ op: O_GOT, request: 3, session: undefined }), max), { op: O_GOT, request: 3, session: undefined });
  const fingerprint = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).toUpperCase().padStart(2, '0')).join(':');
  t.same(decodeToOwner(encodeToOwner({ op: W_CERTIFICATE, fingerprint }), max), { op: W_CERTIFICATE, fingerprint }, "a worker's certificate fingerprint");
  t.same(decodeToOwner(encodeToOwner({ op: W_CERTIFICATE, fingerprint: '' }), max), { op: W_CERTIFICATE, fingerprint: '' }, 'or none');
  t.same(decodeToOwner(encodeToOwner({ op: W_STATUS, request: 5 }), max), { op: W_STATUS, request: 5 }, 'a status request (tls-resumption status)');
  t.same(decodeToOwner(encodeToOwner({ op: W_PROCESS, pid: 4242 }), max), { op: W_PROCESS, pid: 4242 }, "a process's pid");
  t.same(decodeToOwner(encodeToOwner({ op: W_LISTENING, port: 8443 }), max), { op: W_LISTENING, port: 8443 }, "a port a process's server listens on");
  t.same(decodeToWorker(encodeToWorker({ op: O_GOT, request: 3, session: undefined, expired: true }), max), { op: O_GOT, request: 3, session: undefined, expired: true }, 'an expired miss');
  t.same(decodeToWorker(encodeToWorker({ op: O_OWNER, socket: '/run/user/1/tls-resumption/primary-7.sock' }), max), { op: O_OWNER, socket: '/run/user/1/tls-resumption/primary-7.sock' }, "the primary's socket");
  t.same(decodeToWorker(encodeToWorker({ op: O_STORED, ids: [id(4), Buffer.alloc(1, 5)] }), max), { op: O_STORED, ids: [id(4), Buffer.alloc(1, 5)] }, 'session IDs the owner stored');
  t.same(decodeToWorker(encodeToWorker({ op: O_SET_DONE, ids: [id(6)] }), max), { op: O_SET_DONE, ids: [id(6)] }, "a process's session IDs the owner handled");
  const most = encodeToWorker({ op: O_STORED, ids: Array.from({ length: MAX_STORED_IDS }, (_, i) => id(i % 256)) });
  t.ok(most.byteLength <= MAX_PAYLOAD_BYTES, `${MAX_STORED_IDS} IDs of 32 bytes fit a frame (${most.byteLength} bytes)`);
  const chunk = Buffer.alloc(FILTER_CHUNK_BYTES, 0x5a);
  const filterPart = encodeToWorker({ op: O_FILTER, offset: FILTER_CHUNK_BYTES, total: 4 * FILTER_CHUNK_BYTES, bits: chunk });
  t.ok(filterPart.byteLength <= MAX_PAYLOAD_BYTES, `a whole chunk of the filter fits a frame (${filterPart.byteLength} bytes)`);
  t.same(decodeToWorker(filterPart, max), { op: O_FILTER, offset: FILTER_CHUNK_BYTES, total: 4 * FILTER_CHUNK_BYTES, bits: chunk }, "a chunk of the owner's filter");

  // Over a cluster's IPC channel (the hello only): a tagged base64 string, or bytes on an advanced channel.
  const ipc = toIpc(encodeToOwner({ op: W_WHERE_OWNER }));
  t.ok(isTagged(ipc));
  t.type(ipc[IPC_TAG], 'string', 'sent as a base64 string (works under json and advanced serialization)');
  t.same(decodeToOwner(fromIpc(ipc)!, max), { op: W_WHERE_OWNER });
  t.same(decodeToOwner(fromIpc({ [IPC_TAG]: Buffer.from(ipc[IPC_TAG], 'base64') })!, max), { op: W_WHERE_OWNER }, 'a Uint8Array payload (advanced channel) decodes too');
  for (const [name, payload] of [['a number', 1], ['not base64', '%%%'], ['empty', ''], ['too long', 'A'.repeat(200_000)], ['empty bytes', Buffer.alloc(0)]] as const) {
    t.equal(fromIpc({ [IPC_TAG]: payload }), undefined, `IPC payload refused: ${name}`);
  }

  const packr = new Packr({ useRecords: false, moreTypes: false });
  const tag = (fields: unknown): Buffer => packr.pack(fields);
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['not msgpack', Buffer.from([0xc1])],
    ['not an array', tag({ op: 2 })],
    ['unknown op', tag([42])],
    ['id of 33 bytes', tag([W_GET, 1, Buffer.alloc(33)])],
    ['empty id', tag([W_GET, 1, Buffer.alloc(0)])],
    ['id as a string', tag([W_GET, 1, 'abc'])],
    ['request id 0', tag([W_GET, 0, id(1)])],
    ['request id too large', tag([W_GET, 2 ** 31, id(1)])],
    ['oversize session', tag([W_SET, id(1), Buffer.alloc(max + 1), 1])],
    ['expiry not a number', tag([W_SET, id(1), Buffer.alloc(10), '1'])],
    ['expiry Infinity', tag([W_SET, id(1), Buffer.alloc(10), Infinity])],
    ['counts too short', tag([W_COUNTS, 0, [1]])],
    ['counts negative', tag([W_COUNTS, 0, COUNTER_NAMES.map(() => -1)])],
    ['extra field', tag([W_GET, 1, id(1), 'extra'])],
    ['fingerprint not hex pairs', tag([W_CERTIFICATE, 'x'.repeat(95)])],
    ['fingerprint too short', tag([W_CERTIFICATE, 'AB:CD'])],
    ['fingerprint not a string', tag([W_CERTIFICATE, Buffer.alloc(32)])],
    ['status request id 0', tag([W_STATUS, 0])],
    ['status without a request id', tag([W_STATUS])],
    ['pid 0', tag([W_PROCESS, 0])],
    ['pid not whole', tag([W_PROCESS, 1.5])],
    ['pid as a string', tag([W_PROCESS, '42'])],
    ['port 0', tag([W_LISTENING, 0])],
    ['port past 65535', tag([W_LISTENING, 65536])],
    ['port as a string', tag([W_LISTENING, '8443'])],
    ['port missing', tag([W_LISTENING])],
  ];
  for (const [name, message] of bad) t.equal(decodeToOwner(message, max), undefined, `owner refuses: ${name}`);

  // The hello carries the one settings message: the owner's whole configuration, checked as loadConfig checks options.
  const config = loadConfig({ sessionTimeout: 300, sessionIdContext: 'x', tickets: 'off', localSize: 0 }, {});
  const settings = { config, ticketMode: 'auto' } as const;
  const hello = decodeToWorker(encodeToWorker({ op: O_HELLO, settings, keys: undefined }), max);
  t.same(hello, { op: O_HELLO, settings: { config, ticketMode: 'auto' }, keys: undefined }, 'a hello: the settings come back whole');
  const withRedis = loadConfig({ sessionTimeout: 300, redisUrl: 'redis://:pw@a:1/2', redisSecret: 's'.repeat(32), tickets: 'off' }, {});
  t.same(decodeToWorker(encodeToWorker({ op: O_HELLO, settings: { config: withRedis, ticketMode: 'fallback' }, keys: undefined }), max), { op: O_HELLO, settings: { config: withRedis, ticketMode: 'fallback' }, keys: undefined },
    "a hello with the deployment's Redis, for the worker's own connection");
  // An owner of 0.1 (a daemon still running through an upgrade) names two settings as it did.
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  const { sessionTimeout, ownerTimeout, ...others } = config;
  const older = { config: { ...others, timeout: sessionTimeout, ipcTimeout: ownerTimeout }, ticketMode: 'auto' };
  t.same(decodeToWorker(encodeToWorker({ op: O_HELLO, settings: older as never, keys: undefined }), max), { op: O_HELLO, settings, keys: undefined },
    "a hello of a 0.1 owner, with the settings' old names, is read under the new ones");
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.same(warnings.filter((w) => w.name === 'DeprecationWarning'), [], 'with no warning: the user set nothing');
  const badForWorker: Array<[string, Buffer]> = [
    ['oversize answer', tag([O_GOT, 1, Buffer.alloc(max + 1)])],
    ['answer as a string', tag([O_GOT, 1, 'session'])],
    ['keys not a state', tag([O_KEYS, [1, 2]])],
    ['hello without settings', tag([O_HELLO, null, null])],
    ['hello with tickets on and no keys', tag([O_HELLO, { config: { ...config, tickets: 'on' }, ticketMode: 'auto' }, null])],
    ['hello with an unknown ticket mode', tag([O_HELLO, { config, ticketMode: 'always' }, null])],
    ['hello with a session timeout of 0', tag([O_HELLO, { config: { ...config, sessionTimeout: 0 }, ticketMode: 'auto' }, null])],
    ['hello with an unknown setting', tag([O_HELLO, { config: { ...config, extra: 1 }, ticketMode: 'auto' }, null])],
    ['hello with a short Redis secret', tag([O_HELLO, { config: { ...withRedis, redisSecret: 'short' }, ticketMode: 'auto' }, null])],
    ['hello with a Redis URL and no secret', tag([O_HELLO, { config: { ...withRedis, redisSecret: '' }, ticketMode: 'auto' }, null])],
    ['hello with a fourth field', tag([O_HELLO, settings, null, 'extra'])],
    ['owner socket not absolute', tag([O_OWNER, 'primary.sock'])],
    ['owner socket too long', tag([O_OWNER, `/${'x'.repeat(200)}`])],
    ['stored id of 33 bytes', tag([O_STORED, [id(1), Buffer.alloc(33)]])],
    ['stored ids not a list', tag([O_STORED, id(1)])],
    ['stored ids empty', tag([O_STORED, []])],
    ['too many stored ids', tag([O_STORED, Array.from({ length: MAX_STORED_IDS + 1 }, () => id(1))])],
    ['handled ids empty', tag([O_SET_DONE, []])],
    ['handled id of 33 bytes', tag([O_SET_DONE, [Buffer.alloc(33)]])],
    ['too many handled ids', tag([O_SET_DONE, Array.from({ length: MAX_STORED_IDS + 1 }, () => id(1))])],
    ['filter of a size not a power of two', tag([O_FILTER, 0, 100_000, Buffer.alloc(10)])],
    ['filter too small', tag([O_FILTER, 0, 1024, Buffer.alloc(10)])],
    ['filter chunk past its end', tag([O_FILTER, FILTER_CHUNK_BYTES, 2 * FILTER_CHUNK_BYTES, Buffer.alloc(FILTER_CHUNK_BYTES + 1)])],
    ['filter offset not a chunk boundary', tag([O_FILTER, 5, 2 * FILTER_CHUNK_BYTES, Buffer.alloc(10)])],
    ['filter offset negative', tag([O_FILTER, -FILTER_CHUNK_BYTES, 2 * FILTER_CHUNK_BYTES, Buffer.alloc(10)])],
    ['filter chunk empty', tag([O_FILTER, 0, 2 * FILTER_CHUNK_BYTES, Buffer.alloc(0)])],
    ['filter chunk not bytes', tag([O_FILTER, 0, 2 * FILTER_CHUNK_BYTES, 'bits'])],
  ];
  for (const [name, message] of badForWorker) t.equal(decodeToWorker(message, max), undefined, `worker refuses: ${name}`);
  t.notOk(isTagged({ cmd: 'the app' }), "the application's messages are not ours");
  t.notOk(isTagged(null));
  t.notOk(isTagged('tlsSessionCache'));
});

t.test('TicketKeyRing: snapshot, restore and load copy every key with its window', async (t) => {
  let now = 1_000_000;
  const clock = (): number => now;
  const primary = TicketKeyRing.create({ timeout: 10, rotate: 5000, clock });
  const first = primary.encryptionKey()!;
  now += 5000;
  primary.tick();
  const copy = TicketKeyRing.restore(primary.snapshot(), { clock });
  t.same(copy.encryptionKey(), primary.encryptionKey(), 'the same key encrypts');
  t.same(copy.decryptionKey(first.name), primary.decryptionKey(first.name), 'the previous key decrypts in both');
  t.same(copy.stats(), { ...primary.stats(), generation: copy.stats().generation }, 'same keys, slots and times');
  now += 9999;
  t.ok(copy.decryptionKey(first.name), 'the old key decrypts until its window ends...');
  now += 1;
  t.equal(copy.decryptionKey(first.name), undefined, '...and not a millisecond longer, on the copy too');
  primary.rotateNow();
  const generation = copy.generation;
  copy.load(primary.snapshot());
  t.ok(copy.generation > generation, 'a load bumps the generation (fallback servers notice)');
  t.same(copy.encryptionKey(), primary.encryptionKey(), 'the rotated key encrypts in the copy');
  primary.flush();
  copy.load(primary.snapshot());
  t.equal(copy.stats().keys, 1, 'a flush copies as one fresh key');

  const state = primary.snapshot();
  t.throws(() => copy.load({ ...state, slots: state.slots + 1 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'another ring size');
  t.throws(() => copy.load({ ...state, current: (state.current + 1) % state.slots }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'current slot without a key');
  t.throws(() => copy.load({ ...state, keys: [{ ...state.keys[0], key: Buffer.alloc(47) }] }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'a short key');
  t.throws(() => copy.load({ ...state, keys: [state.keys[0], state.keys[0]] }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'a slot twice');
  t.throws(() => copy.load({ ...state, keys: [{ ...state.keys[0], until: Number.NaN }] }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'NaN window');
  t.throws(() => TicketKeyRing.restore({ ...state, slots: 0 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' });
  t.same(copy.encryptionKey(), primary.encryptionKey(), 'a refused state changed nothing');
  t.throws(() => TicketKeyRing.open(copy.buffer).load(state), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'a reader cannot load');
});

t.test('coded errors: the public API and the settings it reads', async (t) => {
  const { cert, key } = await loadCertificate({});
  const server = createServer({ cert, key, ...sharedCacheServerOptions({}) });
  // A worker thread of the application's own (not a runtime server thread) has no cache to attach.
  const thread = new Worker(
    `import('${new URL('../lib/processes/attach-shared-cache.ts', import.meta.url).href}').then(({ attachSharedCache }) =>` +
      ` attachSharedCache(require('node:tls').createServer({}))).then(() => 'attached', (error) => error.code).then((code) => require('node:worker_threads').parentPort.postMessage(code));`,
    { eval: true },
  );
  const [code] = (await once(thread, 'message')) as [string];
  t.equal(code, 'ERR_TLS_CACHE_NOT_IN_CLUSTER', "attach in a worker thread of the application's own");
  await t.rejects(attachSharedCache({} as never), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'attach: server');
  await t.rejects(attachSharedCache(server, { helloTimeout: 'soon' as never }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'attach: helloTimeout');
  await t.rejects(attachSharedCache(server, { logger: 'console' as never }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'attach: logger');
  await t.rejects(startClusterCache({ ticketMode: 'always' as never }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: ticketMode');
  await t.rejects(startClusterCache({ countsTimeout: -1 }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: countsTimeout');
  await t.rejects(startClusterCache({ logger: 42 as never }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: logger');
  await t.rejects(startClusterCache(null as never), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: options');
  await t.rejects(startClusterCache({ config: { ownerTimeout: 'soon' as never } }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: config.ownerTimeout');
  await t.rejects(startClusterCache({ config: { localSize: -5 } }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: config.localSize');
  await t.rejects(startClusterCache({ config: { sessionIdContext: 42 as never } }), { code: 'ERR_TLS_CACHE_INVALID_OPTION' }, 'start: config.sessionIdContext');
  await t.rejects(startClusterCache({ env: { TLS_CACHE_OWNER_TIMEOUT: 'soon' } }), { code: 'ERR_TLS_CACHE_INVALID_ENV' }, 'start: TLS_CACHE_OWNER_TIMEOUT');
  await t.rejects(startClusterCache({ env: { TLS_CACHE_LOCAL_SIZE: 'big' } }), { code: 'ERR_TLS_CACHE_INVALID_ENV' }, 'start: TLS_CACHE_LOCAL_SIZE');
  t.throws(() => sharedCacheServerOptions({ TLS_CACHE_SESSION_ID_CONTEXT: 'has spaces in it' }), { code: 'ERR_TLS_CACHE_INVALID_ENV' }, 'serverOptions: TLS_CACHE_SESSION_ID_CONTEXT');
  t.same(sharedCacheServerOptions({ TLS_CACHE_SESSION_TIMEOUT: '1m', TLS_CACHE_SESSION_ID_CONTEXT: 'shop' }), { sessionTimeout: 60, sessionIdContext: 'shop' }, 'serverOptions from the environment');
});

t.test('startClusterCache: workers inherit the settings in force; a second call is refused', async (t) => {
  const saved = { timeout: process.env.TLS_CACHE_SESSION_TIMEOUT, context: process.env.TLS_CACHE_SESSION_ID_CONTEXT, old: process.env.TLS_CACHE_TIMEOUT };
  t.teardown(() => {
    for (const [name, value] of [['TLS_CACHE_SESSION_TIMEOUT', saved.timeout], ['TLS_CACHE_SESSION_ID_CONTEXT', saved.context], ['TLS_CACHE_TIMEOUT', saved.old]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  // The setting's old variable, which a forked worker would otherwise read as a second value.
  process.env.TLS_CACHE_TIMEOUT = '1m';
  const cache = await startClusterCache({ config: { sessionTimeout: 120, sessionIdContext: 'parts-test', logLevel: 'silent', size: 1024 * 1024 }, env: {} });
  t.teardown(() => cache.close());
  t.same(sharedCacheServerOptions(), { sessionTimeout: 120, sessionIdContext: 'parts-test' }, 'what a forked worker would read');
  t.equal(process.env.TLS_CACHE_TIMEOUT, undefined, 'under the new name only');
  await t.rejects(startClusterCache({ env: {} }), { code: 'ERR_TLS_CACHE_ALREADY_STARTED' });
  t.equal(cache.rotateTicketKeys(), true);
  t.match(await cache.metrics(), /tls_session_cache_owner_lookups_total 0/, 'metrics without any worker');
  await cache.close();
  const again = await startClusterCache({ config: { logLevel: 'silent', size: 1024 * 1024 }, env: {} });
  t.ok(again, 'after close(), it can start again');
  await again.close();
});
