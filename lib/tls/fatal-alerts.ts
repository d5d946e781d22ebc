/**
 * Sessions that must not resume: "Any connection terminated with a fatal
 * alert MUST NOT be resumed" (RFC 5246 §7.2.2). OpenSSL removes such a
 * session from its own cache and calls the external cache's remove
 * callback, which Node does not expose; {@link endSessionsOnFatalAlert}
 * does it for a server's session store.
 *
 * A fatal alert, sent or received, ends the connection with an error that
 * OpenSSL raised: Node gives it an `ERR_SSL_*` code and OpenSSL's
 * `library` (measured on Node 24, OpenSSL 3.5: a corrupted record from the
 * client is `ERR_SSL_CIPHER_OPERATION_FAILED`, library "Provider routines",
 * after which the server sends `bad_record_mac`; a `bad_record_mac` alert
 * received is `ERR_SSL_SSL/TLS_ALERT_BAD_RECORD_MAC`). A clean close
 * (close_notify) raises nothing, and a client that just drops the
 * connection raises a socket error (`ECONNRESET`, `EPIPE`) or nothing:
 * their sessions stay, as in nginx.
 *
 * Only TLS 1.2 (and older) sessions are looked at: TLS 1.3 sessions are not
 * stored (they resume by ticket), and a ticket a client holds cannot be
 * recalled.
 *
 * @module
 */
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { isTls13Session, sessionIdOf } from './session-der.ts';

/** OpenSSL errors that are no alert: the peer closed without close_notify. */
const NOT_ALERTS = new Set(['ERR_SSL_UNEXPECTED_EOF_WHILE_READING']);

/**
 * Whether a TLS socket's error means its connection ended in a fatal alert
 * (sent or received): an error OpenSSL raised, not a socket error.
 */
export function isFatalAlert(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const { code, library } = error as { code?: unknown; library?: unknown };
  if (typeof code === 'string' && NOT_ALERTS.has(code)) return false;
  return typeof library === 'string' || (typeof code === 'string' && code.startsWith('ERR_SSL_'));
}

/**
 * Calls `end(sessionId)` for every TLS 1.2 (or older) connection of
 * `server` that ends in a fatal alert: after its handshake (the socket's
 * `'error'`), or during it once a session was chosen (`'tlsClientError'`,
 * e.g. a resumption whose Finished did not verify). Adds no behaviour
 * besides: Node's own `'error'` listener on server sockets stays. Returns
 * the function that stops watching.
 */
export function endSessionsOnFatalAlert(server: TlsServer, end: (sessionId: Buffer) => void): () => void {
  const check = (socket: TLSSocket, error: unknown): void => {
    if (!isFatalAlert(error)) return;
    // Read now: the socket's session is gone once it is destroyed.
    const session = typeof socket.getSession === 'function' ? socket.getSession() : undefined;
    if (session === undefined || isTls13Session(session)) return;
    const id = sessionIdOf(session);
    if (id !== undefined) end(id);
  };
  // One listener function for every socket (not a closure and a once() wrapper per connection): it removes itself.
  function onSocketError(this: TLSSocket, error: unknown): void {
    this.removeListener('error', onSocketError);
    check(this, error);
  }
  const onSecure = (socket: TLSSocket): void => {
    if (socket.getProtocol() === 'TLSv1.3') return;
    socket.on('error', onSocketError);
  };
  const onClientError = (error: unknown, socket: TLSSocket): void => check(socket, error);
  server.prependListener('secureConnection', onSecure);
  server.on('tlsClientError', onClientError);
  return () => {
    server.off('secureConnection', onSecure);
    server.off('tlsClientError', onClientError);
  };
}
