/**
 * A server's native secure context: `server._sharedCreds.context`, Node's
 * internal `SecureContext`, which every new connection copies (OpenSSL's
 * `SSL_new`) and `server.setSecureContext()` replaces. Node's public API
 * lacks what this library needs from it, so it is reached here, and only
 * here, feature-detected: every method is optional, and each caller checks
 * the ones it uses and keeps a public-API path (or says why it cannot)
 * when this Node lacks them. Measured on Node 20, 22 and 24; see
 * `shared/NOTES.md` §2 and §5.
 *
 * @module
 */
import type { Server as TlsServer } from 'node:tls';
import type { TicketKeyCallback } from '../tickets/ticket-callback.ts';

/** The internal methods this library uses, each present or not. */
export interface NativeSecureContext {
  /** The default leaf certificate's DER (`runtime/certificate-binding.ts`). */
  getCertificate?(): Uint8Array | null | undefined;
  /** Sets the session ID context of the connections made after it. */
  setSessionIdContext?(context: string): void;
  /** `SSL_CTX_set_options`: e.g. `SSL_OP_NO_TICKET` on a context that lost it. */
  setOptions?(options: number): void;
  /** Turns on OpenSSL's ticket key callback, answered by {@link NativeSecureContext.onticketkeycallback}. */
  enableTicketKeyCallback?(): void;
  onticketkeycallback?: TicketKeyCallback | undefined;
}

/**
 * The server's native secure context now (a new object after
 * `setSecureContext()`), or `undefined` when this Node keeps none where
 * expected.
 */
export function nativeSecureContext(server: TlsServer): NativeSecureContext | undefined {
  const context = (server as { _sharedCreds?: { context?: unknown } | null })._sharedCreds?.context;
  return context !== null && typeof context === 'object' ? (context as NativeSecureContext) : undefined;
}
