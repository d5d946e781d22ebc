/**
 * Every use of Node's private TLS internals, and nothing else: no other
 * module of `lib/` reaches past Node's documented API. Node's public API
 * lacks what a shared session cache needs (a key ring behind tickets, the
 * connection a ticket belongs to, a server's session ID context after its
 * creation), so it is reached here, each piece feature-detected and none
 * trusted by name alone: `node-capabilities.ts` checks at start, with real
 * handshakes in memory, that each one does what it is used for, and turns
 * off (saying so once) what does not.
 *
 * What is reached, and on which Node it was measured (22.12, 24 and 26):
 *
 * - **A server's native secure context**, `server._sharedCreds.context`
 *   (Node's `SecureContext`, copied into each new connection by OpenSSL's
 *   `SSL_new`, replaced by `server.setSecureContext()`), and its methods
 *   `getCertificate()`, `setSessionIdContext()`, `setOptions()`,
 *   `enableTicketKeyCallback()` and the `onticketkeycallback` property.
 * - **The ticket key callback's answers.** To encrypt, Node expects
 *   `[1, hmac16, aes16, name16, iv16]`; to decrypt, `[1 | 2, hmac16,
 *   aes16]`. Node aborts the whole process (a native assertion in
 *   `SecureContext::TicketKeyCallback`) on `[0]` alone, or on any answer
 *   without its buffers, and a client chooses the ticket bytes it offers:
 *   {@link refuseTicket} and {@link issueNoTicket} are the only refusals
 *   used anywhere.
 * - **The connection whose ClientHello OpenSSL reads now.** Node hands a
 *   parsed ClientHello back to OpenSSL through a method of the connection's
 *   `TLSWrap` (`endParser()` on Node 22 and 24, `clientHelloDone()` on Node
 *   26), inside which OpenSSL decrypts an offered ticket synchronously;
 *   {@link followClientHellos} wraps it (once per thread) to note `this`
 *   around the call ({@link clientHelloConnection}).
 * - **A connection's `TLSWrap`**: `socket._handle` of a server socket
 *   ({@link connectionOf}), and `executionAsyncResource()` inside a
 *   `resumeSession` or `newSession` listener, which Node runs in the
 *   `TLSWrap`'s scope ({@link currentConnection}).
 * - **A server's SNI setup**: the `SNICallback` it was created with (a
 *   symbol property whose description is `snicallback`) and the contexts of
 *   `addContext()` (`server._contexts`).
 * - **A server's TLS options after creation**: `server.sessionTimeout`,
 *   `server.sessionIdContext`, `server.secureOptions`, `server.requestCert`
 *   and `server.rejectUnauthorized`, which Node keeps as properties but does
 *   not document.
 * - **The ClientHello's server name before any session is looked up**: the
 *   object Node's own ClientHello parse hands the connection's
 *   `onclienthello` (Node 22 and 24: `{ sessionId, servername, tlsTicket }`;
 *   Node 26 parses with OpenSSL's client hello callback and hands no
 *   `servername`). {@link followClientHelloNames} puts an accessor on the
 *   `TLSWrap` prototype, so that the function Node assigns to each
 *   connection runs behind one that notes the name and may hold the hello
 *   until the name's secure context is known.
 * - **The start and end of each handshake**, `onhandshakestart` and
 *   `onhandshakedone` of a connection (renegotiations included), through
 *   the same kind of accessor ({@link followHandshakes}).
 * - **How a server picks a name's secure context**: the connection's
 *   `sni_context` once chosen, the server's `SNICallback` (called the way
 *   Node calls it) or its `addContext()` list matched as Node matches it
 *   ({@link resolveServerName}), the socket of a connection (the handle's
 *   `owner_symbol`), and the socket's own `_SNICallback`, through which its
 *   certificate callback is given an answer already had
 *   ({@link answerServerNameWith}).
 * - **What a secure context trusts**: the CA certificates, root store and
 *   CRLs given to each native context (`addCACert()`, `addRootCerts()`,
 *   `addCRL()`, wrapped once per thread to keep a digest of what each
 *   context was given: {@link trustDigestOf}).
 *
 * @module
 */
