/**
 * Node's private internals, in one module and checked at start by what each
 * does (`lib/tls/node-internals.ts`, `lib/tls/node-capabilities.ts`), on the
 * Node running this file (the suite runs it on 22.12.x, 24.x and 26.x):
 *
 * - every capability's check passes here, and fails when its internal is
 *   present by name but does nothing (stubbed in this process);
 * - no other file of `lib/` or `workers/` names a private internal;
 * - the command line with one internal stubbed in every thread (a preload):
 *   one warning naming it, its metric at 0 and the others at 1, and real
 *   handshakes resuming across threads by session ID and by ticket.
 */
import { constants } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type SecureVersion } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { probeNodeCapabilities } from '../lib/tls/node-capabilities.ts';
import { CAPABILITIES, reportNodeCapabilities, type Capability } from '../lib/tls/known-capabilities.ts';
import { freePort, run, waitForLog, type Running } from './fixtures/process.ts';
import { selfSignedCertificate } from '../lib/tickets/self-signed.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What the Node running this file is known to lack: nothing on 22.12, 24 and 26. Anything off fails. */
const LACKING: Capability[] = [];
/** Node 26 parses the ClientHello with OpenSSL's own callback and hands no server name over before the lookup: names are checked late there. */
const NAMES_LATE = Number(process.versions.node.split('.')[0]) >= 26;
const expectedSummary = (off: Capability[]): Record<string, string> => Object.fromEntries(CAPABILITIES.map((name) => [name, off.includes(name) ? 'off' : 'on']));
const BIN = join(ROOT, 'dist/lib/cli/bin.js');
const SERVER = join(ROOT, 'test/fixtures/package/server.mjs');

t.test('every capability works on this Node, and the start-up report says so in one line', async (t) => {
  const capabilities = await probeNodeCapabilities();
  for (const name of CAPABILITIES) t.equal(capabilities[name].on, !LACKING.includes(name), `${name} ${LACKING.includes(name) ? 'off' : 'on'} on ${process.version}: ${capabilities[name].detail}`);
  t.match(capabilities.ticket_miss_reasons.detail, /^TLSWrap\.(clientHelloDone|endParser)$/, 'the ClientHello hand-over is followed through the method this Node has');
  t.equal(capabilities.session_names.late === true, NAMES_LATE, `session names ${NAMES_LATE ? 'checked at the handshake\'s end' : 'known before the lookup'} on ${process.version}`);
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  reportNodeCapabilities(logger, capabilities);
  reportNodeCapabilities(logger, capabilities);
  t.equal(lines.length, 1 + LACKING.length, 'one line, once per process (and a warning for each capability this Node lacks)');
  t.equal(lines[0].msg, 'node capabilities');
  t.same(lines[0].capabilities, expectedSummary(LACKING), 'each capability on or off');
  t.same(lines.slice(1).map((l) => l.capability), LACKING, 'the warnings name what this Node lacks');
  t.equal(lines[0].node, process.version);
});

t.test('only lib/tls/node-internals.ts names a private internal of Node', async (t) => {
  // Each of these is reached in node-internals.ts, and nowhere else: a rename in Node then breaks one module, which the start-up checks catch.
  const PRIVATE = [/\._sharedCreds\b/, /\._handle\b/, /\._contexts\b/, /'snicallback'/, /\bexecutionAsyncResource\b/, /\bonticketkeycallback\b/, /\benableTicketKeyCallback\b/, /\bendParser\b/, /\bclientHelloDone\b/, /\bgetCertificate\(\)/, /\.setSessionIdContext\(/, /\bserver\.(sessionTimeout|sessionIdContext|secureOptions)\b/, /as \{ (sessionTimeout|sessionIdContext|secureOptions)\?/];
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts')) files.push(path);
    }
  };
  walk(join(ROOT, 'lib'));
  walk(join(ROOT, 'workers'));
  t.ok(files.length > 50, `${files.length} source files read`);
  const offending: string[] = [];
  for (const file of files) {
    if (file.endsWith('lib/tls/node-internals.ts')) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // Comments may name them (to say where they went); code may not.
        if (/^\s*(\*|\/\/|\/\*)/.test(line)) return;
        // Nor may messages: what a line says in quotes is not what it does.
        const code = line.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
        for (const pattern of PRIVATE) if (pattern.test(code)) offending.push(`${file.slice(ROOT.length)}:${i + 1}: ${line.trim()}`);
      });
  }
  t.same(offending, [], 'no private internal outside node-internals.ts');
  const internals = readFileSync(join(ROOT, 'lib/tls/node-internals.ts'), 'utf8');
  const unused = PRIVATE.filter((pattern) => !pattern.test(internals));
  t.same(unused.map(String), [], 'each pattern finds its internal in node-internals.ts (control)');
});

