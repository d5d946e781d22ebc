/**
 * Binds every session to the name it was made for and to the
 * authentication it was made under, so that it resumes only there
 * (RFC 6066 section 3; the flaw nginx fixed as CVE-2025-23419, where a
 * session made on one virtual host resumed on another and skipped its
 * client-certificate check).
 *
 * A session's **binding** is 16 bytes: SHA-256 over the deployment's
 * session ID context, the server name its ClientHello asked for (`''`
 * for none), and the secure context that served that name: its leaf
 * certificate, what it trusts for client certificates (`ca`, CRLs) and the
 * server's `requestCert` and `rejectUnauthorized`. The same inputs give the
 * same binding in every thread, process and host.
 *
 * Where it is checked, before OpenSSL is told anything:
 *
 * - a TLS 1.2 session ID: the store keeps the binding beside the session
 *   (`session-record.ts`); the lookup compares it with the binding the
 *   ClientHello asks for, and answers "no session" when they differ;
 * - a ticket (TLS 1.2 or 1.3): its IV seals 4 bytes of the binding
 *   (`tickets/ticket-birth.ts`); the ticket key callback refuses one whose
 *   binding differs (a full handshake).
 *
 * The binding a ClientHello asks for needs its server name before any
 * lookup or ticket: Node's own ClientHello parse gives it (Node 22 and 24;
 * `node-capabilities.ts` checks it as `session_names`). Node 26 gives it
 * only after the lookup and the ticket's decryption ({@link namesArriveLate}):
 * there a TLS 1.3 ticket is let in on its sealed binding and its name
 * checked at the handshake's end, before Node reports the connection (one
 * made for another name ends there), and a TLS 1.2 session resumes only on
 * a server with one secure context. When the server
 * picks a name's context through an `SNICallback` of the application's, the
 * first ClientHello of a name in a thread is held while this module asks
 * that callback (once per name and thread), and Node's certificate callback
 * of that connection is given the same answer: the application's callback
 * still runs once per connection. Every later ClientHello is answered from
 * what the thread learned, kept current by each full handshake.
 *
 * A ticket's binding is sealed when OpenSSL encrypts it, a moment Node
 * gives no connection for: a TLS 1.3 ticket belongs to the connection whose
 * window `tickets/ticket-links.ts` opened; a TLS 1.2 ticket is encrypted
 * during its own handshake, before the handshake ends, so it belongs to one
 * of the handshakes in progress in this thread ({@link followHandshakes}
 * in `node-internals.ts`). Where those do not all share one binding, or a
 * window and a handshake are both in play, the ticket is sealed with no
 * binding and refused when offered: a full handshake, never a wrong name.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { knownCapability } from './known-capabilities.ts';
import type { Server as TlsServer } from 'node:tls';
import {
  answerServerNameWith,
  certificateOf,
  clientHelloServerName,
  defaultContextOf,
  followClientHelloNames,
  followClientHellos,
  followHandshakes,
  pastClientHello,
  followTrustSettings,
  handshakeServerName,
  sessionReused,
  resolvesServerNamesLater,
  resolveServerName,
  serverOf,
  clientHelloConnection,
  clientHellosCarryNames,
  connectionProtocol,
  serverTlsOptions,
  sniContextOf,
  sniInUse,
  socketOf,
  trustDigestOf,
  stateOf,
  type ClientHelloGate,
  type Connection,
  type HandshakeHold,
  type NativeContext,
} from './node-internals.ts';

/** Bytes of a binding. */
const BINDING_BYTES = 16;

/** The most names a server remembers the secure context of (a client can ask for any name). */
const MAX_NAMES = 4096;

interface ServerNames {
  base: string;
  /** Whether the server picks names' contexts through an `SNICallback` of the application's (fixed at its creation). */
  later: boolean;
  /** The context each name was last served from (`null`: the default), learned from full handshakes and resolutions. */
  contexts: Map<string, NativeContext | null>;
  /** Bindings by context, then name. */
  bindings: WeakMap<NativeContext, Map<string, Buffer>>;
  /** Told of each resumption ended at its handshake's end because its name turned out other than its session's (Node 26). */
  onRefusedLate?: () => void;
}

const servers = new WeakMap<TlsServer, ServerNames>();

