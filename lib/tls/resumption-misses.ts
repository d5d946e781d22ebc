/**
 * Why a returning client got a full handshake: every completed handshake
 * that offered a session (a TLS 1.2 session ID the store was asked about,
 * or a ticket the ticket key callback was asked to decrypt) and did not
 * resume gets exactly one reason ({@link MISSES}).
 *
 * What decides is recorded on the connection as it happens, and settled
 * once, when the handshake completes ({@link settleMiss}, on
 * `'secureConnection'`, where the protocol version and
 * `isSessionReused()` are known):
 *
 * - **Session IDs.** The session hooks note what their lookup found on
 *   the connection's TLSWrap (the `resumeSession` listener runs in its
 *   scope): a session, or why none ({@link LookupMiss}, from the store).
 *   It counts only under TLS 1.2 and older: a TLS 1.3 ClientHello's legacy
 *   session ID is random bytes, not an offer (RFC 8446 §4.1.2 and D.4: in compatibility mode a client not offering a TLS 1.2 session sends 32 new random bytes). A session handed
 *   back that did not resume is `refused` (another certificate or session
 *   ID context, another protocol version or cipher).
 * - **Tickets.** The ticket key callback notes its verdict
 *   ({@link noteTicket}): key not in the ring, session past its lifetime,
 *   the callback failed, or accepted. Accepted and not resumed is
 *   `refused`: OpenSSL checks the ticket's HMAC and the session after the
 *   callback (a flipped bit, another session ID context...). Node calls
 *   the ticket key callback with no socket; OpenSSL reads a ClientHello
 *   synchronously inside the method through which Node hands it over (after
 *   `resumeSession` is answered, or at once when the ClientHello carries a
 *   TLS 1.2 ticket, which Node does not look up), and
 *   `clientHelloConnection()` (`node-internals.ts`) says which connection
 *   that is. Where this Node does not let it (`node-capabilities.ts` then
 *   says at start that ticket misses are not counted by reason), or for a
 *   ClientHello read outside it (the second one after a HelloRetryRequest,
 *   whose ticket the first one's verdict covers; a server without session
 *   listeners), a verdict is not tied to a connection and not counted.
 *
 * A connection that offered both (a TLS 1.2 ClientHello never does: Node
 * skips the lookup when a ticket comes) counts under its ticket. A
 * handshake that never completes is not counted.
 *
 * Nothing is allocated per handshake besides one small integer property on
 * a connection that offered something; the log line
 * ({@link missLogger}) is built only when debug is on, and rate-limited.
 *
 * @module
 */
import { threadId } from 'node:worker_threads';
import type { TLSSocket } from 'node:tls';
import { clientHelloConnection, connectionOf, stateOf, type Connection } from './node-internals.ts';
import type { Logger } from 'pino';

/** How a session was offered: label `method` of `resumption_misses_total`. */
export type MissMethod = 'session_id' | 'ticket';

/**
 * Why a session-ID lookup found no session, as a store says it
 * (`SessionStore.lookUp`):
 * - `not_found`: no level holds the ID (never stored here, evicted, flushed, ended by a fatal alert);
 * - `expired`: found, past its lifetime;
 * - `timeout`: a level (IPC, Redis) did not answer within its bound;
 * - `unavailable`: a level was known to be down (Redis not connected, the primary not answering): not asked;
 * - `unreadable`: Redis held an entry that did not authenticate (another secret or namespace, or altered);
 * - `error`: the store threw, or a command failed.
 */
export type LookupMiss = 'not_found' | 'expired' | 'timeout' | 'unavailable' | 'unreadable' | 'error';

/** Every (method, reason) pair counted, in a fixed order; the counter names are the shared counters'. */
export const MISSES = [
  { method: 'session_id', reason: 'not_found', counter: 'missIdNotFound' },
  { method: 'session_id', reason: 'expired', counter: 'missIdExpired' },
  { method: 'session_id', reason: 'timeout', counter: 'missIdTimeout' },
  { method: 'session_id', reason: 'unavailable', counter: 'missIdUnavailable' },
  { method: 'session_id', reason: 'unreadable', counter: 'missIdUnreadable' },
  { method: 'session_id', reason: 'error', counter: 'missIdError' },
  { method: 'session_id', reason: 'refused', counter: 'missIdRefused' },
  { method: 'ticket', reason: 'unknown_key', counter: 'missTicketUnknownKey' },
  { method: 'ticket', reason: 'ticket_expired', counter: 'missTicketExpired' },
  { method: 'ticket', reason: 'error', counter: 'missTicketError' },
  { method: 'ticket', reason: 'refused', counter: 'missTicketRefused' },
  { method: 'session_id', reason: 'name_mismatch', counter: 'missIdNameMismatch' },
  { method: 'ticket', reason: 'name_mismatch', counter: 'missTicketNameMismatch' },
] as const;

/** One entry of {@link MISSES}. */
export type Miss = (typeof MISSES)[number];

/** A ticket made for another name or under other authentication (`session-names.ts`). */
export const TICKET_NAME_MISS: Miss = MISSES[12];

/**
 * Why the hooks answered a session-ID lookup with no session: the store's
 * {@link LookupMiss}, or `name_mismatch` (the store held a session made for
 * another name or under other authentication: `session-names.ts`).
 */
export type LookupOutcome = LookupMiss | 'name_mismatch';

/** The index in {@link MISSES} of a lookup miss. */
const LOOKUP_MISS_INDEX: Record<LookupOutcome, number> = { not_found: 0, expired: 1, timeout: 2, unavailable: 3, unreadable: 4, error: 5, name_mismatch: 11 };
const ID_REFUSED = 6;

