/**
 * The function Node's internal ticket key callback calls
 * (`onticketkeycallback(name, iv, encrypt)`) for a server sharing a
 * {@link TicketKeyRing}: what it answers, for each ticket.
 *
 * - **Encrypt** (a new ticket): `[1, hmac, aes, name, iv]` under the ring's
 *   current key, the IV sealing the session's birth (`ticket-birth.ts`):
 *   the birth of the connection's window for a renewing binding
 *   (`ticket-links.ts`), else now. `[0, zeros...]` when no key can be read:
 *   no ticket this time, never a failed handshake.
 * - **Decrypt** (an offered ticket): under no key the ring holds, or of a
 *   session born `lifetime` or more ago: `[0, zeros16, zeros16]`, a full
 *   handshake (`refuseTicket()` of `tls/node-internals.ts`: the answers
 *   that never abort the process, whatever a client offers). A ticket of known
 *   birth offered by a connection that can be linked, on a renewing
 *   binding: `[2, hmac, aes]`, accept and renew (OpenSSL then issues one
 *   new TLS 1.3 ticket, which carries the same birth); anything else
 *   `[1, hmac, aes]`, accept without a new ticket. OpenSSL then checks the
 *   ticket's HMAC (which covers the IV) and its own lifetime.
 * - Nothing thrown leaves the callback (Node would end the process): a
 *   failure counts and answers as above.
 *
 * @module
 */
import type { TicketKeyRing } from './key-ring.ts';
import { emptyKey, wipeKey } from './ticket-key.ts';
import { TicketBirths } from './ticket-birth.ts';
import { birthOfNextTicket, lastTicketSubject, linkOfferedBirth } from './ticket-links.ts';
import { bindingOfNextTicket, checkTicketName, NO_TICKET } from '../tls/session-names.ts';
import type { TicketCounters } from './ticket-counters.ts';
import { issueNoTicket, refuseTicket, type TicketKeyCallback } from '../tls/node-internals.ts';
import { noteTicket, TICKET_ACCEPTED, TICKET_EXPIRED, TICKET_FAILED, TICKET_NAME_MISMATCH, TICKET_UNKNOWN_KEY } from '../tls/resumption-misses.ts';

export type { TicketKeyCallback } from '../tls/node-internals.ts';

/** What {@link ticketCallback} needs. */
export interface TicketCallbackOptions {
  ring: TicketKeyRing;
  counters: TicketCounters;
  /**
   * A session's lifetime in ms (the server's `sessionTimeout`): a ticket
   * whose sealed birth is that old is refused. `undefined`: no birth check
   * and no renewal.
   */
  lifetimeMs: number | undefined;
  /** Whether TLS 1.3 tickets may be renewed (the server is linked, see `ticket-links.ts`). */
  renew: boolean;
  /** Milliseconds since the epoch. */
  clock: () => number;
  /** The self-test's binding: renews while the thread's renewal state is still pending. */
  selfTest?: boolean;
  /** Sees the birth sealed in every ticket encrypted (the self-test checks them). */
  onEncrypt?: (birth: number) => void;
  /**
   * Whether the server's sessions are bound to their names
   * (`tls/session-names.ts`): each ticket then seals its session's binding,
   * and an offered one resumes only where it is asked for.
   * @defaultValue never
   */
  names?: () => boolean;
  /** Whether tickets are tied to their connections (`ticket-links.ts` links the server): needed to seal bindings. */
  linked?: boolean;
}

const ACCEPT = 1;
const RENEW = 2;

/** A ticket callback and the function that wipes its scratch key (on detach). */
export function ticketCallback(options: TicketCallbackOptions): { callback: TicketKeyCallback; wipe: () => void } {
  const { ring, counters, lifetimeMs, renew, clock, selfTest = false, onEncrypt, names = () => false, linked = renew } = options;
  // Scratch buffers: Node copies the secrets into OpenSSL before the callback's caller returns.
  const key = emptyKey();
  const iv = Buffer.alloc(16);
  const births = new TicketBirths();
  const refuse = refuseTicket;
  const noTicket = issueNoTicket;
  const callback: TicketKeyCallback = (name, ticketIv, encrypt) => {
    try {
      const now = clock();
      if (encrypt) {
        if (ring.encryptionKey(key) === undefined) {
          counters.failures++;
          return noTicket();
        }
        const windowBirth = linked ? birthOfNextTicket(now) : now;
        const birth = renew ? windowBirth : now;
        // The session's binding to its name: the connection of the TLS 1.3 window, or the TLS 1.2 handshake in progress.
        const binding = linked && names() ? bindingOfNextTicket(lastTicketSubject()) : 0;
        if (binding === NO_TICKET) return noTicket();
        counters.issued++;
        onEncrypt?.(birth);
        return [ACCEPT, key.hmac, key.aes, key.name, births.seal(key, ring.generation, birth, iv, binding)];
      }
      if (ring.decryptionKey(name, key) === undefined) {
        counters.unknownKey++;
        noteTicket(TICKET_UNKNOWN_KEY);
        return refuse();
      }
      counters.decrypted++;
      const bound = names();
      if (lifetimeMs === undefined && !bound) {
        // Accepted: whether it resumes is OpenSSL's to say (the HMAC, the session), at 'secureConnection'.
        noteTicket(TICKET_ACCEPTED);
        return [ACCEPT, key.hmac, key.aes];
      }
      const birth = births.open(key, ring.generation, ticketIv, now);
      // Accepted unless refused below, with its session's birth when it sealed one (its age, should it resume).
      noteTicket(TICKET_ACCEPTED, birth);
      // Made for another name or under other authentication (or sealed with none): a full handshake.
      if (bound && checkTicketName(birth === undefined ? undefined : births.binding, ticketIv) === 'mismatch') {
        noteTicket(TICKET_NAME_MISMATCH);
        return refuse();
      }
      if (lifetimeMs === undefined) return [ACCEPT, key.hmac, key.aes];
      // Unknown birth (issued before this code, by nginx sharing the key, or forged): OpenSSL's own lifetime applies.
      if (birth === undefined) return [ACCEPT, key.hmac, key.aes];
      if (now - birth >= lifetimeMs) {
        counters.expired++;
        noteTicket(TICKET_EXPIRED);
        return refuse();
      }
      if (renew && linkOfferedBirth(birth, selfTest)) {
        counters.renewed++;
        return [RENEW, key.hmac, key.aes];
      }
      return [ACCEPT, key.hmac, key.aes];
    } catch {
      counters.failures++;
      if (!encrypt) noteTicket(TICKET_FAILED);
      return encrypt ? noTicket() : refuse();
    }
  };
  return {
    callback,
    wipe() {
      wipeKey(key);
      births.clear();
    },
  };
}