// What this module keeps of a connection is in its state (node-internals.ts): established, made, offered, retriedName.

/**
 * Whether this Node hands a ClientHello's server name over only after the
 * session lookup (Node 26: its parse gives none). Then a TLS 1.3 ticket is
 * let in on its sealed binding and its name checked at the handshake's end
 * ({@link checkOfferedName}), and a TLS 1.2 session, whose offered name
 * OpenSSL never tells after a resumption, resumes only on a server with one
 * secure context, bound to that context without its name.
 */
function namesArriveLate(): boolean {
  return clientHellosCarryNames() === false;
}

/** Handshakes in progress in this thread (between Node's `onhandshakestart` and `onhandshakedone`). */
const inProgress = new Set<Connection>();
let followingHandshakes = false;

/**
 * Binds the sessions of `server` to their names (see the module's
 * documentation), `base` being the deployment's session ID context.
 * Returns whether it could: false where `session_names` is off, or without
 * the handshake hooks; the server then resumes as before, not bound by
 * name.
 */
export function bindSessionNames(server: TlsServer, base: string): boolean {
  if (knownCapability('session_names') === false) return false;
  followTrustSettings();
  if (!followClientHellos() || !followClientHelloNames(holdUntilNameKnown)) return false;
  if (!followingHandshakes) {
    followingHandshakes =
      followHandshakes({
      started(connection) {
        inProgress.add(connection);
        // A renegotiation may serve another context: its binding is worked out again.
        stateOf(connection).made = undefined;
      },
      done(connection) {
        inProgress.delete(connection);
        stateOf(connection).established = true;
        checkSealed(connection);
        return checkRetriedName(connection) && checkOfferedName(connection);
      },
    }) !== undefined;
  }
  if (!followingHandshakes) return false;
  servers.set(server, { base, later: resolvesServerNamesLater(server), contexts: new Map(), bindings: new WeakMap() });
  return true;
}

/**
 * Calls `listener` for each resumption of `server` ended at its
 * handshake's end because the name it asked for turned out other than its
 * ticket's (only on a Node that names a ClientHello late: Node 26). Node
 * reports no `'secureConnection'` for it.
 */
export function onResumptionRefusedLate(server: TlsServer, listener: () => void): void {
  const names = servers.get(server);
  if (names !== undefined) names.onRefusedLate = listener;
}

/** Whether `server`'s sessions are bound to their names. */
export function bindsSessionNames(server: TlsServer): boolean {
  return servers.has(server);
}

/** The gate of `node-internals.ts`: holds a ClientHello until the secure context of its name is known. */
const holdUntilNameKnown: ClientHelloGate = {
  holds(connection, name) {
    const server = serverOf(connection);
    const names = server === undefined ? undefined : servers.get(server);
    return names !== undefined && names.later && !names.contexts.has(name);
  },
  hold(connection, name, proceed) {
    const server = serverOf(connection)!;
    resolveName(server, servers.get(server)!, connection, name, proceed);
  },
};

function resolveName(server: TlsServer, names: ServerNames, connection: Connection, name: string, proceed: () => void): void {
  resolveServerName(server, name, (error, context, chosen) => {
    if (!error) remember(names, name, context);
    // Node's certificate callback of this connection takes the same answer: the application's callback runs once for it.
    answerServerNameWith(connection, error, chosen);
    proceed();
  });
}

function remember(names: ServerNames, name: string, context: NativeContext | null): void {
  if (names.contexts.get(name) === context && names.contexts.has(name)) return;
  if (names.contexts.size >= MAX_NAMES && !names.contexts.has(name)) names.contexts.clear();
  names.contexts.set(name, context);
}

function bindingFor(server: TlsServer, names: ServerNames, name: string, chosen: NativeContext | null): Buffer | undefined {
  const context = chosen ?? defaultContextOf(server);
  if (context === undefined) return undefined;
  let byName = names.bindings.get(context);
  if (byName === undefined) {
    byName = new Map();
    names.bindings.set(context, byName);
  }
  const known = byName.get(name);
  if (known !== undefined) return known;
  const certificate = certificateOf(context);
  const trusted = trustDigestOf(context);
  const { requestCert, rejectUnauthorized } = serverTlsOptions(server);
  if (certificate === undefined) return undefined;
  const binding = createHash('sha256')
    .update(names.base)
    .update('\0')
    .update(name)
    .update('\0')
    .update(certificate ?? new Uint8Array(0))
    .update('\0')
    // A context made before this package loaded has no record of its trust: its name still binds (a change of its CA alone is not seen).
    .update(trusted ?? 'not followed')
    .update(`\0${requestCert === true}\0${rejectUnauthorized !== false}`)
    .digest()
    .subarray(0, BINDING_BYTES);
  if (byName.size >= MAX_NAMES) byName.clear();
  byName.set(name, binding);
  return binding;
}

