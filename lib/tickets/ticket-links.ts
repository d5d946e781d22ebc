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
 *   listener's `done()` call. {@link resumeScope} notes the TLSWrap around
 *   that call, and {@link linkOfferedBirth} ties the ticket's birth to it.
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
 * What cannot be linked (a TLS 1.2 ticket, which skips `resumeSession`; a
 * ClientHello with an empty legacy session ID; the second ClientHello after
 * a HelloRetryRequest) is accepted without renewal.
 *
 * State is per thread (JavaScript runs one callback at a time); every server
 * of the thread shares it.
 *
 * @module
 */
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { isTls13Session } from '../tls/session-der.ts';
import { connectionOf, connectionProtocol, currentConnection, followHandshakes, serverOf, sessionReused } from '../tls/node-internals.ts';

/** Whether renewal is on in this thread: `pending` until the self-test settles. */
export type RenewalState = 'pending' | 'on' | 'off';

type Wrap = object;
type Done = (error: Error | null, session: Buffer | null) => void;
type NewSessionDone = () => void;

interface Window {
  wrap: Wrap;
  birth: number;
  left: number;
}

/** The TLSWrap whose ClientHello OpenSSL reads right now (inside a `resumeSession` answer). */
let answering: Wrap | undefined;
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
/** Servers whose tickets come from a renewing binding: their TLS 1.3 `'newSession'`s are checked. */
const renewing = new WeakSet<TlsServer>();
/** Listeners of this library that answer `resumeSession` through {@link resumeScope} or check `'newSession'`. */
const linking = new WeakSet<(...args: never[]) => unknown>();

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
 * In a `resumeSession` listener, first: returns a function that runs the
 * listener's later call of `done()` (now or after a lookup) with this
 * connection noted as the one OpenSSL reads, so a ticket it decrypts
 * inside that call is linked to the connection.
 */
export function resumeScope(): (answer: () => void) => void {
  const wrap = currentConnection();
  return (answer) => {
    // Whatever OpenSSL does inside answer() belongs to this connection alone.
    const saved = window;
    window = undefined;
    answering = wrap;
    try {
      answer();
    } finally {
      answering = undefined;
      window = saved;
    }
  };
}

/** Marks a listener as one of this library's (the session cache's), see {@link linkServer}. */
export function markLinking(listener: (...args: never[]) => unknown): void {
  linking.add(listener);
}

/** Whether `listener` is one of this library's resumeSession / newSession listeners. */
export function isLinking(listener: unknown): boolean {
  return typeof listener === 'function' && linking.has(listener as (...args: never[]) => unknown);
}

/**
 * In the ticket callback, decrypting a ticket of known birth that may be
 * renewed: ties the birth to the connection being answered. Returns
 * whether there is one: only then may the ticket be answered "renew" (its
 * new ticket will carry the birth). `selfTest` lets the self-test renew
 * while the thread's state is still `pending`.
 */
export function linkOfferedBirth(birth: number, selfTest = false): boolean {
  if (answering === undefined || !(state === 'on' || (selfTest && state === 'pending'))) return false;
  offered.set(answering, birth);
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
 * In a `'newSession'` listener of `server`, for a TLS 1.3 session (one per
 * ticket): on a renewing server the ticket just encrypted must belong to
 * this connection; otherwise renewal turns off in this thread.
 */
export function checkTicketSession(server: TlsServer): void {
  const ticketOf = issued;
  issued = undefined;
  if (state === 'off' || !renewing.has(server)) return;
  if (ticketOf !== currentConnection()) anomaly('a ticket was encrypted outside its own connection’s window');
}

/**
 * Makes `server` link its tickets: a prepended `'secureConnection'`
 * listener (windows), and, unless the session cache's linking listeners are
 * there, `resumeSession` and `newSession` listeners of its own (the first
 * answers "no session" inside {@link resumeScope}; the second checks and
 * calls `done()` when no other listener will). With a `resumeSession`
 * listener of the application's, offered tickets cannot be linked: they
 * are accepted without renewal. Returns the function that undoes it.
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
  renewing.add(server);
  addTicketListeners(server);
  return () => {
    clocks.delete(server);
    if (!ends) server.off('secureConnection', onSecure);
    renewing.delete(server);
    removeTicketListeners(server);
  };
}

const ticketListeners = new WeakMap<TlsServer, { onResume?: (id: Buffer, done: Done) => void; onNew?: (id: Buffer, session: Buffer, done: NewSessionDone) => void }>();

/** Adds this module's own resume and newSession listeners where no linking listener is (again after a session cache detached). */
export function addTicketListeners(server: TlsServer): void {
  if (!renewing.has(server)) return;
  const own = ticketListeners.get(server) ?? {};
  if (own.onResume === undefined && server.listenerCount('resumeSession') === 0) {
    own.onResume = (_id, done) => {
      // An application's own listener answers instead: two answers would make Node destroy the connection.
      if (server.listenerCount('resumeSession') > 1) return;
      resumeScope()(() => done(null, null));
    };
    linking.add(own.onResume);
    server.on('resumeSession', own.onResume);
  }
  if (own.onNew === undefined && !server.listeners('newSession').some(isLinking)) {
    own.onNew = (_id, session, done) => {
      if (isTls13Session(session)) checkTicketSession(server);
      if (server.listenerCount('newSession') === 1) done();
    };
    linking.add(own.onNew);
    server.on('newSession', own.onNew);
  }
  ticketListeners.set(server, own);
}

/** Removes this module's own resume and newSession listeners (the session cache's take over, or the binding detaches). */
export function removeTicketListeners(server: TlsServer): void {
  const own = ticketListeners.get(server);
  if (own === undefined) return;
  if (own.onResume !== undefined) server.off('resumeSession', own.onResume);
  if (own.onNew !== undefined) server.off('newSession', own.onNew);
  ticketListeners.delete(server);
}

function anomaly(reason: string): void {
  setRenewalState('off', reason);
}