import { executionAsyncResource } from 'node:async_hooks';
import { createHash, type Hash } from 'node:crypto';
import { createSecureContext, TLSSocket, type Server as TlsServer } from 'node:tls';

/** The signature of Node's internal `onticketkeycallback(name, iv, encrypt)`. */
export type TicketKeyCallback = (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[];

/** The internal methods of a native secure context this project uses, each present or not. */
interface NativeSecureContext {
  getCertificate?(): Uint8Array | null | undefined;
  setSessionIdContext?(context: string): void;
  setOptions?(options: number): void;
  enableTicketKeyCallback?(): void;
  onticketkeycallback?: TicketKeyCallback | undefined;
}

/** A connection's native handle (Node's `TLSWrap`), as an opaque key: properties may be noted on it. */
export type Connection = object;


function nativeContext(server: TlsServer): NativeSecureContext | undefined {
  const context = (server as { _sharedCreds?: { context?: unknown } | null })._sharedCreds?.context;
  return context !== null && typeof context === 'object' ? (context as NativeSecureContext) : undefined;
}

/**
 * The server's native secure context as an opaque token, compared by
 * identity to notice `setSecureContext()` (which makes a new one);
 * `undefined` when this Node keeps none where expected.
 */
export function secureContextToken(server: TlsServer): object | undefined {
  return nativeContext(server) as object | undefined;
}

/**
 * The DER bytes of the leaf certificate of the server's default context;
 * `null` when the context has none (only SNI contexts); `undefined` when
 * this Node lacks the method.
 */
export function defaultCertificate(server: TlsServer): Uint8Array | null | undefined {
  const context = nativeContext(server);
  if (typeof context?.getCertificate !== 'function') return undefined;
  const der = context.getCertificate();
  return der === null || der === undefined || der.byteLength === 0 ? null : der;
}

/**
 * Sets the session ID context of the connections the server makes from now
 * on (OpenSSL's `SSL_CTX_set_session_id_context`; connections made before
 * keep theirs). Returns false when this Node lacks the method.
 */
export function setSessionIdContext(server: TlsServer, context: string): boolean {
  const native = nativeContext(server);
  if (typeof native?.setSessionIdContext !== 'function') return false;
  native.setSessionIdContext(context);
  return true;
}

/**
 * Adds OpenSSL options to the server's context (`SSL_CTX_set_options`,
 * e.g. `SSL_OP_NO_TICKET` on a context `setSecureContext()` made without
 * it). Returns false when this Node lacks the method.
 */
export function addContextOptions(server: TlsServer, options: number): boolean {
  const native = nativeContext(server);
  if (typeof native?.setOptions !== 'function') return false;
  native.setOptions(options);
  return true;
}

/** Whether the server's context offers the ticket key callback (by name; `node-capabilities.ts` checks it works). */
export function hasTicketKeyCallback(server: TlsServer): boolean {
  return typeof nativeContext(server)?.enableTicketKeyCallback === 'function';
}

const ZEROS = Buffer.alloc(16);

/** The decrypt answer that refuses an offered ticket: a full handshake, never an abort. */
export function refuseTicket(): unknown[] {
  return [0, ZEROS, ZEROS];
}

/** The encrypt answer that issues no ticket this time (all five parts: Node reads a name and an IV). */
export function issueNoTicket(): unknown[] {
  return [0, ZEROS, ZEROS, ZEROS, ZEROS];
}

/** What {@link installTicketKeyCallback} installed. */
export interface InstalledTicketKeyCallback {
  /** Replaces the callback: OpenSSL keeps calling it once enabled. */
  replace(callback: TicketKeyCallback): void;
  /** Answers every ticket from now on with a refusal (the callback cannot be disabled). */
  uninstall(): void;
}

/**
 * Makes OpenSSL ask `callback` for the key of every ticket the server's
 * current context encrypts or decrypts (`setSecureContext()` makes a new
 * context without it). `undefined` when this Node lacks the callback.
 * Whatever `callback` answers, it must be one of the shapes in the module's
 * documentation and never throw (Node ends the process on either).
 */
export function installTicketKeyCallback(server: TlsServer, callback: TicketKeyCallback): InstalledTicketKeyCallback | undefined {
  const context = nativeContext(server);
  if (typeof context?.enableTicketKeyCallback !== 'function') return undefined;
  context.enableTicketKeyCallback();
  context.onticketkeycallback = callback;
  return {
    replace(next) {
      context.onticketkeycallback = next;
    },
    uninstall() {
      context.onticketkeycallback = (_name, _iv, encrypt) => (encrypt ? issueNoTicket() : refuseTicket());
    },
  };
}

/** The connection whose ClientHello OpenSSL reads now (inside the wrapped method), in this thread. */
let reading: Connection | undefined;
let following: 'pending' | 'on' | 'unavailable' = 'pending';
/** The name of the wrapped method on this Node, once found. */
let followedMethod: string | undefined;

/** Node's names, newest first, for the `TLSWrap` method that hands a parsed ClientHello to OpenSSL. */
const CLIENT_HELLO_DONE_METHODS = ['clientHelloDone', 'endParser'] as const;

/**
 * Wraps the `TLSWrap` method through which Node hands a parsed ClientHello
 * to OpenSSL (once per thread), so that code running inside it (a ticket
 * key callback decrypting) can ask {@link clientHelloConnection} which
 * connection it serves. The wrapper only notes `this` around the original
 * call, with its arguments. Returns whether it is in place.
 */
export function followClientHellos(): boolean {
  if (following !== 'pending') return following === 'on';
  following = 'unavailable';
  let proto: Record<string, unknown> | undefined;
  try {
    // A client socket that never connects: its handle is a TLSWrap like a server connection's.
    const probe = new TLSSocket(undefined as never);
    proto = Object.getPrototypeOf((probe as unknown as { _handle: object })._handle) as Record<string, unknown>;
    probe.destroy();
  } catch {
    return false;
  }
  const method = CLIENT_HELLO_DONE_METHODS.find((name) => typeof proto?.[name] === 'function');
  if (proto === undefined || method === undefined) return false;
  const original = proto[method] as (this: Connection, ...args: unknown[]) => unknown;
  const wrapped = function (this: Connection, ...args: unknown[]): unknown {
    const outer = reading;
    reading = this;
    try {
      return original.apply(this, args);
    } finally {
      reading = outer;
      stateOf(this).pastHello = true;
    }
  };
  try {
    proto[method] = wrapped;
  } catch {
    return false;
  }
  if (proto[method] !== wrapped) return false;
  followedMethod = method;
  following = 'on';
  return true;
}

/**
 * What this library keeps of one connection, in one object of one shape:
 * its `TLSWrap` gains one property, not one per fact (a handle whose
 * properties came in different orders would slow every access to it,
 * Node's own included). Each field belongs to one module.
 */
export interface ConnectionState {
  /** The server name of its ClientHello as Node's parse gave it (`''`: none); this module. */
  helloName: string | undefined;
  /** Whether OpenSSL has read its first ClientHello; this module. */
  pastHello: boolean;
  /** What its session lookup and its ticket found, as bits; `resumption-misses.ts`. */
  offer: number;
  /** When the session it resumed was made (ms since the epoch); `resumption-misses.ts`. */
  bornAt: number | undefined;
  /** Whether a handshake of it completed; `session-names.ts`. */
  established: boolean;
  /** The binding of the session it made or was let in with; `session-names.ts`. */
  made: Buffer | undefined;
  /** The ticket binding of a TLS 1.3 ticket let in before its name was known; `session-names.ts`. */
  offered: number | undefined;
  /** The name of a ticket accepted before a HelloRetryRequest; `session-names.ts`. */
  retriedName: string | undefined;
}

const STATE = Symbol('tls-resumption connection state');

/** The state this library keeps of `connection` (made on first use). */
export function stateOf(connection: Connection): ConnectionState {
  let state = (connection as { [STATE]?: ConnectionState })[STATE];
  if (state === undefined) {
    state = { helloName: undefined, pastHello: false, offer: 0, bornAt: undefined, established: false, made: undefined, offered: undefined, retriedName: undefined };
    (connection as { [STATE]?: ConnectionState })[STATE] = state;
  }
  return state;
}

/** Whether OpenSSL has read the connection's first ClientHello (handed over through the method {@link followClientHellos} wraps). */
export function pastClientHello(connection: Connection): boolean {
  return stateOf(connection).pastHello;
}

/** The `TLSWrap` method {@link followClientHellos} wrapped on this Node, if any (for the start-up report). */
export function followedClientHelloMethod(): string | undefined {
  return followedMethod;
}

/**
 * The connection whose ClientHello OpenSSL reads now: inside the hand-over
 * {@link followClientHellos} wraps, or inside {@link readingClientHelloOf}
 * (where the hand-over cannot be wrapped); else `undefined`. The one
 * answer the ticket key callback, the miss reasons, the names and renewal
 * all use.
 */
export function clientHelloConnection(): Connection | undefined {
  return reading;
}

/**
 * Runs `read` (a `resumeSession` listener's answer to Node, inside which
 * OpenSSL reads the ClientHello and decrypts its ticket) with `connection`
 * as {@link clientHelloConnection}: the same note the wrapped hand-over
 * makes, kept where this Node does not let it be wrapped.
 */
export function readingClientHelloOf(connection: Connection, read: () => void): void {
  const outer = reading;
  reading = connection;
  try {
    read();
  } finally {
    reading = outer;
  }
}

/** A server socket's connection handle (its `TLSWrap`), or `undefined` once closed. */
export function connectionOf(socket: TLSSocket): Connection | undefined {
  const handle = (socket as unknown as { _handle?: Connection | null })._handle;
  return handle === null || typeof handle !== 'object' ? undefined : handle;
}

/**
 * Inside a server's `resumeSession` or `newSession` listener (which Node
 * runs in the connection's scope): the connection's handle. Elsewhere it
 * is whatever resource runs, never a connection of the caller's.
 */
export function currentConnection(): Connection {
  return executionAsyncResource();
}

/**
 * Whether the server serves more than its default certificate:
 * `'SNICallback'` (created with one), `'addContext'` (contexts added), or
 * `undefined` (neither, or this Node keeps them elsewhere).
 */
export function sniInUse(server: TlsServer): 'SNICallback' | 'addContext' | undefined {
  if (sniCallbackOf(server) !== undefined) return 'SNICallback';
  const contexts = (server as { _contexts?: unknown })._contexts;
  if (Array.isArray(contexts) && contexts.length > 0) return 'addContext';
  return undefined;
}

/** The application's `SNICallback` the server was created with (a symbol property whose description is `snicallback`), if any. */
function sniCallbackOf(server: TlsServer): ((name: string, callback: (error: unknown, context?: unknown) => void) => void) | undefined {
  const symbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'snicallback');
  const callback = symbol === undefined ? undefined : (server as unknown as Record<symbol, unknown>)[symbol];
  return typeof callback === 'function' ? (callback as (name: string, callback: (error: unknown, context?: unknown) => void) => void) : undefined;
}

