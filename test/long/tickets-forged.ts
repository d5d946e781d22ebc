/**
 * A client can send any bytes as a ticket. More than 10,000 forged tickets,
 * made from real TLS 1.2 and TLS 1.3 tickets of the cluster (random bytes,
 * unknown or all-zero key names, truncations, flipped bits, extra bytes),
 * each sent in a real ClientHello (`tls.connect({ session })` with the
 * ticket replaced in the session's DER), 16 at a time, against 4 worker
 * threads: each ends in a full handshake or a clean refusal, none resumes,
 * no thread dies, and the server keeps serving and resuming.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { connect, type SecureVersion } from 'node:tls';
import t from 'tap';
import { visitTls } from '../fixtures/clients.ts';
import { startTestCluster } from '../fixtures/start.ts';
import { ticketOf, withTicket } from '../helpers/session-der.ts';

const FORGED = 10_240;
// About 50 s on a 2-core machine; more when other work runs.
t.setTimeout(300_000);
const CONCURRENCY = 16;

type Outcome = 'full' | 'resumed' | 'refused' | 'timeout';

function handshake(port: number, version: SecureVersion, session: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      resolve(outcome);
      socket.destroy();
    };
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: version, minVersion: version, session });
    socket.setTimeout(10_000, () => settle('timeout'));
    socket.on('secureConnect', () => settle(socket.isSessionReused() ? 'resumed' : 'full'));
    socket.on('error', () => settle('refused'));
    socket.on('close', () => settle('refused'));
  });
}

/** One to three distinct bits flipped (two flips of one bit would give the real ticket back). */
const flipBits = (ticket: Buffer): Buffer => {
  const forged = Buffer.from(ticket);
  const bits = new Set<number>();
  for (let count = 1 + randomInt(3); bits.size < count; ) bits.add(randomInt(ticket.length * 8));
  for (const bit of bits) forged[bit >> 3] ^= 1 << (bit & 7);
  return forged;
};

/** The ways to forge a ticket from a real one. */
const FORGERIES: Record<string, (real: Buffer) => Buffer> = {
  random: () => randomBytes(1 + randomInt(600)),
  unknownName: (real) => Buffer.concat([randomBytes(16), real.subarray(16)]),
  zeroName: (real) => Buffer.concat([Buffer.alloc(16), real.subarray(16)]),
  truncated: (real) => real.subarray(0, randomInt(real.length)),
  flippedBits: flipBits,
  extended: (real) => Buffer.concat([real, randomBytes(1 + randomInt(64))]),
  nameOnly: (real) => real.subarray(0, 16 + randomInt(33)),
};

t.test(`${FORGED} forged tickets: full handshakes or clean refusals, and the server keeps serving`, { timeout: 240_000 }, async (t) => {
  const { cluster } = await startTestCluster('tls', 'shared', {}, { tickets: true });
  t.teardown(() => cluster.stop());
  const real: Array<{ version: SecureVersion; session: Buffer; ticket: Buffer }> = [];
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    for (let i = 0; i < 4; i++) {
      const { session } = await visitTls({ port: cluster.port, maxVersion: version });
      const ticket = ticketOf(session!);
      t.ok(ticket && ticket.length > 48, `a real ${version} ticket`);
      real.push({ version, session: session!, ticket: ticket! });
    }
  }
  for (const { version, session } of real) {
    t.equal(await handshake(cluster.port, version, session), 'resumed', `the real ${version} sessions resume`);
  }

  const kinds = Object.keys(FORGERIES);
  const outcomes: Record<string, Record<Outcome, number>> = {};
  for (const kind of kinds) outcomes[kind] = { full: 0, resumed: 0, refused: 0, timeout: 0 };
  let next = 0;
  const started = Date.now();
  const runner = async (): Promise<void> => {
    while (next < FORGED) {
      const n = next++;
      const kind = kinds[n % kinds.length];
      const source = real[Math.floor(n / kinds.length) % real.length];
      const ticket = FORGERIES[kind](source.ticket);
      if (ticket.equals(source.ticket)) throw new Error(`${kind} made the real ticket`);
      const forged = withTicket(source.session, ticket);
      outcomes[kind][await handshake(cluster.port, source.version, forged)]++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, runner));
  const seconds = (Date.now() - started) / 1000;
  t.comment(`${FORGED} forged tickets in ${seconds.toFixed(1)} s: ${JSON.stringify(outcomes)}`);

  let total = 0;
  for (const kind of kinds) {
    const { full, resumed, refused, timeout } = outcomes[kind];
    total += full + refused;
    t.equal(resumed, 0, `${kind}: none resumed`);
    t.equal(timeout, 0, `${kind}: none hung`);
    t.ok(full > 0, `${kind}: full handshakes (${full}; ${refused} refused)`);
  }
  t.equal(total, FORGED, 'every forged ticket ended in a full handshake or a clean refusal');

  t.ok(cluster.workers().every((w) => w.listening && w.restarts === 0), 'no worker died');
  const tickets = await cluster.ticketCounters();
  t.ok(tickets.unknownKey >= (FORGED / kinds.length) * 2, `unknown key names were refused (${tickets.unknownKey})`);
  t.equal(tickets.failures, 0);
  for (const { version, session } of real) {
    t.equal(await handshake(cluster.port, version, session), 'resumed', `${version}: the real sessions still resume`);
  }
  const fresh = await visitTls({ port: cluster.port, maxVersion: 'TLSv1.3' });
  t.equal(fresh.served.protocol, 'TLSv1.3', 'and new clients are served');
});
