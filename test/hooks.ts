/**
 * attachSessionCache() on real servers with real handshakes, in one thread.
 */
import { constants } from 'node:crypto';
import { createSecureServer } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { connect, createServer, type SecureVersion, type Server, type TlsOptions } from 'node:tls';
import t from 'tap';
import { loadCertificate } from '../examples/certificate.ts';
import { attachSessionCache, sessionCacheOf, sessionCacheServerOptions, type SessionStore } from '../lib/tls/session-hooks.ts';
import { isTls13Session, sessionProtocolVersion, TLS_1_2, TLS_1_3 } from '../lib/tls/session-der.ts';
import { SessionTable } from '../lib/table/session-table.ts';
import { secretsOf } from './helpers/session-der.ts';
import { until } from './helpers/until.ts';

const { cert, key } = await loadCertificate({});

function tlsServer(options: TlsOptions = {}): Server {
  return createServer({ cert, key, secureOptions: constants.SSL_OP_NO_TICKET, ...options }, (socket) => {
    socket.end('hello\n');
  });
}

/** What these helpers need of a tap test. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

async function listen(t: Teardown, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

interface Handshake {
  reused: boolean;
  session: Buffer | undefined;
  protocol: string | null;
}

function handshake(port: number, maxVersion: SecureVersion, session?: Buffer): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion, session });
    let latest = session;
    socket.on('session', (s: Buffer) => (latest = s));
    socket.on('error', reject);
    socket.on('secureConnect', () => {
      const result = { reused: socket.isSessionReused(), protocol: socket.getProtocol() };
      socket.resume();
      socket.on('close', () => resolve({ ...result, session: latest }));
    });
  });
}

/** Sessions a server hands its newSession listeners, captured with a Map. */
async function captureSessions(t: Teardown, maxVersion: SecureVersion, options: TlsOptions = {}): Promise<Buffer[]> {
  const server = tlsServer(options);
  const sessions: Buffer[] = [];
  server.on('newSession', (_id, session: Buffer, done: () => void) => {
    sessions.push(session);
    done();
  });
  const port = await listen(t, server);
  await handshake(port, maxVersion);
  return sessions;
}

/** The `timeout [2]` field of a DER session (OpenSSL's SSL_SESSION_ASN1), in seconds. */
function sessionTimeoutOf(der: Buffer): number | undefined {
  let at = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
  while (at < der.length) {
    const tag = der[at];
    let length = der[at + 1];
    let header = 2;
    if (length & 0x80) {
      const n = length & 0x7f;
      length = der.readUIntBE(at + 2, n);
      header += n;
    }
    if (tag === 0xa2) {
      // [2] EXPLICIT INTEGER
      const intLength = der[at + header + 1];
      return der.readUIntBE(at + header + 2, intLength);
    }
    at += header + length;
  }
  return undefined;
}

t.test('the protocol version is read from real session blobs', async (t) => {
  const tls12 = await captureSessions(t, 'TLSv1.2');
  const tls13 = await captureSessions(t, 'TLSv1.3');
  t.equal(tls12.length, 1, 'one TLS 1.2 session');
  t.ok(tls13.length >= 1, `${tls13.length} TLS 1.3 sessions (one per ticket)`);
  t.equal(sessionProtocolVersion(tls12[0]), TLS_1_2);
  for (const s of tls13) t.equal(sessionProtocolVersion(s), TLS_1_3);
  t.notOk(isTls13Session(tls12[0]));
  t.ok(isTls13Session(tls13[0]));
  t.equal(sessionProtocolVersion(new Uint8Array()), undefined, 'empty');
  t.equal(sessionProtocolVersion(Buffer.from('hello world, not DER')), undefined, 'not DER');
  t.equal(sessionProtocolVersion(tls12[0].subarray(0, 6)), undefined, 'cut short');
  t.equal(sessionProtocolVersion(Buffer.from('3003020102', 'hex')), undefined, 'another format version');
  t.equal(sessionProtocolVersion(Buffer.from('3080020101020203040000', 'hex')), undefined, 'indefinite length');
  const long = Buffer.from('3082010002010102020304', 'hex');
  t.equal(sessionProtocolVersion(long), TLS_1_3, 'two-byte length form');
});

t.test('the TLS layer stamps sessions with sessionTimeout, or 7200 s when unset', async (t) => {
  // Why attachSessionCache() refuses a server without sessionTimeout: Node
  // documents 300 s, but OpenSSL's own default applies.
  const [unset] = await captureSessions(t, 'TLSv1.2');
  const [set] = await captureSessions(t, 'TLSv1.2', { sessionTimeout: 77 });
  t.equal(sessionTimeoutOf(set), 77);
  t.equal(sessionTimeoutOf(unset), 7200);
});