/** The TLS options a server keeps after its creation; each `undefined` when unset or not kept where expected. */
export interface ServerTlsOptions {
  /** `sessionTimeout`, in whole seconds as given. */
  sessionTimeout: unknown;
  /** `sessionIdContext` as given (Node's default: a hash of `process.argv`). */
  sessionIdContext: unknown;
  /** `secureOptions` (OpenSSL's `SSL_OP_*` bits) as given. */
  secureOptions: unknown;
  /** `requestCert` (Node: `true` only when given so). */
  requestCert: unknown;
  /** `rejectUnauthorized` (Node: `true` unless given `false`). */
  rejectUnauthorized: unknown;
}

/** The server's TLS options as Node keeps them (undocumented properties). */
export function serverTlsOptions(server: TlsServer): ServerTlsOptions {
  const kept = server as { sessionTimeout?: unknown; sessionIdContext?: unknown; secureOptions?: unknown; requestCert?: unknown; rejectUnauthorized?: unknown };
  return {
    sessionTimeout: kept.sessionTimeout,
    sessionIdContext: kept.sessionIdContext,
    secureOptions: kept.secureOptions,
    requestCert: kept.requestCert,
    rejectUnauthorized: kept.rejectUnauthorized,
  };
}

/** A connection's `TLSWrap` prototype, from a client socket that never connects. */
function tlsWrapPrototype(): Record<string, unknown> | undefined {
  try {
    const probe = new TLSSocket(undefined as never);
    const proto = Object.getPrototypeOf((probe as unknown as { _handle: object })._handle) as Record<string, unknown>;
    probe.destroy();
    return proto;
  } catch {
    return undefined;
  }
}

