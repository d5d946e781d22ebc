/**
 * Which connection a ticket belongs to. Node calls the ticket key callback
 * with no socket (its scope is the SecureContext's, not a connection's), so
 * renewing a TLS 1.3 ticket with its session's birth needs the order in
 * which Node and OpenSSL run the callbacks of one connection, measured on
 * Node 22 and 24 (OpenSSL 3.0 and 3.5), over TCP and in memory:
 *
 * - **Decrypt.** A TLS 1.3 ClientHello reaches the `resumeSession` listener
 *   (with its random legacy session ID), whose scope is the connection's
 *   TLSWrap; OpenSSL decrypts the offered ticket synchronously inside the
 *   listener's `done()` call, which Node makes through the method
 *   `node-internals.ts` follows (or, where it cannot, inside the library's
 *   listener: `tls/session-listeners.ts`), and {@link linkOfferedBirth}
 *   ties the ticket's birth to `clientHelloConnection()`.
 * - **Encrypt.** A TLS 1.3 handshake emits `'secureConnection'` first, then
 *   OpenSSL encrypts its tickets (2 after a full handshake, 1 after a
 *   resumption answered "renew", none otherwise), each followed by a
 *   `'newSession'` event in the same TLSWrap's scope.
 *   {@link openWindow} (at the handshake's end, before Node reports it: a
 *   client Node then refuses for its certificate gets tickets too) opens a
 *   window: the next tickets take its birth ({@link birthOfNextTicket}).
 * - **Check.** Every ticket of a renewing server is verified when its
 *   `'newSession'` comes ({@link checkTicketSession}): it must have been
 *   encrypted in the window of that very connection. Anything else (a
 *   ticket outside its window, a window taken by another connection, no
 *   `'newSession'` between two tickets) means the order is not the one
 *   measured: renewal turns off in this thread ({@link renewalState}), and
 *   tickets are accepted without renewal from then on, as before renewal
 *   existed. At start, `renewal-self-test.ts` runs real handshakes through
 *   the same code before renewal turns on at all.
 * - **Never late.** Where windows overlap or a check fails, a ticket takes
 *   the oldest birth in play: it may end early, never late. The one path
 *   that cannot: a ticket encrypted with no window open at all (its
 *   connection's `'secureConnection'` not come yet, an order never
 *   measured) carries the time it was made; the check catches it at once,
 *   so at most one such ticket per thread outlives its session's bound, by
 *   at most one lifetime.
 *
 * What cannot be linked (a TLS 1.2 ticket; the second ClientHello after a
 * HelloRetryRequest, read outside the hand-over) is accepted without
 * renewal. The connection being read is `node-internals.ts`'s one answer,
 * `clientHelloConnection()`.
 *
 * State is per thread (JavaScript runs one callback at a time); every server
 * of the thread shares it.
 *
 * @module
 */
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { useTicketLinks } from '../tls/session-listeners.ts';
import { clientHelloConnection, connectionOf, connectionProtocol, currentConnection, followHandshakes, serverOf, sessionReused } from '../tls/node-internals.ts';

/** Whether renewal is on in this thread: `pending` until the self-test settles. */
export type RenewalState = 'pending' | 'on' | 'off';

type Wrap = object;

interface Window {
  wrap: Wrap;
  birth: number;
  left: number;
}

/** The birth of the ticket each connection offered and was answered "renew". */
const offered = new WeakMap<Wrap, number>();
/** The tickets OpenSSL encrypts next belong to this connection. */
let window: Window | undefined;
/** The last ticket encrypted in a window, until its `'newSession'`, and the birth it took. */
let issued: Wrap | undefined;
let issuedBirth = 0;
let state: RenewalState = 'pending';
let offReason: string | undefined;
const stateListeners = new Set<(state: RenewalState, reason: string | undefined) => void>();

/** Renewal in this thread: `pending` (self-test running), `on`, or `off` (and why). */
export function renewalState(): { state: RenewalState; reason: string | undefined } {
  return { state, reason: offReason };
}