t.test('attaching checks the server and the timeouts', async (t) => {
  const table = SessionTable.create({ size: 1024 * 1024, timeout: 120, sweepInterval: 0 });
  t.throws(() => attachSessionCache(tlsServer(), table), {
    code: 'ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH',
    serverTimeout: undefined,
    tableTimeout: 120,
    message: /no sessionTimeout.*sessionTimeout: 120/,
  });
  t.throws(() => attachSessionCache(tlsServer({ sessionTimeout: 300 }), table), {
    code: 'ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH',
    serverTimeout: 300,
    message: /\(300 s\) differs from the table's timeout \(120 s\)/,
  });
  t.same(sessionCacheServerOptions(table), { sessionTimeout: 120 });
  const opts = { cert, key, ...sessionCacheServerOptions(table) };
  for (const [name, server] of [
    ['tls', createServer(opts)],
    ['https', createHttpsServer(opts)],
    ['http2', createSecureServer(opts)],
  ] as const) {
    const binding = attachSessionCache(server, table);
    t.equal(sessionCacheOf(server), binding, `${name}: attached`);
    t.equal(server.listenerCount('newSession'), 1);
    t.equal(server.listenerCount('resumeSession'), 1);
    t.throws(() => attachSessionCache(server, table), { code: 'ERR_TLS_CACHE_HOOKS_IN_USE' }, `${name}: not twice`);
    binding.detach();
    t.equal(sessionCacheOf(server), undefined, `${name}: detached`);
    t.equal(server.listenerCount('newSession') + server.listenerCount('resumeSession'), 0);
  }
  const foreign = createServer(opts);
  foreign.on('resumeSession', (_id, done) => done(null, null));
  t.throws(() => attachSessionCache(foreign, table), { code: 'ERR_TLS_CACHE_HOOKS_IN_USE', message: /resumeSession listener/ });
  t.throws(() => attachSessionCache(createTcpServer() as unknown as Server, table), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    option: 'server',
  });
  t.throws(() => attachSessionCache(createServer(opts), {} as SessionStore), { code: 'ERR_TLS_CACHE_INVALID_OPTION', option: 'store' });
  t.throws(() => attachSessionCache(createServer(opts), table, { onError: 1 as never }), {
    code: 'ERR_TLS_CACHE_INVALID_OPTION',
    option: 'onError',
  });
  table.close();
});

t.test('TLS 1.2 sessions are stored and resumed; TLS 1.3 ones skipped and counted', async (t) => {
  const table = SessionTable.create({ size: 1024 * 1024, sweepInterval: 0 });
  t.teardown(() => table.close());
  const server = tlsServer(sessionCacheServerOptions(table));
  const binding = attachSessionCache(server, table);
  const port = await listen(t, server);

  const first = await handshake(port, 'TLSv1.2');
  t.equal(first.protocol, 'TLSv1.2');
  t.notOk(first.reused);
  t.equal(table.stats().entries, 1, 'stored');
  for (let i = 0; i < 3; i++) t.ok((await handshake(port, 'TLSv1.2', first.session)).reused, `resumed ${i + 1}`);
  t.match(binding.counters, { stored: 1, lookupHits: 3, skippedTls13: 0, refused: 0 });

  let session: Buffer | undefined;
  for (let i = 0; i < 3; i++) {
    const h = await handshake(port, 'TLSv1.3', session);
    t.equal(h.protocol, 'TLSv1.3');
    session = h.session;
  }
  t.equal(table.stats().entries, 1, 'no TLS 1.3 entry');
  t.equal(table.stats().inserts, 1);
  t.ok(binding.counters.skippedTls13 >= 3, `${binding.counters.skippedTls13} TLS 1.3 sessions skipped`);
  t.equal(binding.counters.stored, 1);
});