/**
 * Puts an accessor named `name` on the `TLSWrap` prototype: the function
 * Node assigns to each connection's own property of that name is kept
 * aside, and `wrap(original)` (made once per assigned function) runs in its
 * place. Returns false where the prototype cannot take it.
 */
function wrapHandleCallback(name: string, wrap: (original: (this: Connection, ...args: unknown[]) => unknown) => (this: Connection, ...args: unknown[]) => unknown): boolean {
  const proto = tlsWrapPrototype();
  if (proto === undefined || Object.prototype.hasOwnProperty.call(proto, name)) return false;
  const kept = Symbol(`tls-resumption ${name}`);
  const wrapped = new WeakMap<object, (this: Connection, ...args: unknown[]) => unknown>();
  try {
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: Record<symbol, unknown>) {
        const original = this[kept];
        return typeof original === 'function' ? wrapped.get(original) : original;
      },
      set(this: Record<symbol, unknown>, value: unknown) {
        if (typeof value === 'function' && !wrapped.has(value)) wrapped.set(value, wrap(value as (this: Connection, ...args: unknown[]) => unknown));
        this[kept] = value;
      },
    });
  } catch {
    return false;
  }
  return true;
}


/**
 * Holds a ClientHello before Node handles it, given the connection and the
 * name it asks for (`''`: none): `holds()` says whether to (false: Node
 * goes on now), and `hold()` takes it, calling `proceed()` once, later.
 */