/** A preload that stubs one internal, as a Node that renamed or emptied it would. */
const STUBS: Record<string, { capability: Capability; source: string }> = {
  'a ticket key callback that does nothing': {
    capability: 'ticket_key_callback',
    source: `import { createSecureContext } from 'node:tls';
const proto = Object.getPrototypeOf(createSecureContext().context);
// Present by name, but it never turns OpenSSL's callback on.
proto.enableTicketKeyCallback = function () {};
`,
  },
  'no way to follow the ClientHello hand-over': {
    capability: 'ticket_miss_reasons',
    source: `import { TLSSocket } from 'node:tls';
const probe = new TLSSocket(undefined);
const proto = Object.getPrototypeOf(probe._handle);
probe.destroy();
for (const name of ['clientHelloDone', 'endParser']) {
  if (typeof proto[name] === 'function') Object.defineProperty(proto, name, { value: proto[name], writable: false, configurable: false });
}
`,
  },
  'a session ID context that cannot be changed': {
    capability: 'certificate_binding',
    source: `import { createSecureContext } from 'node:tls';
const proto = Object.getPrototypeOf(createSecureContext().context);
// Present by name, without effect.
proto.setSessionIdContext = function () {};
`,
  },
};

interface Seen {
  reused: boolean;
  session: Buffer | undefined;
}

/** One HTTPS request on a new connection offering `session`; the newest session the server gave. */
function visit(port: number, maxVersion: SecureVersion, session: Buffer | undefined, noTicket = false): Promise<Seen> {
  return new Promise((resolve, reject) => {
    let newest = session;
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion, minVersion: maxVersion, session, secureOptions: noTicket ? constants.SSL_OP_NO_TICKET : 0 });
    socket.on('session', (s: Buffer) => (newest = s));
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
    socket.on('error', reject);
    socket.once('secureConnect', () => socket.end('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
    let body = '';
    socket.on('data', (chunk: Buffer) => (body += chunk.toString()));
    socket.on('close', () => resolve({ reused: /\breused\b/.test(body), session: newest }));
  });
}

/** `count` connections in a row, each offering the newest session; how many resumed (the first cannot). */
async function chain(port: number, maxVersion: SecureVersion, count: number, noTicket = false): Promise<number> {
  let session: Buffer | undefined;
  let reused = 0;
  for (let i = 0; i <= count; i++) {
    const seen = await visit(port, maxVersion, session, noTicket);
    if (i > 0 && seen.reused) reused++;
    session = seen.session;
  }
  return reused;
}

async function gauges(metricsPort: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const found: Record<string, number> = {};
  for (const match of text.matchAll(/^tls_session_cache_node_capability\{capability="(\w+)"\} (\d+)$/gm)) found[match[1]] = Number(match[2]);
  return found;
}