/**
 * The binding the connection's ClientHello asks for: its name, and the
 * context the server serves that name from now. `undefined` when the
 * server's sessions are not bound, and `null` when they are but it cannot
 * be told (the name unknown, its context not resolved): then nothing
 * resumes.
 */
export function askedBinding(connection: Connection): Buffer | null | undefined {
  const server = serverOf(connection);
  const names = server === undefined ? undefined : servers.get(server);
  if (server === undefined || names === undefined) return undefined;
  const name = clientHelloServerName(connection);
  if (name === undefined) return namesArriveLate() ? lateTls12Binding(server, names) : null;
  const context = knownContextOf(server, names, name);
  return context === undefined ? null : (bindingFor(server, names, name, context) ?? null);
}

/**
 * On a Node that names a ClientHello late, the binding of a TLS 1.2
 * session (looked up by ID, or a TLS 1.2 ticket): OpenSSL never tells the
 * name a TLS 1.2 resumption asked for, so it is bound without one, and only
 * where every name is served alike (one secure context); `null` (nothing
 * resumes) on a server with several.
 */
function lateTls12Binding(server: TlsServer, names: ServerNames): Buffer | null {
  if (sniInUse(server) !== undefined) return null;
  return bindingFor(server, names, '', null) ?? null;
}

/**
 * The context `name` is served from, known without asking the
 * application's `SNICallback` (which runs later, or on a resumption not at
 * all): what this thread learned, else `addContext()` or the default
 * (`null`); `undefined` when only the callback could say.
 */
function knownContextOf(server: TlsServer, names: ServerNames, name: string): NativeContext | null | undefined {
  let context = names.contexts.get(name);
  if (context !== undefined || names.later) return context;
  resolveServerName(server, name, (_error, found) => (context = found));
  return context;
}

/**
 * The binding of the session a connection's full handshake made: its name
 * and the context that served it (after its certificate callback), which
 * the server is then remembered to serve that name from; for a resumption,
 * the binding it was let in with. `undefined` when the server's sessions
 * are not bound or it cannot be told.
 */
export function madeBinding(connection: Connection): Buffer | undefined {
  // Computed once per connection: a full handshake's two TLS 1.3 tickets, or its session and ticket, ask twice.
  const state = stateOf(connection);
  if (state.made !== undefined && state.established) return state.made;
  const made = computeMadeBinding(connection);
  if (state.established) state.made = made;
  return made;
}

function computeMadeBinding(connection: Connection): Buffer | undefined {
  const server = serverOf(connection);
  const names = server === undefined ? undefined : servers.get(server);
  if (server === undefined || names === undefined) return undefined;
  const late = namesArriveLate();
  if (late && connectionProtocol(connection) !== 'TLSv1.3') return lateTls12Binding(server, names) ?? undefined;
  if (sessionReused(connection)) {
    // A resumption chose no context (no certificate callback runs): its session keeps the binding it was let in
    // with; where names come late, the one its name (known now) asks for, checked against the ticket at the end.
    if (!late) return askedBinding(connection) ?? undefined;
    const name = handshakeServerName(connection);
    const context = name === undefined ? undefined : knownContextOf(server, names, name);
    return context === undefined ? undefined : bindingFor(server, names, name!, context);
  }
  // Where names come late, the ClientHello's is unknown and OpenSSL's is the one asked for (a full handshake).
  const name = clientHelloServerName(connection) ?? handshakeServerName(connection);
  if (name === undefined) return undefined;
  const context = sniContextOf(connection) ?? null;
  remember(names, name, context);
  return bindingFor(server, names, name, context);
}