export interface ClientHelloGate {
  holds(connection: Connection, name: string): boolean;
  hold(connection: Connection, name: string, proceed: () => void): void;
}

let helloNames: 'pending' | 'on' | 'unavailable' = 'pending';
let helloGate: ClientHelloGate | undefined;

/**
 * Follows the server name of each ClientHello Node parses (see the module's
 * documentation), and runs `gate` before Node goes on with it. Once per
 * thread; a later call only replaces the gate. Returns whether it is in
 * place (a Node whose parse has no server name still gets `undefined`
 * from {@link clientHelloServerName}: `node-capabilities.ts` checks).
 */
export function followClientHelloNames(gate?: ClientHelloGate): boolean {
  if (gate !== undefined) helloGate = gate;
  if (helloNames !== 'pending') return helloNames === 'on';
  helloNames = 'unavailable';
  const installed = wrapHandleCallback('onclienthello', (original) =>
    function (this: Connection, hello: unknown) {
      const name = (hello as { servername?: unknown } | null)?.servername;
      stateOf(this).helloName = typeof name === 'string' ? name : undefined;
      helloNamesSeen = typeof name === 'string';
      const gateNow = helloGate;
      let holds = false;
      try {
        holds = gateNow !== undefined && typeof name === 'string' && gateNow.holds(this, name);
      } catch {
        holds = false;
      }
      if (!holds) return original.call(this, hello);
      let done = false;
      const proceed = (): void => {
        if (done) return;
        done = true;
        try {
          original.call(this, hello);
        } catch {
          // The connection ended while its hello was held: Node's handling of it throws on the closed handle.
        }
      };
      try {
        gateNow!.hold(this, name as string, proceed);
      } catch {
        proceed();
      }
      return undefined;
    },
  );
  if (installed) helloNames = 'on';
  return installed;
}