t.test('a SessionTable is looked up with lookUp(id, target) into one buffer, and every resumption gets its own session', async (t) => {
  const table = SessionTable.create({ size: 1024 * 1024, sweepInterval: 0 });
  t.teardown(() => table.close());
  const server = tlsServer(sessionCacheServerOptions(table));
  const binding = attachSessionCache(server, table);
  const port = await listen(t, server);
  // Spies on the real table: count lookUp() and the buffers it fills; get() must not be used.
  const targets = new Set<ArrayBufferLike>();
  let lookups = 0;
  const lookUp = table.lookUp.bind(table) as (id: Uint8Array, target?: Uint8Array) => Uint8Array | 'not_found' | 'expired';
  (table as { lookUp: typeof lookUp }).lookUp = (id, target) => {
    lookups++;
    if (target !== undefined) targets.add(target.buffer);
    return lookUp(id, target);
  };
  table.get = () => {
    throw new Error('the hooks called get()');
  };

  const sessions: Buffer[] = [];
  for (let i = 0; i < 4; i++) sessions.push((await handshake(port, 'TLSv1.2')).session!);
  const resumedKey = (session: Buffer): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', session });
      socket.on('error', reject);
      socket.on('secureConnect', () => {
        const reused = socket.isSessionReused();
        const current = socket.getSession();
        socket.destroy();
        resolve(reused && current !== undefined ? secretsOf(current).masterKey : undefined);
      });
    });
  // Interleaved, so a lookup that kept an earlier session's bytes would show.
  for (let round = 0; round < 3; round++) {
    for (const i of [2, 0, 3, 1]) {
      const key = await resumedKey(sessions[i]);
      t.ok(key?.equals(secretsOf(sessions[i]).masterKey), `round ${round + 1}, session ${i}: resumed with its own master key`);
    }
  }
  t.equal(lookups, 12, 'one lookUp() per resumption (a TLS 1.2 first handshake offers no session ID, so Node asks nothing)');
  t.equal(targets.size, 1, 'always into the same buffer (SessionStore.maxSessionSize)');
  t.match(binding.counters, { stored: 4, lookupHits: 12 });
});

t.test('a session the store refuses or a store that throws never breaks a handshake', async (t) => {
  const table = SessionTable.create({ size: 1024 * 1024, maxSessionSize: 64, sweepInterval: 0 });
  t.teardown(() => table.close());
  const server = tlsServer(sessionCacheServerOptions(table));
  const errors: Array<{ code: unknown; hook: string }> = [];
  const binding = attachSessionCache(server, table, {
    onError: (error, hook) => {
      errors.push({ code: (error as { code?: unknown }).code, hook });
      throw new Error('a broken reporter is ignored too');
    },
  });
  const port = await listen(t, server);
  const first = await handshake(port, 'TLSv1.2');
  const second = await handshake(port, 'TLSv1.2', first.session);
  t.notOk(second.reused, 'a full handshake instead');
  t.equal(binding.counters.refused, 2, 'both oversize sessions refused');
  t.equal(table.stats().refusals.tooLarge, 2);
  t.same(errors[0], { code: 'ERR_TLS_CACHE_INVALID_SESSION', hook: 'newSession' });

  const throwing: SessionStore = {
    timeout: 300,
    get: () => {
      throw new Error('lookup failed');
    },
    set: () => {
      throw new Error('store failed');
    },
  };
  const other = tlsServer(sessionCacheServerOptions(throwing));
  const otherBinding = attachSessionCache(other, throwing);
  const otherPort = await listen(t, other);
  const a = await handshake(otherPort, 'TLSv1.2');
  const b = await handshake(otherPort, 'TLSv1.2', a.session);
  t.notOk(b.reused);
  t.match(otherBinding.counters, { refused: 2, missed: 1, lookupHits: 0 });
});

t.test('a detached cache is not consulted', async (t) => {
  const table = SessionTable.create({ size: 1024 * 1024, sweepInterval: 0 });
  t.teardown(() => table.close());
  const server = tlsServer(sessionCacheServerOptions(table));
  const binding = attachSessionCache(server, table);
  const port = await listen(t, server);
  const first = await handshake(port, 'TLSv1.2');
  binding.detach();
  binding.detach();
  t.notOk((await handshake(port, 'TLSv1.2', first.session)).reused, 'no hooks, no resumption (Node\'s server keeps no session cache of its own: SSL_SESS_CACHE_NO_INTERNAL)');
  t.equal(table.stats().hits + table.stats().misses, 0);
});

