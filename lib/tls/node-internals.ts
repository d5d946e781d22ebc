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
 *   `server.sessionIdContext` and `server.secureOptions`, which Node keeps
 *   as properties but does not document.
 *
 * @module
 */
import { executionAsyncResource } from 'node:async_hooks';
import { TLSSocket, type Server as TlsServer } from 'node:tls';

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

/** The `TLSWrap` method {@link followClientHellos} wrapped on this Node, if any (for the start-up report). */
export function followedClientHelloMethod(): string | undefined {
  return followedMethod;
}

/** Inside the ClientHello's hand-over to OpenSSL (see {@link followClientHellos}): the connection; else `undefined`. */
export function clientHelloConnection(): Connection | undefined {
  return reading;
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
  const symbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'snicallback');
  if (symbol !== undefined && typeof (server as unknown as Record<symbol, unknown>)[symbol] === 'function') return 'SNICallback';
  const contexts = (server as { _contexts?: unknown })._contexts;
  if (Array.isArray(contexts) && contexts.length > 0) return 'addContext';
  return undefined;
}

/** The TLS options a server keeps after its creation; each `undefined` when unset or not kept where expected. */
export interface ServerTlsOptions {
  /** `sessionTimeout`, in whole seconds as given. */
  sessionTimeout: unknown;
  /** `sessionIdContext` as given (Node's default: a hash of `process.argv`). */
  sessionIdContext: unknown;
  /** `secureOptions` (OpenSSL's `SSL_OP_*` bits) as given. */
  secureOptions: unknown;
}

/** The server's TLS options as Node keeps them (undocumented properties). */
export function serverTlsOptions(server: TlsServer): ServerTlsOptions {
  const kept = server as { sessionTimeout?: unknown; sessionIdContext?: unknown; secureOptions?: unknown };
  return { sessionTimeout: kept.sessionTimeout, sessionIdContext: kept.sessionIdContext, secureOptions: kept.secureOptions };
}