/** Called on every change of {@link renewalState}; returns the unsubscribe function. */
export function onRenewalState(listener: (state: RenewalState, reason: string | undefined) => void): () => void {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

/** Sets the thread's renewal state; `off` is final. */
export function setRenewalState(next: 'on' | 'off', reason?: string): void {
  if (state === 'off' || state === next) return;
  state = next;
  offReason = next === 'off' ? reason : undefined;
  window = undefined;
  issued = undefined;
  for (const listener of stateListeners) listener(state, offReason);
}

/**
 * Runs `answer` (an answer to Node, inside which OpenSSL reads one
 * connection's ClientHello) with no window open: whatever OpenSSL encrypts
 * inside it belongs to that connection alone, never to another's window.
 */
function windowClosedAround(answer: () => void): void {
  const saved = window;
  window = undefined;
  try {
    answer();
  } finally {
    window = saved;
  }
}

/**
 * In the ticket callback, decrypting a ticket of known birth that may be
 * renewed: ties the birth to the connection being answered. Returns
 * whether there is one: only then may the ticket be answered "renew" (its
 * new ticket will carry the birth). `selfTest` lets the self-test renew
 * while the thread's state is still `pending`.
 */
export function linkOfferedBirth(birth: number, selfTest = false): boolean {
  const reading = clientHelloConnection();
  if (reading === undefined || !(state === 'on' || (selfTest && state === 'pending'))) return false;
  // Only a TLS 1.3 ticket is renewed: a TLS 1.2 one renewed would be encrypted during its handshake, in no window.
  if (connectionProtocol(reading) !== 'TLSv1.3') return false;
  offered.set(reading, birth);
  return true;
}

/** In the ticket callback of a renewing binding, encrypting: the birth for this ticket (its window's, or `now`). */
export function birthOfNextTicket(now: number): number {
  ticketConnection = undefined;
  ticketOrderKnown = false;
  if (state === 'off') return now;
  if (issued !== undefined) {
    // The previous ticket of a window never reached 'newSession': it could not be checked. This one may be
    // that window's connection's own: it takes the oldest birth in play, which never lengthens a session.
    const oldest = Math.min(now, issuedBirth, window?.birth ?? now);
    anomaly('a ticket was encrypted before the previous one reached newSession');
    return oldest;
  }
  const open = window;
  // No window open, in the order measured: this ticket is not a TLS 1.3 connection's (those come in their window).
  ticketOrderKnown = true;
  if (open === undefined) return now;
  if (--open.left <= 0) window = undefined;
  issued = open.wrap;
  issuedBirth = open.birth;
  ticketConnection = open.wrap;
  return open.birth;
}

/** The connection whose window the last {@link birthOfNextTicket} took its birth from; `undefined` when none was open (or the order broke). */
let ticketConnection: Wrap | undefined;

/** Whether the last {@link birthOfNextTicket} found the order measured (renewal not off, no anomaly). */
let ticketOrderKnown = false;

/**
 * For the ticket being encrypted, after {@link birthOfNextTicket}: the
 * TLS 1.3 connection whose window it came in (`tls13`), or that it came in
 * no window while the order held (`tls12`: a TLS 1.2 ticket, encrypted
 * during its own handshake), or `unknown`.
 */
export function lastTicketSubject(): { kind: 'tls13'; connection: Wrap } | { kind: 'tls12' | 'unknown' } {
  if (ticketConnection !== undefined) {
    // One object reused: read at once by the caller, never kept.
    TLS13.connection = ticketConnection;
    return TLS13;
  }
  return ticketOrderKnown ? TLS12 : UNKNOWN;
}
const TLS13: { kind: 'tls13'; connection: Wrap } = { kind: 'tls13', connection: {} };
const TLS12 = { kind: 'tls12' } as const;
const UNKNOWN = { kind: 'unknown' } as const;

/**
 * At the end of a handshake on a linked server, before Node reports it
 * (so for a client Node then refuses too: OpenSSL still encrypts its
 * tickets): opens the window of this TLS 1.3 connection (birth: the offered
 * ticket's when it resumed and was answered "renew", else `now`).
 */
export function openWindow(wrap: Wrap, now: number): void {
  const birth = offered.get(wrap);
  offered.delete(wrap);
  if (state === 'off' || connectionProtocol(wrap) !== 'TLSv1.3') return;
  // Only a resumption OpenSSL confirmed carries the offered birth; a refused ticket made a full handshake.
  const resumed = sessionReused(wrap);
  if (resumed && birth === undefined) return;
  // A window still open (its tickets never came: a HelloRetryRequest, a client without PSK modes, or an order
  // not measured) lends its birth if older: overlapping windows make a ticket end early, never late.
  const stale = window !== undefined && window.left > 0 ? window.birth : Infinity;
  const opened: Window = { wrap, birth: Math.min(resumed ? birth! : now, stale), left: resumed ? 1 : 2 };
  window = opened;
  setImmediate(() => {
    if (window === opened) window = undefined;
  });
}

/** The clock of each linked server, for the windows opened at its handshakes' ends. */
const clocks = new WeakMap<TlsServer, () => number>();
let followingEnds: boolean | undefined;

/** Opens windows from each handshake's end (`node-internals.ts`), once per thread; false where this Node does not let it. */
function followHandshakeEnds(): boolean {
  followingEnds ??=
    followHandshakes({
      started() {},
      done(connection) {
        const server = serverOf(connection);
        const clock = server === undefined ? undefined : clocks.get(server);
        if (clock !== undefined) openWindow(connection, clock());
        return true;
      },
    }) !== undefined;
  return followingEnds;
}

/**
 * In the `'newSession'` listener of a linked server, for a TLS 1.3 session
 * (one per ticket): the ticket just encrypted must belong to this
 * connection; otherwise renewal turns off in this thread.
 */
function checkTicketSession(): void {
  const ticketOf = issued;
  issued = undefined;
  if (state === 'off') return;
  if (ticketOf !== currentConnection()) anomaly('a ticket was encrypted outside its own connection’s window');
}

/**
 * Makes `server` link its tickets: windows opened at each handshake's end
 * (or, where those cannot be followed, by a prepended `'secureConnection'`
 * listener), and the library's listeners (`tls/session-listeners.ts`)
 * answering each lookup with no window open and checking each TLS 1.3
 * ticket against its connection. With a `resumeSession` listener of the
 * application's, the lookup is its to answer; the ticket is still linked
 * through Node's hand-over of the ClientHello. Returns the function that
 * undoes it.
 */
export function linkServer(server: TlsServer, clock: () => number): () => void {
  // Where handshake ends cannot be followed, 'secureConnection' (which Node does not emit for a client it refuses).
  const onSecure = (socket: TLSSocket): void => {
    const wrap = connectionOf(socket);
    if (wrap !== undefined) openWindow(wrap, clock());
  };
  clocks.set(server, clock);
  const ends = followHandshakeEnds();
  if (!ends) server.prependListener('secureConnection', onSecure);
  useTicketLinks(server, { around: windowClosedAround, issued: checkTicketSession });
  return () => {
    clocks.delete(server);
    if (!ends) server.off('secureConnection', onSecure);
    useTicketLinks(server, undefined);
  };
}

function anomaly(reason: string): void {
  setRenewalState('off', reason);
}
