/**
 * Attaches a {@link TicketKeyRing} to a TLS server, so that it encrypts
 * tickets with the ring's current key and decrypts them with any key of the
 * ring that still decrypts: a ticket issued by any thread resumes on any
 * other, under TLS 1.2 and TLS 1.3.
 *
 * Two ways, chosen when attaching:
 * - `callback`: Node's internal ticket key callback
 *   (`server._sharedCreds.context.enableTicketKeyCallback()` and
 *   `onticketkeycallback`), feature-detected. Every key of the ring decrypts.
 * - `fallback`: the public `server.setTicketKeys()`, which holds one key: the
 *   ring's current one, set again whenever the ring changes. A ticket under
 *   an older key then costs a full handshake.
 *
 * Absolute lifetime: a ticket is accepted with `1` ("accept, do not renew"),
 * never `2`. Measured on Node 24 (OpenSSL 3.5): under TLS 1.3 a resumption
 * answered `1` issues no new ticket, so the client keeps the ticket of its
 * full handshake, which carries that handshake's time, and OpenSSL refuses
 * it `sessionTimeout` after it; answering `2` issues a new ticket stamped
 * with the current time, so a session could live forever. Independently,
 * a key decrypts only `timeout` after it stopped encrypting.
 *
 * A client can send any bytes as a ticket. An unknown name is answered
 * `[0, zeros, zeros]` (full handshake); never `[0]`, which aborts the
 * process (a native assertion in Node).
 *
 * A later `server.setSecureContext()` replaces the context and drops the
 * callback: attach again after it.
 *
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { Server as TlsServer } from 'node:tls';
import { InvalidOptionError } from '../errors.ts';
import { TicketKeyRing } from './key-ring.ts';
import { wipeKey, type TicketKey } from './ticket-key.ts';
import { describe } from '../describe.ts';

/** How a server uses the ring. */
export type TicketKeyMode = 'callback' | 'fallback';

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
}

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
}

/** A ring attached to a server. */
export interface TicketKeyBinding {
  readonly ring: TicketKeyRing;
  readonly mode: TicketKeyMode;
  readonly counters: Readonly<TicketCounters>;
  /** Fallback mode: sets the ring's current key now if it changed. No-op in callback mode. */
  refresh(): void;
  /** Stops using the ring (the server keeps the last key in fallback mode). */
  detach(): void;
}

interface TicketKeyContext {
  enableTicketKeyCallback(): void;
  onticketkeycallback: ((name: Buffer, iv: Buffer, encrypt: boolean) => unknown[]) | undefined;
}

const NONE = 0;
const ACCEPT = 1;
const bindings = new WeakMap<TlsServer, TicketKeyBinding>();

/** The server's internal context when it offers the ticket key callback. */
function ticketKeyContext(server: TlsServer): TicketKeyContext | undefined {
  const context = (server as { _sharedCreds?: { context?: unknown } })._sharedCreds?.context as
    | Partial<TicketKeyContext>
    | undefined;
  return context !== null && typeof context === 'object' && typeof context.enableTicketKeyCallback === 'function'
    ? (context as TicketKeyContext)
    : undefined;
}

/** Whether this Node offers the internal ticket key callback on `server`. */
export function hasTicketKeyCallback(server: TlsServer): boolean {
  return ticketKeyContext(server) !== undefined;
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
  if (!(server instanceof TlsServer)) {
    throw new InvalidOptionError('server', `expected a tls.Server (https and http2 secure servers are ones), got ${describe(server)}`);
  }
  if (!(ring instanceof TicketKeyRing)) throw new InvalidOptionError('ring', `expected a TicketKeyRing, got ${describe(ring)}`);
  const { mode = 'auto', pollInterval = 1000 } = options;
  if (mode !== 'auto' && mode !== 'fallback') throw new InvalidOptionError('mode', `expected "auto" or "fallback", got ${describe(mode)}`);
  if (!Number.isInteger(pollInterval) || pollInterval < 1) {
    throw new InvalidOptionError('pollInterval', `expected whole milliseconds of at least 1, got ${describe(pollInterval)}`);
  }
  if (bindings.has(server)) throw new InvalidOptionError('server', 'this server already has a ticket key ring attached');
  const context = mode === 'auto' ? ticketKeyContext(server) : undefined;
  const counters: TicketCounters = options.counters ?? { issued: 0, decrypted: 0, unknownKey: 0, failures: 0, keyUpdates: 0 };
  const binding = context ? viaCallback(server, context, ring, counters) : viaFallback(server, ring, counters, pollInterval);
  bindings.set(server, binding);
  return binding;
}

/** The ring attached to `server`, if any. */
export function ticketKeysOf(server: TlsServer): TicketKeyBinding | undefined {
  return bindings.get(server);
}

function viaCallback(server: TlsServer, context: TicketKeyContext, ring: TicketKeyRing, counters: TicketCounters): TicketKeyBinding {
  // Scratch buffers: Node copies the secrets into OpenSSL before the callback's caller returns.
  const key: TicketKey = { name: Buffer.alloc(16), hmac: Buffer.alloc(16), aes: Buffer.alloc(16) };
  const iv = Buffer.alloc(16);
  const zeros = Buffer.alloc(16);
  const refuse = (): unknown[] => [NONE, zeros, zeros];
  const callback = (name: Buffer, _iv: Buffer, encrypt: boolean): unknown[] => {
    try {
      if (encrypt) {
        if (ring.encryptionKey(key) === undefined) {
          counters.failures++;
          // 0 when encrypting: no ticket this time (never a failed handshake).
          return [NONE, zeros, zeros, zeros, zeros];
        }
        counters.issued++;
        return [ACCEPT, key.hmac, key.aes, key.name, randomFillSync(iv)];
      }
      if (ring.decryptionKey(name, key) === undefined) {
        counters.unknownKey++;
        return refuse();
      }
      counters.decrypted++;
      // ACCEPT (1), never renew (2): renewing restarts a TLS 1.3 session's clock.
      return [ACCEPT, key.hmac, key.aes];
    } catch {
      counters.failures++;
      return encrypt ? [NONE, zeros, zeros, zeros, zeros] : refuse();
    }
  };
  context.enableTicketKeyCallback();
  context.onticketkeycallback = callback;
  const binding: TicketKeyBinding = {
    ring,
    mode: 'callback',
    counters,
    refresh() {},
    detach() {
      if (bindings.get(server) !== binding) return;
      // The callback stays enabled in OpenSSL; answer "no ticket, full handshake" from now on.
      context.onticketkeycallback = (_name, _iv, encrypt) => (encrypt ? [NONE, zeros, zeros, zeros, zeros] : refuse());
      wipeKey(key);
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
    refresh,
    detach() {
      if (bindings.get(server) !== binding) return;
      clearInterval(timer);
      bindings.delete(server);
    },
  };
  return binding;
}
