/**
 * Attaches a {@link TicketKeyRing} to a TLS server, so that it encrypts
 * tickets with the ring's current key and decrypts them with any key of the
 * ring that still decrypts: a ticket issued by any thread resumes on any
 * other, under TLS 1.2 and TLS 1.3.
 *
 * Two ways, chosen when attaching:
 * - `callback`: Node's internal ticket key callback
 *   (`installTicketKeyCallback()` in `tls/node-internals.ts`), used when
 *   this Node has it and `node-capabilities.ts` found it working. Every key
 *   of the ring decrypts (what it answers: `ticket-callback.ts`).
 * - `fallback`: the public `server.setTicketKeys()`, which holds one key: the
 *   ring's current one, set again whenever the ring changes. A ticket under
 *   an older key then costs a full handshake. No renewal.
 *
 * Renewal and the absolute lifetime (callback mode): every ticket's IV seals
 * its session's birth, the time of the full handshake
 * (`ticket-birth.ts`). A TLS 1.3 resumption gets one fresh ticket carrying
 * that same birth (answer `2`, renew), so a client that uses each ticket
 * once, as browsers and curl do, keeps resuming; and every ticket, renewed
 * or not, TLS 1.2 or 1.3, is refused from `birth + timeout` on: no session
 * resumes later than `timeout` after its full handshake, however many
 * fresh tickets it went through. (Renewing with the current time instead
 * would let a session live forever: OpenSSL stamps a renewed TLS 1.3
 * ticket's session with the renewal time.) Node gives the callback no
 * socket; how a ticket is tied to its connection, and the checks that turn
 * renewal off should Node's order of callbacks ever differ, are in
 * `ticket-links.ts` and `renewal-self-test.ts`. Independently, a key
 * decrypts only `timeout` after it stopped encrypting.
 *
 * A client can send any bytes as a ticket. An unknown name is refused
 * with `refuseTicket()` (a full handshake), the one answer that never
 * aborts the process.
 *
 * A later `server.setSecureContext()` replaces the context and drops the
 * callback: attach again after it.
 *
 * @module
 */
import { Server as TlsServer } from 'node:tls';
import { InvalidOptionError } from '../errors.ts';
import { TicketKeyRing } from './key-ring.ts';
import { emptyTicketCounters, type TicketCounters } from './ticket-counters.ts';
import { ticketCallback } from './ticket-callback.ts';
import { hasTicketKeyCallback, installTicketKeyCallback, serverTlsOptions } from '../tls/node-internals.ts';
import { knownCapability } from '../tls/known-capabilities.ts';
import { bindSessionNames, bindsSessionNames } from '../tls/session-names.ts';
import { linkServer, onRenewalState, renewalState, setRenewalState } from './ticket-links.ts';
import { checkTlsServer } from '../tls/check-server.ts';
import { describe } from '../describe.ts';

/** How a server uses the ring. */
export type TicketKeyMode = 'callback' | 'fallback';


/** Options of {@link attachTicketKeys}. */
export interface AttachTicketKeysOptions {
  /**
   * `auto` uses the internal callback when present, else the fallback;
   * `fallback` forces the public single-key API (e.g. to test it).
   * @defaultValue `'auto'`
   */
  mode?: 'auto' | 'fallback';
  /**
   * In fallback mode, how often the ring's generation is checked for a new
   * key, in ms ({@link TicketKeyBinding.refresh} does it at once).
   * @defaultValue 1000
   */
  pollInterval?: number;
  /**
   * The object to count in, e.g. `SharedCounters.mirror()` to add the counts
   * to shared memory too; it becomes the binding's `counters`.
   * @defaultValue a new object, every counter at zero
   */
  counters?: TicketCounters;
  /**
   * Renew TLS 1.3 tickets on resumption, each fresh ticket carrying its
   * session's birth (callback mode only, and only with a known lifetime).
   * `false` accepts tickets without renewal; the lifetime is enforced
   * either way.
   * @defaultValue true
   */
  renew?: boolean;
  /**
   * A session's lifetime in whole seconds, counted from its full handshake:
   * tickets are refused from then on. Without it (and without a
   * `sessionTimeout` on the server) neither the birth check nor renewal
   * runs, and OpenSSL's own lifetime applies.
   * @defaultValue the server's `sessionTimeout`
   */
  timeout?: number;
  /** Milliseconds since the epoch, for births and their expiry (tests). @defaultValue `Date.now` */
  clock?: () => number;
  /**
   * Called once if this server stops renewing (its thread's self-test or a
   * check on live handshakes failed), with the reason; never with ticket
   * data. Tickets are then accepted without renewal.
   * @defaultValue none: only counted (`renewalOff`)
   */
  onRenewalOff?: (reason: string) => void;
}