/** A ticket key callback's verdict on an offered ticket (`noteTicket`). */
export const TICKET_ACCEPTED = 1;
export const TICKET_UNKNOWN_KEY = 2;
export const TICKET_EXPIRED = 3;
export const TICKET_FAILED = 4;
export const TICKET_NAME_MISMATCH = 5;
export type TicketVerdict = typeof TICKET_ACCEPTED | typeof TICKET_UNKNOWN_KEY | typeof TICKET_EXPIRED | typeof TICKET_FAILED | typeof TICKET_NAME_MISMATCH;
/** The index in {@link MISSES} of a ticket verdict that did not resume. */
const TICKET_MISS_INDEX = [-1, 10, 7, 8, 9, 12];

// The mark on a TLSWrap: bits 0-3 the lookup (0 none, 1 a session handed back, 2 + index of the miss), bits 4-7 the ticket verdict.
// Kept in each connection's state (node-internals.ts): `offer`, and `bornAt`, when the session offered and let in was made.
const LOOKUP_HIT = 1;

/**
 * In a `resumeSession` listener: what the lookup for the connection `wrap`
 * (`currentConnection()` there) found, and for a session handed back, when
 * it was made (ms since the epoch, if known: its age is counted should it
 * resume, {@link settleAge}).
 */
export function noteLookup(wrap: Connection, found: LookupOutcome | undefined, bornAt?: number): void {
  const state = stateOf(wrap);
  const code = found === undefined ? LOOKUP_HIT : 2 + LOOKUP_MISS_INDEX[found];
  state.offer = (state.offer & 0xf0) | code;
  if (bornAt !== undefined) state.bornAt = bornAt;
}

/**
 * In the ticket key callback, decrypting: its verdict, for the connection
 * whose ClientHello is read now (if known), and for an accepted ticket
 * whose session's birth it sealed, that birth (ms since the epoch).
 */
export function noteTicket(verdict: TicketVerdict, bornAt?: number): void {
  const connection = clientHelloConnection();
  if (connection === undefined) return;
  const state = stateOf(connection);
  state.offer = (state.offer & 0x0f) | (verdict << 4);
  if (bornAt !== undefined) state.bornAt = bornAt;
}

/**
 * On `'secureConnection'` of a handshake that resumed: how the session came
 * (`ticket` when one was decrypted for it, else `session_id`) and its age
 * in ms (now less its full handshake's time), or `undefined` when its birth
 * is not known (a ticket of another issuer, a lookup outside the hooks).
 * The age of sessions when they come back (`resumed_session_age_seconds`)
 * is what `TLS_CACHE_SESSION_TIMEOUT` and the rotation period are chosen from.
 */
export function settleAge(socket: TLSSocket, now: number): { method: MissMethod; ageMs: number } | undefined {
  const wrap = connectionOf(socket);
  const state = wrap === undefined ? undefined : stateOf(wrap);
  const bornAt = state?.bornAt;
  if (state === undefined || bornAt === undefined) return undefined;
  const method: MissMethod = state.offer >> 4 !== 0 ? 'ticket' : 'session_id';
  return { method, ageMs: Math.max(0, now - bornAt) };
}

/**
 * On `'secureConnection'`: the miss of this handshake (an entry of
 * {@link MISSES}), or `undefined` when it resumed or offered nothing that
 * counts. `reused` and `protocol` are the socket's `isSessionReused()` and
 * `getProtocol()`.
 */
export function settleMiss(socket: TLSSocket, reused: boolean, protocol: string | null): Miss | undefined {
  if (reused) return undefined;
  const wrap = connectionOf(socket);
  const mark = wrap === undefined ? 0 : stateOf(wrap).offer;
  if (mark === 0) return undefined;
  const ticket = mark >> 4;
  if (ticket !== 0) return MISSES[TICKET_MISS_INDEX[ticket]];
  // A TLS 1.3 ClientHello's legacy session ID is random bytes: not an offer.
  if (protocol === 'TLSv1.3') return undefined;
  const lookup = mark & 0x0f;
  if (lookup === 0) return undefined;
  return MISSES[lookup === LOOKUP_HIT ? ID_REFUSED : lookup - 2];
}

/** At most this many miss lines per {@link MISS_LOG_WINDOW_MS}, per worker; the next line says how many were left out. */
export const MISS_LOG_LINES = 10;
export const MISS_LOG_WINDOW_MS = 10_000;

/**
 * A function that logs a miss at debug level, rate-limited: at most
 * {@link MISS_LOG_LINES} lines per {@link MISS_LOG_WINDOW_MS} ms, the first
 * line after a quiet spell saying how many were left out. A line carries
 * the method, the reason, the protocol and the worker (process ID and
 * thread ID); never a session ID, session data or a key.
 */
export function missLogger(logger: Logger, clock: () => number = Date.now): (miss: Miss, protocol: string | null) => void {
  let windowStart = -Infinity;
  let lines = 0;
  let skipped = 0;
  return (miss, protocol) => {
    if (!logger.isLevelEnabled('debug')) return;
    const now = clock();
    if (now - windowStart >= MISS_LOG_WINDOW_MS) {
      windowStart = now;
      lines = 0;
    }
    if (lines >= MISS_LOG_LINES) {
      skipped++;
      return;
    }
    lines++;
    const fields = { method: miss.method, reason: miss.reason, protocol, pid: process.pid, thread: threadId, ...(skipped > 0 ? { skipped } : {}) };
    skipped = 0;
    logger.debug(fields, 'resumption missed: a full handshake for a client that offered a session');
  };
}
