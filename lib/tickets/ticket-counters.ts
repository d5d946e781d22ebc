/**
 * What a server's ticket keys count: the shape every ticket path counts in
 * (the ticket key callback, the fallback, the renewal self-test), shared
 * across threads through `operations/counters.ts`.
 *
 * @module
 */

/** What a server's ticket keys did, counted in its thread. */
export interface TicketCounters {
  /** Tickets encrypted (callback mode). */
  issued: number;
  /** Tickets whose key was found: OpenSSL then checks the ticket itself. */
  decrypted: number;
  /** Tickets under no key the ring holds (unknown, erased, forged): full handshake. */
  unknownKey: number;
  /** Times the key could not be read or the callback failed (the handshake went on). */
  failures: number;
  /** Times the current key was set again (fallback mode). */
  keyUpdates: number;
  /** TLS 1.3 resumptions answered "renew": each got one fresh ticket carrying its session's birth. */
  renewed: number;
  /** Tickets refused because their session's lifetime had passed (`birth + timeout`): full handshake. */
  expired: number;
  /** Times this server stopped renewing: the renewal self-test or a check on live handshakes failed in its thread. */
  renewalOff: number;
}

/** Counters all at zero. */
export function emptyTicketCounters(): TicketCounters {
  return { issued: 0, decrypted: 0, unknownKey: 0, failures: 0, keyUpdates: 0, renewed: 0, expired: 0, renewalOff: 0 };
}
