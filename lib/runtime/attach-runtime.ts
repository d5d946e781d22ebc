/**
 * What a runtime does to each server it runs, whatever the server runs in
 * (a worker thread of the cluster runtime, a `node:cluster` worker
 * process): attach the session store and the ticket key ring, check that
 * the server was created with the deployment's TLS settings, and count its
 * handshakes.
 *
 * @module
 */
import { constants } from 'node:crypto';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { CacheConfig } from '../config/settings.ts';
import { HOOK_COUNTER_NAMES, TICKET_COUNTER_NAMES, type SharedCounters } from '../operations/counters.ts';
import { InvalidSessionError, SessionIdContextMismatchError, TicketsNotDisabledError } from '../errors.ts';
import { summarize } from '../describe.ts';
import { attachSessionCache, checkSessionTimeout, sessionCacheOf, type SessionCacheBinding, type SessionStore } from '../tls/session-hooks.ts';
import type { TicketKeyRing } from '../tickets/key-ring.ts';
import { attachTicketKeys, ticketKeysOf, type TicketKeyBinding } from '../tickets/attach-ticket-keys.ts';
import { type TicketCounters } from '../tickets/ticket-counters.ts';
import { bindSessionsToCertificate, certificateFingerprint, type CertificateBinding } from './certificate-binding.ts';
import { addContextOptions, certificateOf, connectionOf, followClientHellos, serverTlsOptions, sniContextOf, sniInUse } from '../tls/node-internals.ts';
import { knownCapability } from '../tls/known-capabilities.ts';
import { missLogger, settleAge, settleMiss, TICKET_NAME_MISS } from '../tls/resumption-misses.ts';
import { onResumptionRefusedLate } from '../tls/session-names.ts';

/** The options every server of a deployment must be created with. */
export interface RuntimeServerOptions {
  /** The session lifetime in seconds: the store's timeout. */
  sessionTimeout: number;
  /** The deployment's session ID context (`TLS_CACHE_SESSION_ID_CONTEXT`). */
  sessionIdContext: string;
}

/**
 * The options to spread into a server's creation options under a runtime:
 * `{ sessionTimeout: store.timeout, sessionIdContext: config.sessionIdContext }`.
 */
export function runtimeServerOptions(
  store: Pick<SessionStore, 'timeout'>,
  config: Pick<CacheConfig, 'sessionIdContext'>,
): RuntimeServerOptions {
  return { sessionTimeout: store.timeout, sessionIdContext: config.sessionIdContext };
}

/** How a server a runtime refuses for its `sessionTimeout` is to be created instead. */
const SERVER_OPTIONS_FIX =
  "create it with the runtime's server options spread into its options (sharedCacheServerOptions(), or a server module's context.serverOptions), and give every process the same TLS_CACHE_SESSION_TIMEOUT";

/** What {@link attachRuntime} needs. */
export interface RuntimeAttachOptions {
  /** The session store: the shared table, or a store in front of it (IPC, Redis). */
  store: SessionStore;
  /** The ticket key ring, or `undefined` when tickets are off. */
  ticketKeys: TicketKeyRing | undefined;
  /** How tickets use the ring (see `attachTicketKeys`). */
  ticketMode: 'auto' | 'fallback';
  /** Where hook, ticket, handshake and missed-resumption counts are added. */
  counters: SharedCounters;
  /** Where refusals and errors are logged, and each missed resumption at debug level (rate-limited). */
  logger: Logger;
  /**
   * The deployment's session ID context; the server must have been created
   * with it. The runtime then sets the server's native context to one
   * derived from it and the server's certificate.
   */
  sessionIdContext: string;
  /** Called whenever the server's certificates change: `setSecureContext()` replaced its context, or a name was served from a certificate not seen before. @defaultValue none */
  onCertificates?: (fingerprints: string[]) => void;
}

/** What {@link attachRuntime} attached. */
export interface RuntimeBinding {
  /** The session store's binding (the server's own, if it was attached before). */
  binding: SessionCacheBinding;
  /** The ticket key binding, or `undefined` when tickets are off. Listen after its `ready`. */
  tickets: TicketKeyBinding | undefined;
  /** The server's sessions bound to its certificate (see `certificate-binding.ts`). */
  certificate: CertificateBinding;
  /** Whether the server serves several names (SNI), checked at attach: each session is bound to its own (`tls/session-names.ts`). */
  sni: 'SNICallback' | 'addContext' | undefined;
  /**
   * The SHA-256 fingerprints of the certificates the server serves: its
   * default certificate's, then those of the names it served from their
   * own contexts so far (announced to the other hosts with Redis).
   */
  certificates(): string[];
}