/** The first 4 bytes of a binding, as sealed in a ticket (0 is never one: it means none). */
function ticketBinding(binding: Buffer): number {
  return binding.readUInt32BE(0) || 1;
}

/** The ticket binding sealed by the last TLS 1.2 encryption, checked at its handshake's end (in the same turn: the measured order). */
let sealedForHandshake: number | undefined;
/** Set when a sealed TLS 1.2 ticket turned out not to be its handshake's: tracking is broken, TLS 1.2 tickets are sealed with none. */
let brokenTracking = false;

/** What {@link bindingOfNextTicket} answers when no ticket should be issued at all. */
export const NO_TICKET = -1;

/**
 * For a ticket about to be encrypted: its ticket binding (4 bytes as a
 * number), 0 (none: it will be refused when offered), or
 * {@link NO_TICKET} (a TLS 1.2 ticket that could never resume: on a Node
 * that names a ClientHello late, for a server with several names). `subject` is what
 * `tickets/ticket-links.ts` knows of it: the TLS 1.3 connection whose
 * window it came in, a TLS 1.2 ticket (one of the handshakes in progress),
 * or nothing.
 */
export function bindingOfNextTicket(subject: { kind: 'tls13'; connection: Connection } | { kind: 'tls12' | 'unknown' }): number {
  if (subject.kind === 'tls13') {
    const made = madeBinding(subject.connection);
    return made === undefined ? 0 : ticketBinding(made);
  }
  if (subject.kind !== 'tls12' || brokenTracking) return 0;
  let found: number | undefined;
  for (const connection of inProgress) {
    // A handshake that failed never reports its end: its socket is gone.
    const socket = socketOf(connection);
    if (socket === undefined || socket.destroyed) {
      inProgress.delete(connection);
      continue;
    }
    // A handshake before its ClientHello was read, or a TLS 1.3 one, cannot be the one whose TLS 1.2 ticket OpenSSL encrypts now.
    if (!pastClientHello(connection) && stateOf(connection).established !== true) continue;
    if (connectionProtocol(connection) === 'TLSv1.3') continue;
    // Named late, on a server with several names: no TLS 1.2 session can resume (lateTls12Binding), so none is issued.
    if (namesArriveLate() && madeBinding(connection) === undefined) return NO_TICKET;
    const made = madeBinding(connection);
    const binding = made === undefined ? 0 : ticketBinding(made);
    if (found === undefined) found = binding;
    else if (found !== binding) return 0;
  }
  if (found === undefined || found === 0) return 0;
  if (sealedForHandshake === undefined) setImmediate(() => (sealedForHandshake = undefined));
  sealedForHandshake = found;
  return found;
}

/** At a handshake's end: a TLS 1.2 ticket just sealed must be its own (else tracking is broken: seal none from now on). */
function checkSealed(connection: Connection): void {
  const sealed = sealedForHandshake;
  if (sealed === undefined || connectionProtocol(connection) === 'TLSv1.3') return;
  sealedForHandshake = undefined;
  const made = madeBinding(connection);
  if (made === undefined || ticketBinding(made) !== sealed) brokenTracking = true;
}

/** What {@link checkTicketName} found. */
export type TicketNameVerdict = 'ok' | 'mismatch';

/** Tickets accepted lately, by IV, with their connection (a ring of slots): the second ClientHello after a HelloRetryRequest offers the same one. */
const ACCEPTED_KEPT = 16;
const acceptedIvs = Array.from({ length: ACCEPTED_KEPT }, () => Buffer.alloc(16));
const acceptedConnections: Array<Connection | undefined> = new Array<Connection | undefined>(ACCEPTED_KEPT).fill(undefined);
let acceptedNext = 0;

/**
 * In the ticket key callback of a server whose sessions are bound, for an
 * offered ticket whose IV sealed `sealed` (0: no binding; `undefined`: an
 * IV this project did not seal, e.g. nginx's sharing the key file): whether
 * it may resume on the connection being read. A ticket with no binding
 * resumes only on a server with one secure context (no SNI: every name is
 * served by the same certificate and client-certificate settings). The
 * connection is the one whose ClientHello is handed over now; a ticket read
 * outside that hand-over (the second ClientHello after a HelloRetryRequest,
 * which must offer the same ticket) may resume only as the first one did,
 * and its connection ends before the application sees it should its name
 * then differ.
 */