/** Whether the last ClientHello Node parsed carried a server name field (`undefined`: none parsed yet). Node 26's carries none. */
let helloNamesSeen: boolean | undefined;

/** Whether Node's ClientHello parse hands over the server name: `false` once a parsed hello came without it. */
export function clientHellosCarryNames(): boolean | undefined {
  return helloNamesSeen;
}

/**
 * The server name the connection's ClientHello asked for (`''`: none), as
 * Node's parse gave it before any lookup; `undefined` when not known (this
 * Node's parse has none, or the hello was not parsed by Node).
 */
export function clientHelloServerName(connection: Connection): string | undefined {
  return stateOf(connection).helloName;
}

/**
 * Holds a handshake's end until `settle` is called: `true` lets Node report
 * it then, `false` ends the connection instead.
 */
export type HandshakeHold = (settle: (go: boolean) => void) => void;

/** Told of each server handshake's start and end, in the connection's scope. */
export interface HandshakeListener {
  started(connection: Connection): void;
  /**
   * Returns false to end the connection instead: Node then never reports
   * the handshake done (no `'secureConnection'`); or a {@link HandshakeHold}
   * to decide later (OpenSSL goes on meanwhile: what the client sends waits
   * in the socket until Node reports the handshake).
   */
  done(connection: Connection): boolean | HandshakeHold;
}

let handshakes: 'pending' | 'on' | 'unavailable' = 'pending';
const handshakeListeners = new Set<HandshakeListener>();

/**
 * Follows every handshake's start and end (renegotiations included); see
 * the module's documentation. Returns the function that stops `listener`,
 * or `undefined` where this Node does not let it.
 */
export function followHandshakes(listener: HandshakeListener): (() => void) | undefined {
  if (handshakes === 'pending') {
    handshakes = 'unavailable';
    const started = wrapHandleCallback('onhandshakestart', (original) =>
      function (this: Connection, ...args: unknown[]) {
        for (const each of handshakeListeners) {
          try {
            each.started(this);
          } catch {
            // Following must never break a handshake.
          }
        }
        return original.apply(this, args);
      },
    );
    const done =
      started &&
      wrapHandleCallback('onhandshakedone', (original) =>
        function (this: Connection, ...args: unknown[]) {
          let go = true;
          let holds: HandshakeHold[] | undefined;
          for (const each of handshakeListeners) {
            try {
              const answer = each.done(this);
              if (answer === false) go = false;
              else if (typeof answer === 'function') (holds ??= []).push(answer);
            } catch {
              // As above.
            }
          }
          if (!go) {
            socketOf(this)?.destroy();
            return undefined;
          }
          if (holds === undefined) return original.apply(this, args);
          let pending = holds.length;
          const settle = (verdict: boolean): void => {
            if (!verdict) go = false;
            if (--pending > 0) return;
            const socket = socketOf(this);
            if (!go) socket?.destroy();
            else if (socket !== undefined && !socket.destroyed) original.apply(this, args);
          };
          for (const hold of holds) {
            let settled = false;
            const once = (verdict: boolean): void => {
              if (settled) return;
              settled = true;
              settle(verdict);
            };
            try {
              hold(once);
            } catch {
              once(false);
            }
          }
          return undefined;
        },
      );
    if (started && done) handshakes = 'on';
  }
  if (handshakes !== 'on') return undefined;
  handshakeListeners.add(listener);
  return () => handshakeListeners.delete(listener);
}