/**
 * Attaches `options.store` and `options.ticketKeys` to `server` (unless the
 * server module attached them itself), counts every handshake and every
 * missed resumption by its reason (`tls/resumption-misses.ts`), and binds
 * the server's sessions to its certificate: its session ID context becomes
 * one derived from `sessionIdContext` and its certificate, again after a
 * `server.setSecureContext()` (which also gets the ticket keys and
 * `SSL_OP_NO_TICKET` back; see `certificate-binding.ts`).
 *
 * @throws SessionIdContextMismatchError (`ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH`) when the server's `sessionIdContext` is not the deployment's.
 * @throws TicketsNotDisabledError (`ERR_TLS_CACHE_TICKETS_NOT_DISABLED`) when tickets are off and the server would issue tickets of its own.
 * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`) when its `sessionTimeout` is not the store's (the deployment's `TLS_CACHE_SESSION_TIMEOUT`), even with a store the server module attached itself.
 */
export function attachRuntime(server: TlsServer, options: RuntimeAttachOptions): RuntimeBinding {
  const { store, ticketKeys, ticketMode, counters, logger, sessionIdContext, onCertificates } = options;
  checkSessionIdContext(server, sessionIdContext);
  // Every runtime's one check of the lifetime, saying how to create a server under a runtime (attachSessionCache checks it too).
  checkSessionTimeout(server, store.timeout, SERVER_OPTIONS_FIX);
  const tickets = attachTickets(server, ticketKeys, ticketMode, counters, logger);
  const binding =
    sessionCacheOf(server) ??
    attachSessionCache(server, store, {
      counters: counters.mirror(HOOK_COUNTER_NAMES),
      onError(error, hook) {
        // Oversize sessions are routine and counted by the table; anything else is worth a look.
        const level = error instanceof InvalidSessionError ? 'debug' : 'warn';
        logger[level]({ err: summarize(error), hook }, 'session store refused');
      },
    });
  // Ticket verdicts are tied to their connection through Node's ClientHello hand-over (resumption-misses.ts).
  if (knownCapability('ticket_miss_reasons') !== false) followClientHellos();
  const logMiss = missLogger(logger);
  // The certificates of names served from contexts of their own (SNI), learned from full handshakes: the fleet compares them too.
  const namedContexts = new WeakSet<object>();
  const named: string[] = [];
  server.on('secureConnection', (socket: TLSSocket) => {
    const reused = socket.isSessionReused();
    const protocol = socket.getProtocol();
    counters.countHandshake(reused, protocol);
    if (!reused) {
      const connection = connectionOf(socket);
      const context = connection === undefined ? undefined : sniContextOf(connection);
      if (context !== undefined && !namedContexts.has(context)) {
        namedContexts.add(context);
        const fingerprint = fingerprintOf(context);
        if (fingerprint !== undefined && !named.includes(fingerprint) && named.length < MAX_NAMED_CERTIFICATES) {
          named.push(fingerprint);
          onCertificates?.(certificates());
        }
      }
    }
    if (reused) {
      // How old the session was when it came back (resumed_session_age_seconds).
      const age = settleAge(socket, Date.now());
      if (age !== undefined) counters.countSessionAge(age.method, age.ageMs);
      return;
    }
    const miss = settleMiss(socket, reused, protocol);
    if (miss === undefined) return;
    counters.add(miss.counter);
    logMiss(miss, protocol);
  });
  // On Node 26 a TLS 1.3 ticket's name is checked at its handshake's end: one made for another name ends there, with no 'secureConnection'.
  onResumptionRefusedLate(server, () => {
    counters.add(TICKET_NAME_MISS.counter);
    logMiss(TICKET_NAME_MISS, 'TLSv1.3');
  });
  const ticketsNow = tickets === undefined ? undefined : followTickets(tickets, server, logger);
  const certificate = bindSessionsToCertificate(server, sessionIdContext, {
    usable: knownCapability('certificate_binding') !== false,
    onReplaced(bound) {
      // setSecureContext() made a new native context: without the ring's callback, and with the options it was given.
      if (ticketsNow !== undefined) ticketsNow.reattach();
      else disableTickets(server);
      logger.info({ certificate: bound.unbound === undefined ? 'bound' : bound.unbound }, "the server's secure context was replaced: sessions bound to its certificate again");
      onCertificates?.(certificates());
    },
  });
  const certificates = (): string[] => [...new Set([...(certificate.fingerprint === undefined ? [] : [certificate.fingerprint]), ...named])];
  return { binding, tickets: ticketsNow?.binding, certificate, sni: sniInUse(server), certificates };
}