/** A ring attached to a server. */
export interface TicketKeyBinding {
  readonly ring: TicketKeyRing;
  readonly mode: TicketKeyMode;
  readonly counters: Readonly<TicketCounters>;
  /**
   * Whether this server renews TLS 1.3 tickets now: callback mode, a known
   * lifetime, `renew` not false, and renewal on in its thread (the
   * self-test passed, no check failed).
   */
  readonly renewing: boolean;
  /**
   * Settles once this thread's renewal self-test has (at once for a binding
   * that does not renew): listen after it to renew from the first
   * connection. Never rejects.
   */
  readonly ready: Promise<void>;
  /** Fallback mode: sets the ring's current key now if it changed. No-op in callback mode. */
  refresh(): void;
  /** Stops using the ring (the server keeps the last key in fallback mode). */
  detach(): void;
}

const bindings = new WeakMap<TlsServer, TicketKeyBinding>();

/**
 * Whether `auto` uses the internal callback on `server`: this Node has it,
 * and the start-up check did not find it without effect.
 */
function usesTicketKeyCallback(server: TlsServer): boolean {
  return hasTicketKeyCallback(server) && knownCapability('ticket_key_callback') !== false;
}

/**
 * Makes `server` encrypt and decrypt session tickets through `ring`; see the
 * module's documentation.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) for a server
 * that is not a `tls.Server`, a ring that is not a {@link TicketKeyRing}, a
 * bad option, or a server that already has a ring.
 */
export function attachTicketKeys(
  server: TlsServer,
  ring: TicketKeyRing,
  options: AttachTicketKeysOptions = {},
): TicketKeyBinding {
  checkTlsServer(server);
  if (!(ring instanceof TicketKeyRing)) throw new InvalidOptionError('ring', `expected a TicketKeyRing, got ${describe(ring)}`);
  const { mode = 'auto', pollInterval = 1000, renew = true, timeout, clock = Date.now, onRenewalOff } = options;
  if (mode !== 'auto' && mode !== 'fallback') throw new InvalidOptionError('mode', `expected "auto" or "fallback", got ${describe(mode)}`);
  if (!Number.isInteger(pollInterval) || pollInterval < 1) {
    throw new InvalidOptionError('pollInterval', `expected whole milliseconds of at least 1, got ${describe(pollInterval)}`);
  }
  if (typeof renew !== 'boolean') throw new InvalidOptionError('renew', `expected true or false, got ${describe(renew)}`);
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1)) {
    throw new InvalidOptionError('timeout', `expected whole seconds of at least 1, got ${describe(timeout)}`);
  }
  if (typeof clock !== 'function') throw new InvalidOptionError('clock', 'expected a function returning milliseconds');
  if (onRenewalOff !== undefined && typeof onRenewalOff !== 'function') {
    throw new InvalidOptionError('onRenewalOff', `expected a function, got ${describe(onRenewalOff)}`);
  }
  if (bindings.has(server)) throw new InvalidOptionError('server', 'this server already has a ticket key ring attached');
  const counters: TicketCounters = options.counters ?? emptyTicketCounters();
  const serverTimeout = serverTlsOptions(server).sessionTimeout;
  const lifetime = timeout ?? (Number.isInteger(serverTimeout) && (serverTimeout as number) >= 1 ? (serverTimeout as number) : undefined);
  const callbackOptions = { lifetimeMs: lifetime === undefined ? undefined : lifetime * 1000, renew, clock, onRenewalOff };
  const binding =
    (mode === 'auto' && usesTicketKeyCallback(server) ? viaCallback(server, ring, counters, callbackOptions) : undefined) ??
    viaFallback(server, ring, counters, pollInterval);
  bindings.set(server, binding);
  return binding;
}