let ownerSymbol: symbol | undefined;

/** The TLS socket of a connection handle (Node's `owner_symbol`), if it has one. */
export function socketOf(connection: Connection): TLSSocket | undefined {
  ownerSymbol ??= Object.getOwnPropertySymbols(connection).find((s) => s.description === 'owner_symbol');
  const owner = ownerSymbol === undefined ? undefined : (connection as Record<symbol, unknown>)[ownerSymbol];
  return owner instanceof TLSSocket ? owner : undefined;
}

/**
 * The server name a connection asks for as OpenSSL holds it (`''`: none):
 * under TLS 1.3, or a TLS 1.2 full handshake, the ClientHello's; after a
 * TLS 1.2 resumption, the session's. `undefined` before OpenSSL read the
 * ClientHello, or where the handle lacks the method.
 */
export function handshakeServerName(connection: Connection): string | undefined {
  const read = (connection as { getServername?: () => unknown }).getServername;
  if (typeof read !== 'function') return undefined;
  const name = read.call(connection);
  return typeof name === 'string' ? name : name === false ? '' : undefined;
}

/** The protocol version the connection negotiated (`'TLSv1.3'`, ...), from its handle; `undefined` before, or where it has none. */
export function connectionProtocol(connection: Connection): string | undefined {
  const read = (connection as { getProtocol?: () => unknown }).getProtocol;
  const protocol = typeof read === 'function' ? read.call(connection) : undefined;
  return typeof protocol === 'string' ? protocol : undefined;
}

/** Whether the connection resumed a session (the handle's own answer; false where it has none). */
export function sessionReused(connection: Connection): boolean {
  const reused = (connection as { isSessionReused?: () => unknown }).isSessionReused;
  return typeof reused === 'function' && reused.call(connection) === true;
}

/** The server a connection handle was accepted by, if known. */
export function serverOf(connection: Connection): TlsServer | undefined {
  return (socketOf(connection) as { server?: TlsServer } | undefined)?.server;
}

/** A native secure context (Node's `SecureContext` binding object), as an opaque key. */
export type NativeContext = object;

/** The native context of the server's default certificate, if kept where expected. */
export function defaultContextOf(server: TlsServer): NativeContext | undefined {
  return nativeContext(server) as NativeContext | undefined;
}

/** The native context the connection's certificate callback chose for its name (`SNICallback`, `addContext()`); `undefined`: the default. */
export function sniContextOf(connection: Connection): NativeContext | undefined {
  const chosen = (connection as { sni_context?: unknown }).sni_context;
  return chosen !== null && typeof chosen === 'object' ? chosen : undefined;
}

/** The DER of a native context's leaf certificate; `null` when it has none; `undefined` when this Node lacks the method. */
export function certificateOf(context: NativeContext): Uint8Array | null | undefined {
  const native = context as NativeSecureContext;
  if (typeof native.getCertificate !== 'function') return undefined;
  const der = native.getCertificate();
  return der === null || der === undefined || der.byteLength === 0 ? null : der;
}

/**
 * Finds the native context the server will serve `name` from, as Node's
 * certificate callback does: its `SNICallback` (called as Node calls it),
 * else its `addContext()` list (the last match wins), else the default
 * (`null`). Calls `done` once, now or later; an error is the callback's.
 */
export function resolveServerName(server: TlsServer, name: string, done: (error: unknown, context: NativeContext | null, chosen?: unknown) => void): void {
  const callback = sniCallbackOf(server);
  const native = (chosen: unknown): NativeContext | null => {
    const context = (chosen as { context?: unknown } | null | undefined)?.context ?? chosen;
    return context !== null && typeof context === 'object' ? context : null;
  };
  if (name !== '' && callback !== undefined) {
    let once = false;
    try {
      callback(name, (error, context) => {
        if (once) return;
        once = true;
        done(error ?? null, error ? null : native(context), context);
      });
    } catch (error) {
      if (!once) {
        once = true;
        done(error, null);
      }
    }
    return;
  }
  const contexts = (server as { _contexts?: unknown })._contexts;
  if (name !== '' && Array.isArray(contexts)) {
    for (let i = contexts.length - 1; i >= 0; i--) {
      const [pattern, context] = contexts[i] as [RegExp, unknown];
      if (pattern instanceof RegExp && pattern.test(name)) {
        done(null, native(context));
        return;
      }
    }
  }
  done(null, null);
}