/**
 * A ticket key binding that stays valid when `setSecureContext()` replaces
 * the server's context: `reattach()` attaches the same ring, counting into
 * the same counters, to the new context.
 */
function followTickets(first: TicketKeyBinding, server: TlsServer, logger: Logger): { binding: TicketKeyBinding; reattach(): void } {
  let current = first;
  const binding: TicketKeyBinding = {
    get ring() {
      return current.ring;
    },
    get mode() {
      return current.mode;
    },
    get counters() {
      return current.counters;
    },
    get renewing() {
      return current.renewing;
    },
    get ready() {
      return current.ready;
    },
    refresh: () => current.refresh(),
    detach: () => current.detach(),
  };
  return {
    binding,
    reattach() {
      const { ring, mode, counters } = current;
      current.detach();
      current = attachTicketKeys(server, ring, {
        mode: mode === 'callback' ? 'auto' : 'fallback',
        counters: counters as TicketCounters,
        onRenewalOff: renewalOffLogger(logger),
      });
    },
  };
}

/** The most certificates of named contexts one server reports (a deployment serves a few; a client cannot add any). */
const MAX_NAMED_CERTIFICATES = 63;

/** The fingerprint of a native context's leaf certificate, if it has one. */
function fingerprintOf(context: object): string | undefined {
  const der = certificateOf(context);
  return der === null || der === undefined ? undefined : certificateFingerprint(der);
}

/** Tickets off: a context made by `setSecureContext()` without `SSL_OP_NO_TICKET` gets it back. */
function disableTickets(server: TlsServer): void {
  addContextOptions(server, constants.SSL_OP_NO_TICKET);
}

/**
 * Refuses a server whose session ID context is not the deployment's: Node's
 * default (a hash of `process.argv`) differs between processes started with
 * other command lines, and OpenSSL then resumes nothing they made. Checks
 * the context the application created the server with (its
 * `sessionIdContext` property), the base of the one the runtime then
 * derives from the certificate (see `certificate-binding.ts`).
 */
function checkSessionIdContext(server: TlsServer, expected: string): void {
  // This Node no longer keeps the option where it used to (the start-up report says so): nothing to compare.
  if (knownCapability('server_options') === false) return;
  const actual = serverTlsOptions(server).sessionIdContext;
  if (actual === expected) return;
  throw new SessionIdContextMismatchError(
    `The server's TLS sessionIdContext is ${actual === undefined ? 'unset' : JSON.stringify(actual)}, not the deployment's ` +
      `${JSON.stringify(expected)} (TLS_CACHE_SESSION_ID_CONTEXT): sessions made by other processes or hosts would not resume. ` +
      'Create the server with { sessionIdContext } from the runtime\'s server options (spread context.serverOptions)',
  );
}

/**
 * With tickets on, makes the server use the shared ring; with tickets off,
 * refuses a server that would issue tickets under keys of its own.
 */
function attachTickets(
  server: TlsServer,
  ring: TicketKeyRing | undefined,
  mode: 'auto' | 'fallback',
  counters: SharedCounters,
  logger: Logger,
): TicketKeyBinding | undefined {
  if (ring === undefined) {
    const secureOptions = Number(serverTlsOptions(server).secureOptions ?? 0);
    if (knownCapability('server_options') !== false && (secureOptions & constants.SSL_OP_NO_TICKET) === 0) {
      throw new TicketsNotDisabledError(
        'Tickets are off (TLS_CACHE_TICKETS=off) but the server would issue tickets under keys of its own; ' +
          "create it with secureOptions including SSL_OP_NO_TICKET (e.g. when context.config.tickets === 'off')",
      );
    }
    return undefined;
  }
  return ticketKeysOf(server) ?? attachTicketKeys(server, ring, { mode, counters: counters.mirror(TICKET_COUNTER_NAMES), onRenewalOff: renewalOffLogger(logger) });
}

/** Logs, once per server, that its TLS 1.3 tickets are no longer renewed (the reason names no data). */
function renewalOffLogger(logger: Logger): (reason: string) => void {
  return (reason) =>
    logger.warn(
      { reason },
      'TLS 1.3 ticket renewal is off in this worker: tickets are accepted without a fresh one (clients that use each ticket once resume less often); the session lifetime still holds',
    );
}