t.test('a store may answer lookups asynchronously: Node waits, and a rejection is a miss', async (t) => {
  const sessions = new Map<string, Uint8Array>();
  let delayMs = 30;
  let reject = false;
  const lookups: number[] = [];
  const slow: SessionStore = {
    timeout: 300,
    get: (id) =>
      new Promise((resolve, fail) => {
        lookups.push(Date.now());
        setTimeout(() => (reject ? fail(new Error('second level down')) : resolve(sessions.get(Buffer.from(id).toString('hex')))), delayMs);
      }),
    set: (id, session) => {
      sessions.set(Buffer.from(id).toString('hex'), Uint8Array.from(session));
      return true;
    },
  };
  const server = tlsServer(sessionCacheServerOptions(slow));
  const errors: string[] = [];
  const binding = attachSessionCache(server, slow, { onError: (error) => errors.push((error as Error).message) });
  const port = await listen(t, server);
  const first = await handshake(port, 'TLSv1.2');
  const started = Date.now();
  const second = await handshake(port, 'TLSv1.2', first.session);
  t.ok(second.reused, 'resumed from a promised answer');
  t.ok(Date.now() - started >= delayMs - 5, 'the handshake waited for the store');
  delayMs = 0;
  sessions.clear();
  const third = await handshake(port, 'TLSv1.2', second.session);
  t.notOk(third.reused, 'a promised miss is a full handshake');
  reject = true;
  const fourth = await handshake(port, 'TLSv1.2', third.session);
  t.notOk(fourth.reused, 'a rejected lookup is a full handshake, not a failure');
  t.same(errors, ['second level down'], 'the rejection reaches onError');
  t.equal(lookups.length, 3, 'one lookup per resumption attempt');
  t.match(binding.counters, { lookupHits: 1, missed: 2, stored: 3 });
});

t.test("a store may hold a new session's handshake until it is stored: Node sends nothing more until then", async (t) => {
  const sessions = new Map<string, Uint8Array>();
  let release: ((kept: boolean) => void) | undefined;
  let fail = false;
  const holding: SessionStore = {
    timeout: 300,
    get: (id) => sessions.get(Buffer.from(id).toString('hex')),
    set: (id, session) =>
      new Promise((resolve, reject) => {
        if (fail) {
          reject(new Error('owner gone'));
          return;
        }
        release = (kept) => {
          if (kept) sessions.set(Buffer.from(id).toString('hex'), Uint8Array.from(session));
          resolve(kept);
        };
      }),
  };
  const server = tlsServer(sessionCacheServerOptions(holding));
  const errors: string[] = [];
  const binding = attachSessionCache(server, holding, { onError: (error) => errors.push((error as Error).message) });
  const port = await listen(t, server);

  let ended = false;
  const first = handshake(port, 'TLSv1.2').then((h) => ((ended = true), h));
  await until(() => release !== undefined);
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.notOk(ended, "the client's handshake did not end while the store held it (200 ms)");
  release!(true);
  const made = await first;
  t.ok(made.session, 'it ends once the store settles');
  t.ok((await handshake(port, 'TLSv1.2', made.session)).reused, 'and the session resumes');

  release = undefined;
  const refused = handshake(port, 'TLSv1.2');
  await until(() => release !== undefined);
  release!(false);
  await refused;
  fail = true;
  await handshake(port, 'TLSv1.2');
  t.same(errors, ['owner gone'], 'a rejected store reaches onError, and the handshake goes on');
  t.match(binding.counters, { stored: 1, refused: 2, lookupHits: 1 });
});

t.test("lookupHits under its old name resumed: the binding's counters read it, counters made for 0.1 count in it, warning once (TLS_CACHE_DEP007)", async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): number => warnings.push(warning);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const table = SessionTable.create({ size: 1024 * 1024, sweepInterval: 0 });
  t.teardown(() => table.close());
  const server = tlsServer(sessionCacheServerOptions(table));
  const binding = attachSessionCache(server, table);
  const port = await listen(t, server);
  const first = await handshake(port, 'TLSv1.2');
  for (let i = 0; i < 2; i++) t.ok((await handshake(port, 'TLSv1.2', first.session)).reused);
  t.equal(binding.counters.lookupHits, 2);
  t.equal(binding.counters.resumed, 2, 'resumed reads lookupHits');
  t.notOk(Object.keys(binding.counters).includes('resumed'), 'not enumerated: logs and copies have the new name only');
  // An application's own counters object, written for 0.1.
  const old = { stored: 0, skippedTls13: 0, refused: 0, resumed: 0, missed: 0, endedByAlert: 0 };
  const other = tlsServer(sessionCacheServerOptions(table));
  attachSessionCache(other, table, { counters: old as never });
  const otherPort = await listen(t, other);
  for (let i = 0; i < 3; i++) t.ok((await handshake(otherPort, 'TLSv1.2', first.session)).reused);
  t.equal(old.resumed, 3, 'its resumed counts the lookups that found a session');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(
    warnings.filter((w) => w.name === 'DeprecationWarning').map((w) => [(w as { code?: string }).code, w.message]),
    [['TLS_CACHE_DEP007', 'the counter name resumed is deprecated and goes in 0.3: use lookupHits, the same counter under its new name']],
    'one warning in the process',
  );
});