export function checkTicketName(sealed: number | undefined, iv: Buffer): TicketNameVerdict {
  const connection = clientHelloConnection();
  if (connection === undefined) {
    const slot = acceptedIvs.findIndex((kept, i) => acceptedConnections[i] !== undefined && kept.equals(iv));
    const earlier = slot < 0 ? undefined : acceptedConnections[slot];
    if (earlier === undefined) return 'mismatch';
    // Named late: its handshake's end checks the name, as for the first ClientHello.
    if (stateOf(earlier).offered !== undefined) return 'ok';
    const name = clientHelloServerName(earlier);
    if (name === undefined) return 'mismatch';
    stateOf(earlier).retriedName = name;
    return 'ok';
  }
  const verdict = namesArriveLate() && connectionProtocol(connection) === 'TLSv1.3' ? lateTicketVerdict(connection, sealed) : namedTicketVerdict(connection, sealed);
  if (verdict !== 'ok') return verdict;
  if (iv.length === 16) {
    iv.copy(acceptedIvs[acceptedNext]);
    acceptedConnections[acceptedNext] = connection;
    acceptedNext = (acceptedNext + 1) % ACCEPTED_KEPT;
  }
  return 'ok';
}

/** For a ticket offered with a ClientHello whose name is known now: whether its sealed binding is the one that name asks for. */
function namedTicketVerdict(connection: Connection, sealed: number | undefined): TicketNameVerdict {
  const asked = askedBinding(connection);
  if (asked === undefined) return 'ok';
  if (sealed === undefined || sealed === 0) {
    const server = serverOf(connection);
    return server === undefined || sniInUse(server) !== undefined ? 'mismatch' : 'ok';
  }
  return asked !== null && ticketBinding(asked) === sealed ? 'ok' : 'mismatch';
}

/**
 * On a Node that names a ClientHello late, for a TLS 1.3 ticket: `'ok'`
 * when it may be let in now and its name checked at the handshake's end
 * (marked on the connection), `'mismatch'` when it cannot resume here
 * (sealed with no binding, on a server with several names); `'ok'` too
 * when the server's sessions are not bound.
 */
function lateTicketVerdict(connection: Connection, sealed: number | undefined): TicketNameVerdict {
  const server = serverOf(connection);
  const names = server === undefined ? undefined : servers.get(server);
  if (server === undefined || names === undefined) return 'ok';
  if (sealed === undefined || sealed === 0) return sniInUse(server) === undefined ? 'ok' : 'mismatch';
  stateOf(connection).offered = sealed;
  return 'ok';
}

/**
 * At a handshake's end: a TLS 1.3 ticket let in before its name was known
 * must have been made for that name and its context, else the connection
 * ends. Where only the application's `SNICallback` can tell the name's
 * context (a name this thread has not served yet), the end is held while
 * it is asked, once for the connection.
 */
function checkOfferedName(connection: Connection): boolean | HandshakeHold {
  const offered = stateOf(connection).offered;
  if (offered === undefined) return true;
  stateOf(connection).offered = undefined;
  if (!sessionReused(connection)) return true;
  const server = serverOf(connection);
  const names = server === undefined ? undefined : servers.get(server);
  const name = handshakeServerName(connection);
  if (server === undefined || names === undefined || name === undefined) return refusedLate(names);
  const verdict = (): boolean => {
    const made = madeBinding(connection);
    return made !== undefined && ticketBinding(made) === offered ? true : refusedLate(names);
  };
  if (!names.later || names.contexts.has(name)) return verdict();
  return (settle) =>
    resolveServerName(server, name, (error, context) => {
      if (error) return settle(refusedLate(names));
      remember(names, name, context);
      settle(verdict());
    });
}

function refusedLate(names: ServerNames | undefined): false {
  names?.onRefusedLate?.();
  return false;
}

/** At a handshake's end: one that resumed a ticket after a HelloRetryRequest must still ask for its first name. */
function checkRetriedName(connection: Connection): boolean {
  const name = stateOf(connection).retriedName;
  if (name === undefined) return true;
  stateOf(connection).retriedName = undefined;
  const socket = socketOf(connection);
  if (socket === undefined || !socket.isSessionReused()) return true;
  return handshakeServerName(connection) === name;
}
