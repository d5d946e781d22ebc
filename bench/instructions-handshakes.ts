/**
 * The handshakes that `bench/instructions.ts` counts, run in one process:
 * a TLS server in memory (a `duplexPair`, no port) with the session cache
 * and the ticket key ring attached through the package's own modules of the
 * tree given, and Node's TLS client in the same process (one client secure
 * context for all, so that only the server's side changes between trees).
 * After 300 warm-up handshakes it makes `count` more, each offering the
 * newest session it was given (a ticket used once, as browsers do).
 *
 * Usage: node bench/instructions-handshakes.ts <tree> <path> <count> [hooks|runtime]
 *   tree: a checkout of this repository (its lib/ is imported)
 *   path: tls12-id | tls12-ticket | tls13-once
 *   hooks (default): the session hooks and the ticket keys alone
 *     (`attachSessionCache`, `attachTicketKeys`); runtime: what every
 *     runtime attaches to a server (`attachRuntime`, with shared counters:
 *     the handshake counts, the missed resumptions' reasons, the session
 *     ages, the names' binding), the path of a production server
 *
 * @module
 */
import { constants } from 'node:crypto';
import { duplexPair } from 'node:stream';
import { connect, createSecureContext, createServer, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { selfSignedCertificate } from '../lib/tickets/self-signed.ts';

const [tree, path, countText, attach = 'hooks'] = process.argv.slice(2);
const count = Number(countText);
const from = (file: string): string => pathToFileURL(join(tree, 'lib', file)).href;
const { SessionTable } = await import(from('table/session-table.ts'));
const { TicketKeyRing } = await import(from('tickets/key-ring.ts'));
const { attachSessionCache } = await import(from('tls/session-hooks.ts'));
const { attachTicketKeys } = await import(from('tickets/attach-ticket-keys.ts'));
const { probeNodeCapabilities } = await import(from('tls/node-capabilities.ts'));
await probeNodeCapabilities();

const { cert, key } = selfSignedCertificate('bench.test');
const version = path === 'tls13-once' ? 'TLSv1.3' : 'TLSv1.2';
const noTicket = path === 'tls12-id' ? constants.SSL_OP_NO_TICKET : 0;
const sessionIdContext = 'bench';
// A day: a session outlives the slowest run under valgrind (its lifetime counts from its full handshake).
const timeout = 86_400;
const server = createServer({ cert, key, sessionTimeout: timeout, secureOptions: noTicket, sessionIdContext }, () => {});
const table = SessionTable.create({ size: 1 << 22, timeout });
const ring = path === 'tls12-id' ? undefined : TicketKeyRing.create({ timeout });
/** The runtime's counters (`attach` runtime): the JSON line says how many session ages they counted, where they count them. */
let counters: { values(): Record<string, number> } | undefined;
if (attach === 'runtime') {
  const { attachRuntime } = await import(from('runtime/attach-runtime.ts'));
  const { SharedCounters } = await import(from('operations/counters.ts'));
  const { pino } = await import('pino');
  counters = SharedCounters.create();
  const attached = attachRuntime(server, { store: table, ticketKeys: ring, ticketMode: 'auto', counters, logger: pino({ level: 'silent' }), sessionIdContext });
  await attached.tickets?.ready;
} else {
  attachSessionCache(server, table);
  if (ring !== undefined) await attachTicketKeys(server, ring).ready;
}
const clientContext = createSecureContext({ minVersion: version, maxVersion: version });

function visit(session: Buffer | undefined): Promise<{ reused: boolean; newest: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const [serverSide, clientSide] = duplexPair();
    server.once('secureConnection', (socket: TLSSocket) => {
      socket.on('error', () => {});
      setImmediate(() => socket.write('.'));
    });
    server.emit('connection', serverSide);
    const client = connect({ socket: clientSide, secureContext: clientContext, rejectUnauthorized: false, session, servername: 'bench.test', secureOptions: noTicket });
    let newest: Buffer | undefined;
    client.on('session', (ticket: Buffer) => (newest = ticket));
    client.on('error', reject);
    client.once('data', () => {
      resolve({ reused: client.isSessionReused(), newest });
      client.destroy();
      serverSide.destroy();
    });
  });
}

let session = (await visit(undefined)).newest;
for (let i = 0; i < 300; i++) session = (await visit(session)).newest ?? session;
let reused = 0;
for (let i = 0; i < count; i++) {
  const { reused: again, newest } = await visit(session);
  if (again) reused++;
  session = newest ?? session;
}
const values = counters?.values();
const aged = values === undefined ? undefined : (values.ageIdCount ?? 0) + (values.ageTicketCount ?? 0);
process.stdout.write(`${JSON.stringify({ path, count, reused, attach, aged })}\n`);
process.exit(0);