const dir = mkdtempSync(join(tmpdir(), 'tls-resumption-internals-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const { cert, key } = selfSignedCertificate('localhost');
writeFileSync(join(dir, 'cert.pem'), cert);
writeFileSync(join(dir, 'key.pem'), key);

async function startCli(t: Test, preload: string | undefined): Promise<{ running: Running; port: number; metricsPort: number }> {
  const port = await freePort();
  const metricsPort = await freePort();
  const running = run(BIN, {
    APP_CERT: join(dir, 'cert.pem'),
    APP_KEY: join(dir, 'key.pem'),
    TLS_CACHE_WORKERS: '2',
    TLS_CACHE_METRICS_PORT: String(metricsPort),
    TLS_CACHE_LOG_FORMAT: 'json',
    ...(preload === undefined ? {} : { NODE_OPTIONS: `--import=${pathToFileURL(preload).href}` }),
  }, [SERVER, '--port', String(port), '--host', '127.0.0.1']);
  t.teardown(() => running.kill());
  await waitForLog(running, 'listening', 30_000);
  return { running, port, metricsPort };
}

t.test('the command line on this Node: every capability it has on, a warning for each it lacks, the gauges', async (t) => {
  const { running, metricsPort } = await startCli(t, undefined);
  const line = running.logs.find((l) => l.msg === 'node capabilities');
  t.same(line?.capabilities, expectedSummary(LACKING));
  t.equal(running.logs.filter((l) => l.msg === 'node capabilities').length, 1, 'said once for the process (the threads adopt it)');
  t.same(running.logs.filter((l) => typeof l.capability === 'string').map((l) => l.capability), LACKING, LACKING.length === 0 ? 'no capability warning' : `a warning for ${LACKING.join(', ')}`);
  t.same(await gauges(metricsPort), Object.fromEntries(CAPABILITIES.map((name) => [name, LACKING.includes(name) ? 0 : 1])), 'tls_session_cache_node_capability: 1 on, 0 off');
});

for (const [title, { capability, source }] of Object.entries(STUBS)) {
  t.test(`${title}: ${capability} off, said once, everything else works`, async (t) => {
    const preload = join(dir, `${capability}.mjs`);
    writeFileSync(preload, source);
    const { running, port, metricsPort } = await startCli(t, preload);
    const warnings = running.logs.filter((l) => typeof l.level === 'number' && l.level >= 40 && !LACKING.includes(l.capability as Capability));
    t.equal(warnings.length, 1, `one warning (${warnings.map((l) => l.msg).join(' | ')})`);
    t.equal(warnings[0]?.capability, capability, `it names ${capability}`);
    t.match(String(warnings[0]?.msg), new RegExp(`^${capability} is off on this Node: .+; run a Node version the package is tested on`), 'with the consequence and what to do');
    const summary = running.logs.find((l) => l.msg === 'node capabilities')?.capabilities as Record<string, string> | undefined;
    t.equal(summary?.[capability], 'off', 'the start-up line shows it off');
    // Those that need it are off too, and its warning says what they cost.
    const needing: Record<string, string[]> = { ticket_key_callback: ['ticket_renewal', 'ticket_miss_reasons', 'session_names'], ticket_miss_reasons: ['session_names'] };
    const off = [capability, ...(needing[capability] ?? [])];
    const allOff = [...new Set([...off, ...LACKING])];
    const expected = Object.fromEntries(CAPABILITIES.map((name) => [name, allOff.includes(name) ? 0 : 1]));
    t.same(await gauges(metricsPort), expected, `gauges at 0: ${allOff.join(', ')}; the others at 1`);
    for (const name of off.slice(1)) t.match(String(warnings[0]?.msg), name, `the warning names what ${name} costs`);
    // Handshakes go on: sessions and tickets resume across the 2 threads.
    t.equal(await chain(port, 'TLSv1.2', 10, true), 10, 'TLS 1.2 session IDs: 10 of 10 resumed');
    t.equal(await chain(port, 'TLSv1.2', 10), 10, 'TLS 1.2 tickets: 10 of 10 resumed');
    t.equal(await chain(port, 'TLSv1.3', 10), 10, 'TLS 1.3 tickets (the newest offered): 10 of 10 resumed');
    t.equal(running.stderr(), '', 'nothing on standard error');
  });
}
