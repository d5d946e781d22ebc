/**
 * The check that turns ticket renewal on in a thread: before any real
 * ticket is renewed, real TLS 1.3 handshakes between a private server and a
 * client, in memory (a `duplexPair`, no port), go through the same ticket
 * callback and linking code as every server's (`ticket-callback.ts`,
 * `ticket-links.ts`), and must show the order renewal relies on:
 *
 * 1. a full handshake gets 2 tickets, both carrying its birth;
 * 2. a resumption with the second is answered "renew" and gets exactly 1
 *    new ticket carrying the same birth;
 * 3. a resumption with that renewed ticket does the same;
 * 4. once the birth is `lifetime` old (on the test's clock, moved ahead), the
 *    newest ticket is refused: a full handshake, which again gets 2 tickets
 *    with a new birth.
 *
 * Any other outcome, a check of `ticket-links.ts` failing meanwhile, or no
 * result within {@link SELF_TEST_TIMEOUT_MS}, turns renewal off in the
 * thread (tickets are then accepted without renewal, as before renewal
 * existed), with the reason. Runs once per thread, in memory (no port); not at all
 * in a thread whose state was set already (the worker-thread runtime runs
 * it once in its primary and hands the result to every server thread: same
 * Node, same OpenSSL).
 *
 * @module
 */
import { createServer } from 'node:tls';
import { visitInMemory } from '../tls/in-memory-handshake.ts';
import { TicketKeyRing } from './key-ring.ts';
import { selfSignedCertificate } from './self-signed.ts';
import { ticketCallback } from './ticket-callback.ts';
import { installTicketKeyCallback } from '../tls/node-internals.ts';
import { linkServer, renewalState, setRenewalState } from './ticket-links.ts';
import { emptyTicketCounters, type TicketCounters } from './ticket-counters.ts';

/** Longest the self-test may take before renewal is turned off. */
const SELF_TEST_TIMEOUT_MS = 5000;
const LIFETIME_S = 60;

let running: Promise<void> | undefined;

/**
 * Runs the self-test in this thread unless it ran already or the thread's
 * state is set; resolves once the state is `on` or `off` (never rejects).
 */
export function renewalSelfTest(): Promise<void> {
  if (running === undefined && renewalState().state !== 'pending') running = Promise.resolve();
  running ??= selfTest().then(
    (failure) => setRenewalState(failure === undefined ? 'on' : 'off', failure === undefined ? undefined : `self-test: ${failure}`),
    (error: unknown) => setRenewalState('off', `self-test failed: ${(error as Error)?.message ?? String(error)}`),
  );
  return running;
}

/** The self-test; resolves to why it failed, or `undefined`. */
async function selfTest(): Promise<string | undefined> {
  const { cert, key } = selfSignedCertificate();
  let ahead = 0;
  const clock = (): number => Date.now() + ahead;
  const ring = TicketKeyRing.create({ timeout: LIFETIME_S });
  const counters: TicketCounters = emptyTicketCounters();
  const births: number[] = [];
  // Each connection is answered by visitInMemory(): a byte after the handshake's tickets.
  const server = createServer({ cert, key, sessionTimeout: LIFETIME_S, minVersion: 'TLSv1.3' });
  server.on('tlsClientError', () => {});
  const { callback, wipe } = ticketCallback({ ring, counters, lifetimeMs: LIFETIME_S * 1000, renew: true, clock, selfTest: true, onEncrypt: (birth) => births.push(birth) });
  const installed = installTicketKeyCallback(server, callback);
  if (installed === undefined) {
    wipe();
    ring.close();
    return 'no ticket key callback';
  }
  const unlink = linkServer(server, clock);
  let timer: NodeJS.Timeout | undefined;
  // Not unref'd: should the handshakes stall, this still settles, so `ready` always does.
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no result within ${SELF_TEST_TIMEOUT_MS} ms`), SELF_TEST_TIMEOUT_MS);
  });
  try {
    return await Promise.race([steps(server, counters, births, (ms) => (ahead += ms)), timedOut]);
  } finally {
    clearTimeout(timer);
    unlink();
    // A handshake still in flight (the self-test timed out) may still ask for a ticket: refused safely.
    installed.uninstall();
    wipe();
    ring.close();
  }
}

async function steps(
  server: ReturnType<typeof createServer>,
  counters: TicketCounters,
  births: number[],
  advance: (ms: number) => void,
): Promise<string | undefined> {
  const same = (expected: number, count: number): boolean => births.length === count && births.every((birth) => birth === expected);
  const full = await visitInMemory(server, { version: 'TLSv1.3' });
  if (full.reused || full.tickets.length !== 2) return `a full handshake gave ${full.tickets.length} tickets, expected 2`;
  const birth = births[0];
  if (!same(birth, 2)) return 'the tickets of a full handshake carried different births';
  let newest = full.tickets[1];
  for (const round of [1, 2]) {
    births.length = 0;
    const resumed = await visitInMemory(server, { version: 'TLSv1.3', session: newest });
    if (!resumed.reused) return `resumption ${round} was a full handshake`;
    if (resumed.tickets.length !== 1 || counters.renewed !== round) return `resumption ${round} gave ${resumed.tickets.length} tickets (${counters.renewed} renewed), expected 1`;
    if (!same(birth, 1)) return `the ticket renewed by resumption ${round} did not carry the session's birth`;
    newest = resumed.tickets[0];
  }
  if (renewalState().state === 'off') return renewalState().reason;
  births.length = 0;
  advance(LIFETIME_S * 1000);
  const late = await visitInMemory(server, { version: 'TLSv1.3', session: newest });
  if (late.reused || counters.expired !== 1) return 'a ticket whose session was a lifetime old resumed';
  if (late.tickets.length !== 2 || births.length !== 2 || births[0] <= birth) return 'the full handshake after an expired ticket did not get 2 new tickets';
  return renewalState().state === 'off' ? renewalState().reason : undefined;
}
