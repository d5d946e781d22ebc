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
 * `node-capabilities.ts` checks it as `session_names`). When the server
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
import { knownCapability } from './node-capabilities.ts';
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
  serverTlsOptions,
  sniContextOf,
  sniInUse,
  socketOf,
  trustDigestOf,
  type ClientHelloGate,
  type Connection,
  type NativeContext,
} from './node-internals.ts';

/** Bytes of a binding. */
export const BINDING_BYTES = 16;

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
}

const servers = new WeakMap<TlsServer, ServerNames>();

const ESTABLISHED = Symbol('tls-resumption handshake done once');
const RETRIED_NAME = Symbol('tls-resumption name of a ticket accepted before a HelloRetryRequest');
const MADE = Symbol('tls-resumption binding of the session a handshake made');

type Marks = { [ESTABLISHED]?: boolean; [RETRIED_NAME]?: string; [MADE]?: Buffer };

/** Handshakes in progress in this thread (between Node's `onhandshakestart` and `onhandshakedone`). */
const inProgress = new Set<Connection>();
let followingHandshakes = false;

/**
 * Binds the sessions of `server` to their names (see the module's
 * documentation), `base` being the deployment's session ID context.
 * Returns whether it could: false on a Node whose ClientHello parse gives
 * no server name before the lookup (`session_names` off), or without the
 * handshake hooks; the server then resumes as before, not bound by name.
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
        (connection as Marks)[MADE] = undefined;
      },
      done(connection) {
        inProgress.delete(connection);
        (connection as Marks)[ESTABLISHED] = true;
        checkSealed(connection);
        return checkRetriedName(connection);
      },
    }) !== undefined;
  }
  if (!followingHandshakes) return false;
  servers.set(server, { base, later: resolvesServerNamesLater(server), contexts: new Map(), bindings: new WeakMap() });
  return true;
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
  // A Node whose parse hands over no name (Node 26, where the start-up check did not run): not bound, as before.
  if (name === undefined) return clientHellosCarryNames() === false ? undefined : null;
  let context = names.contexts.get(name);
  if (context === undefined) {
    if (names.later) return null;
    resolveServerName(server, name, (_error, found) => (context = found));
    if (context === undefined) return null;
  }
  return bindingFor(server, names, name, context) ?? null;
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
  const known = (connection as Marks)[MADE];
  if (known !== undefined && (connection as Marks)[ESTABLISHED] === true) return known;
  const made = computeMadeBinding(connection);
  if ((connection as Marks)[ESTABLISHED] === true) (connection as Marks)[MADE] = made;
  return made;
}

function computeMadeBinding(connection: Connection): Buffer | undefined {
  const server = serverOf(connection);
  const names = server === undefined ? undefined : servers.get(server);
  if (server === undefined || names === undefined) return undefined;
  // A resumption chose no context (no certificate callback runs): its session keeps the binding it was let in with.
  if (sessionReused(connection)) return askedBinding(connection) ?? undefined;
  const name = clientHelloServerName(connection) ?? handshakeServerName(connection);
  if (name === undefined) return undefined;
  const context = sniContextOf(connection) ?? null;
  remember(names, name, context);
  return bindingFor(server, names, name, context);
}


/** The first 4 bytes of a binding, as sealed in a ticket (0 is never one: it means none). */
export function ticketBinding(binding: Buffer): number {
  return binding.readUInt32BE(0) || 1;
}

/** The ticket binding sealed by the last TLS 1.2 encryption, checked at its handshake's end (in the same turn: the measured order). */
let sealedForHandshake: number | undefined;
/** Set when a sealed TLS 1.2 ticket turned out not to be its handshake's: tracking is broken, TLS 1.2 tickets are sealed with none. */
let brokenTracking = false;

/**
 * For a ticket about to be encrypted: its ticket binding (4 bytes as a
 * number), or 0 (none: it will be refused when offered). `subject` is what
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
    // A handshake before its ClientHello was read cannot be the one whose ticket OpenSSL encrypts now.
    if (!pastClientHello(connection) && (connection as Marks)[ESTABLISHED] !== true) continue;
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
  if (sealed === undefined) return;
  sealedForHandshake = undefined;
  const made = madeBinding(connection);
  if (made === undefined || ticketBinding(made) !== sealed) brokenTracking = true;
}

/** Whether a sealed TLS 1.2 ticket ever turned out not to be its handshake's (tickets are then sealed with no binding). */
export function ticketTrackingBroken(): boolean {
  return brokenTracking;
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
    const name = clientHelloServerName(earlier);
    if (name === undefined) return 'mismatch';
    (earlier as Marks)[RETRIED_NAME] = name;
    return 'ok';
  }
  const asked = askedBinding(connection);
  if (asked === undefined) return 'ok';
  if (sealed === undefined || sealed === 0) {
    const server = serverOf(connection);
    if (server === undefined || sniInUse(server) !== undefined) return 'mismatch';
  } else if (asked === null || ticketBinding(asked) !== sealed) return 'mismatch';
  if (iv.length === 16) {
    iv.copy(acceptedIvs[acceptedNext]);
    acceptedConnections[acceptedNext] = connection;
    acceptedNext = (acceptedNext + 1) % ACCEPTED_KEPT;
  }
  return 'ok';
}

/** At a handshake's end: one that resumed a ticket after a HelloRetryRequest must still ask for its first name. */
function checkRetriedName(connection: Connection): boolean {
  const name = (connection as Marks)[RETRIED_NAME];
  if (name === undefined) return true;
  (connection as Marks)[RETRIED_NAME] = undefined;
  const socket = socketOf(connection);
  if (socket === undefined || !socket.isSessionReused()) return true;
  return handshakeServerName(connection) === name;
}