/** The ring attached to `server`, if any. */
export function ticketKeysOf(server: TlsServer): TicketKeyBinding | undefined {
  return bindings.get(server);
}


interface CallbackOptions {
  lifetimeMs: number | undefined;
  renew: boolean;
  clock: () => number;
  onRenewalOff: ((reason: string) => void) | undefined;
}

function viaCallback(server: TlsServer, ring: TicketKeyRing, counters: TicketCounters, options: CallbackOptions): TicketKeyBinding | undefined {
  const { lifetimeMs, clock, onRenewalOff } = options;
  const renew = options.renew && lifetimeMs !== undefined;
  // Tickets resume only under the name and authentication their session was made under (tls/session-names.ts), where this Node lets it.
  const bound = bindsSessionNames(server) || bindSessionNames(server, String(serverTlsOptions(server).sessionIdContext ?? ''));
  // Tied to their connections (ticket-links.ts) to renew them, and to seal each session's binding.
  const linked = renew || bound;
  const { callback, wipe } = ticketCallback({ ring, counters, lifetimeMs, renew, clock, linked, names: () => bindsSessionNames(server) });
  const installed = installTicketKeyCallback(server, callback);
  if (installed === undefined) {
    wipe();
    return undefined;
  }
  let unlink = (): void => {};
  let unsubscribe = (): void => {};
  let ready = Promise.resolve();
  if (linked) unlink = linkServer(server, clock);
  if (renew) {
    let off = false;
    const stopped = (reason: string | undefined): void => {
      if (off) return;
      off = true;
      counters.renewalOff++;
      try {
        onRenewalOff?.(reason ?? 'unknown');
      } catch {
        // A failing reporter must not break the ticket machinery.
      }
    };
    unsubscribe = onRenewalState((state, reason) => {
      if (state === 'off') stopped(reason);
    });
    // Off already: said once per server (counters carried over from an earlier attach have said it).
    if (renewalState().state === 'off' && counters.renewalOff === 0) stopped(renewalState().reason);
    // Loaded only where the self-test runs (the runtime's threads get its result from their primary).
    ready =
      renewalState().state === 'pending'
        ? import('./renewal-self-test.ts').then(
            (selfTest) => selfTest.renewalSelfTest(),
            () => setRenewalState('off', 'the self-test could not be loaded'),
          )
        : Promise.resolve();
  }
  const binding: TicketKeyBinding = {
    ring,
    mode: 'callback',
    counters,
    get renewing() {
      return renew && bindings.get(server) === binding && renewalState().state === 'on';
    },
    ready,
    refresh() {},
    detach() {
      if (bindings.get(server) !== binding) return;
      unlink();
      unsubscribe();
      // The callback stays enabled in OpenSSL; answer "no ticket, full handshake" from now on.
      installed.uninstall();
      wipe();
      bindings.delete(server);
    },
  };
  return binding;
}

function viaFallback(server: TlsServer, ring: TicketKeyRing, counters: TicketCounters, pollInterval: number): TicketKeyBinding {
  let generation = -1;
  const refresh = (): void => {
    const now = ring.generation;
    if (now === generation) return;
    const bytes = ring.currentKeyBytes();
    if (bytes === undefined) {
      counters.failures++;
      return;
    }
    try {
      server.setTicketKeys(bytes);
      generation = now;
      counters.keyUpdates++;
    } finally {
      bytes.fill(0);
    }
  };
  refresh();
  const timer = setInterval(refresh, pollInterval);
  timer.unref();
  const binding: TicketKeyBinding = {
    ring,
    mode: 'fallback',
    counters,
    renewing: false,
    ready: Promise.resolve(),
    refresh,
    detach() {
      if (bindings.get(server) !== binding) return;
      clearInterval(timer);
      bindings.delete(server);
    },
  };
  return binding;
}