/**
 * Makes Node's certificate callback of this one connection take `chosen`
 * (what the application's `SNICallback` answered for its name, or its
 * `error`) instead of asking the callback again: the socket's own
 * `_SNICallback`, which Node set from the server's. So the application's
 * callback runs once for the connection even when it was asked before the
 * session lookup. Returns false where the connection has no socket.
 */
export function answerServerNameWith(connection: Connection, error: unknown, chosen: unknown): boolean {
  const socket = socketOf(connection) as (TLSSocket & { _SNICallback?: unknown }) | undefined;
  if (socket === undefined || typeof socket._SNICallback !== 'function') return false;
  socket._SNICallback = (_name: string, callback: (error: unknown, context?: unknown) => void) => callback(error ?? null, error ? undefined : chosen);
  return true;
}

/** Whether {@link resolveServerName} may answer later: the server has an `SNICallback` of the application's. */
export function resolvesServerNamesLater(server: TlsServer): boolean {
  return sniCallbackOf(server) !== undefined;
}

const TRUST = new WeakMap<object, Hash>();
const TRUST_DIGESTS = new WeakMap<object, string>();
let trust: 'pending' | 'on' | 'unavailable' = 'pending';

/**
 * Keeps, for every native context made from now on in this thread, a
 * digest of the trust it was given (see the module's documentation).
 * Returns whether it is in place.
 */
export function followTrustSettings(): boolean {
  if (trust !== 'pending') return trust === 'on';
  trust = 'unavailable';
  let proto: Record<string, unknown>;
  try {
    proto = Object.getPrototypeOf(createSecureContext().context) as Record<string, unknown>;
  } catch {
    return false;
  }
  // init() starts every context: one made before this ran has no digest, not an empty one.
  const methods = ['init', 'addCACert', 'addRootCerts', 'addCRL'] as const;
  if (!methods.every((name) => typeof proto[name] === 'function')) return false;
  for (const name of methods) {
    const original = proto[name] as (this: object, ...args: unknown[]) => unknown;
    proto[name] = function (this: object, ...args: unknown[]): unknown {
      const result = original.apply(this, args);
      let hash = TRUST.get(this);
      if (hash === undefined || name === 'init') {
        hash = createHash('sha256');
        TRUST.set(this, hash);
        TRUST_DIGESTS.delete(this);
        if (name === 'init') return result;
      }
      hash.update(name).update('\0');
      for (const arg of args) hash.update(typeof arg === 'string' || ArrayBuffer.isView(arg) ? (arg as string | Uint8Array) : String(arg)).update('\0');
      TRUST_DIGESTS.delete(this);
      return result;
    };
  }
  trust = 'on';
  return true;
}

/**
 * A digest of what the native context was told to trust for client
 * certificates (every CA certificate, the root store, every CRL, in order);
 * `undefined` when not followed (made before {@link followTrustSettings},
 * which runs as this module loads, or this Node did not let it).
 */
export function trustDigestOf(context: NativeContext): string | undefined {
  if (trust !== 'on') return undefined;
  const known = TRUST_DIGESTS.get(context);
  if (known !== undefined) return known;
  const hash = TRUST.get(context);
  if (hash === undefined) return undefined;
  const digest = hash.copy().digest('base64');
  TRUST_DIGESTS.set(context, digest);
  return digest;
}

// Contexts are followed from the moment this package loads: before the application makes its servers and SNI contexts.
followTrustSettings();
