/**
 * Binds a server's TLS sessions to its certificate: sessions (by session ID,
 * TLS 1.2 ticket or TLS 1.3 ticket) made under one certificate never resume
 * under another, on this host or any other, while every server of the
 * deployment with the same certificate resumes every other's.
 *
 * How: OpenSSL resumes a session only under the session ID context it was
 * made in. Every runtime sets each server's context to one derived from the
 * deployment's (`TLS_CACHE_SESSION_ID_CONTEXT`) and the server's leaf
 * certificate ({@link certificateSessionIdContext}), as nginx derives its
 * own from the certificate. A new certificate (a reload, or
 * `server.setSecureContext()`) is a new context: the clients of the old one
 * make a full handshake and check the server again.
 *
 * Node's public API cannot do this; it uses two internal methods of the
 * server's native context (`tls/node-internals.ts`): the leaf's DER,
 * whatever form the certificate was given in, and the session ID context
 * of the connections created after it. Without them the server
 * keeps the deployment's context: sessions then survive a certificate change
 * until they expire (see {@link CertificateBinding.unbound}).
 *
 * SNI: a server with `SNICallback` or `addContext()` serves several
 * certificates. OpenSSL looks a session up before the SNI callback runs, so
 * the session ID context holds the default certificate only; each session is
 * bound to its own name and that name's certificate and client-certificate
 * settings by `tls/session-names.ts`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Server as TlsServer } from 'node:tls';
import { defaultCertificate, secureContextToken, setSessionIdContext } from '../tls/node-internals.ts';

/** The most bytes OpenSSL takes as a session ID context. */
const MAX_CONTEXT_BYTES = 32;

/**
 * The session ID context of a certificate in a deployment: the first 32 hex
 * characters of SHA-256(`base` || 0x00 || `certificate`), where `base` is
 * the deployment's context (`TLS_CACHE_SESSION_ID_CONTEXT`) and
 * `certificate` the leaf certificate's DER bytes. 32 characters are 32
 * bytes, OpenSSL's maximum. The same inputs give the same context in every
 * process and on every host.
 */
export function certificateSessionIdContext(base: string, certificate: Uint8Array): string {
  return createHash('sha256').update(base).update('\0').update(certificate).digest('hex').slice(0, MAX_CONTEXT_BYTES);
}

/** What {@link bindSessionsToCertificate} did to a server. */
export interface CertificateBinding {
  /** The session ID context in force now: the derived one, or the deployment's when unbound. */
  readonly context: string;
  /**
   * Why sessions are not bound to the certificate, or `undefined` when they
   * are: `'internals'` (this Node lacks the internal methods) or
   * `'no-certificate'` (the server has no default certificate, e.g. only
   * SNI contexts).
   */
  readonly unbound: 'internals' | 'no-certificate' | undefined;
  /** Times the server's secure context was replaced (`setSecureContext()`) and bound again. */
  readonly replacements: number;
  /**
   * The SHA-256 fingerprint of the default leaf certificate, as
   * `openssl x509 -noout -fingerprint -sha256` prints it (`AB:CD:…`, 95
   * characters), or `undefined` when unbound. The hosts of a deployment
   * compare theirs through Redis (`redis/fleet-certificates.ts`).
   */
  readonly fingerprint: string | undefined;
}

/** A certificate's SHA-256 fingerprint, in OpenSSL's form (`AB:CD:…`). */
export function certificateFingerprint(certificate: Uint8Array): string {
  return createHash('sha256').update(certificate).digest('hex').toUpperCase().replace(/..(?!$)/g, '$&:');
}

/** Options of {@link bindSessionsToCertificate}. */
export interface BindOptions {
  /**
   * Called after `server.setSecureContext()` replaced the server's native
   * context and it was bound again, before the first connection on it is
   * made: the place to attach what the new context lost (the ticket key
   * callback, `SSL_OP_NO_TICKET`).
   * @defaultValue none
   */
  onReplaced?: (binding: CertificateBinding) => void;
  /**
   * Whether this Node's internal methods work (`node-capabilities.ts`);
   * `false` leaves the server's context alone, unbound (`'internals'`).
   * @defaultValue true: used when present
   */
  usable?: boolean;
}

/**
 * Sets the server's session ID context to the one derived from `base` and
 * its default certificate, and again whenever `setSecureContext()` replaces
 * its context (checked as each connection arrives, before Node creates its
 * TLS state, so no connection is made under an unbound context). Leaves
 * the server's `sessionIdContext` property as the application set it.
 * Never throws: without the internal methods, or without a certificate, the
 * server keeps its context and the binding says why.
 */
export function bindSessionsToCertificate(server: TlsServer, base: string, options: BindOptions = {}): CertificateBinding {
  // Off at start (node-capabilities.ts found the internal methods missing or without effect): never touched.
  const usable = options.usable ?? true;
  const state: { context: string; unbound: CertificateBinding['unbound']; replacements: number; fingerprint: string | undefined } = {
    context: base,
    unbound: undefined,
    replacements: 0,
    fingerprint: undefined,
  };
  const binding: CertificateBinding = {
    get context() {
      return state.context;
    },
    get unbound() {
      return state.unbound;
    },
    get replacements() {
      return state.replacements;
    },
    get fingerprint() {
      return state.fingerprint;
    },
  };
  let bound = secureContextToken(server);
  const bind = (): void => {
    state.fingerprint = undefined;
    const der = usable ? defaultCertificate(server) : undefined;
    if (der === undefined || !setSessionIdContext(server, base)) {
      state.unbound = 'internals';
      state.context = base;
      return;
    }
    if (der === null) {
      state.unbound = 'no-certificate';
      state.context = base;
      return;
    }
    state.context = certificateSessionIdContext(base, der);
    state.fingerprint = certificateFingerprint(der);
    state.unbound = undefined;
    setSessionIdContext(server, state.context);
  };
  bind();
  if (state.unbound === 'internals') return binding;
  // Node's own 'connection' listener creates the TLS state (SSL_new copies the context): run first.
  server.prependListener('connection', () => {
    const now = secureContextToken(server);
    if (now === bound) return;
    bound = now;
    state.replacements++;
    bind();
    options.onReplaced?.(binding);
  });
  return binding;
}

/** The warning logged once when sessions could not be bound to the certificate. */
export function unboundWarning(reason: 'internals' | 'no-certificate'): string {
  return reason === 'internals'
    ? "this Node lacks the internal secure-context methods used to bind sessions to the certificate: sessions made under " +
        'an old certificate resume under a new one until they expire (TLS_CACHE_SESSION_TIMEOUT)'
    : 'this server has no default certificate: sessions are not bound to a certificate, and those made under an old ' +
        'certificate resume under a new one until they expire (TLS_CACHE_SESSION_TIMEOUT)';
}
