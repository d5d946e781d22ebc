/**
 * Answers a TLS server's `newSession` / `resumeSession` events from a session
 * store, usually the shared {@link SessionTable}, so that every thread
 * serving one port resumes every other thread's sessions.
 *
 * @module
 */
import { Server as TlsServer } from 'node:tls';
import { deprecate } from 'node:util';
import { InvalidOptionError, SessionHooksInUseError, SessionTimeoutMismatchError } from '../errors.ts';
import { endSessionsOnFatalAlert } from './fatal-alerts.ts';
import { checkTlsServer } from './check-server.ts';
import { serverTlsOptions } from './node-internals.ts';
import { knownCapability } from './known-capabilities.ts';
import { describe } from '../describe.ts';
import type { SessionTable } from '../table/session-table.ts';
import { hasOwnResumeListener, useSessionCache } from './session-listeners.ts';
import { noteLookup, type LookupMiss, type LookupOutcome } from './resumption-misses.ts';
import { askedBinding, bindSessionNames, bindsSessionNames, madeBinding } from './session-names.ts';
import { recordBinding, recordSession, sessionBornAt, sessionRecord } from './session-der.ts';

export type { LookupMiss } from './resumption-misses.ts';

/** What {@link SessionStore.lookUp} answers: the session, or why there is none. */
export type Lookup = Uint8Array | LookupMiss;

/**
 * What the hooks need of a store. {@link SessionTable} is one; a `Map`
 * behind this interface gives the per-thread cache this project replaces.
 */
export interface SessionStore {
  /** Lifetime of a stored session in whole seconds. */
  readonly timeout: number;
  /**
   * The session stored under `id`, or `undefined`. Must not block. May
   * answer asynchronously (a second level over IPC or the network): the
   * handshake then waits for the promise, so the store must settle it
   * within its own time bound; a rejection counts as a miss.
   */
  get(id: Uint8Array): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /**
   * Optional: {@link SessionStore.get} that says why it found nothing (a
   * {@link LookupMiss} string instead of `undefined`), under the same rules
   * (must not block; a promise settles within the store's bound and never
   * rejects). The hooks use it when present, to count why resumptions were
   * missed (`resumption_misses_total`); a store without it counts every
   * miss as `not_found`.
   */
  lookUp?(id: Uint8Array, target?: Buffer): Lookup | Promise<Lookup>;
  /**
   * Optional, with {@link SessionStore.lookUp}: the largest session the
   * store holds, in bytes. When set, the hooks give each lookup the same
   * buffer of that size as `target`, and the store may answer a view of it
   * (`target.subarray(0, length)`) instead of a copy of its own: Node parses
   * the session before the callback returns and keeps no reference to it,
   * so nothing is allocated per lookup ({@link SessionTable} does this).
   */
  readonly maxSessionSize?: number;
  /**
   * Stores a session; returns `false` (or throws) when it was refused. May
   * return a promise (of the same, never rejecting, settled within the
   * store's own bound) to hold the handshake until the session can be found
   * wherever the store reaches: Node sends nothing more of the handshake,
   * the server's Finished included, until the `newSession` callback is
   * called, so the client cannot offer the session anywhere before.
   */
  set(id: Uint8Array, session: Uint8Array): boolean | Promise<boolean>;
  /**
   * Removes a session wherever this store keeps it, for good: its
   * connection ended in a fatal alert. Must not block; may finish in the
   * background (another process, another host). Optional: a store without
   * it keeps such sessions.
   */
  delete?(id: Uint8Array): boolean | void;
}

/**
 * What the hooks of one server did, counted in the thread that runs it.
 * (The table's own counters in shared memory add up across threads.)
 */
export interface SessionHookCounters {
  /** Sessions the store accepted. */
  stored: number;
  /**
   * TLS 1.3 sessions not stored: Node never looks them up through
   * `resumeSession`, so storing them would only waste entries.
   */
  skippedTls13: number;
  /** Sessions the store refused (oversize, shard busy, ...); the handshake went on. */
  refused: number;
  /**
   * Lookups answered with a session (`resumption_lookups_total{method="session_id",result="hit"}`);
   * OpenSSL may still refuse it, so resumed handshakes are counted apart.
   * Named `resumed` before 0.2.
   */
  lookupHits: number;
  /** Lookups answered with nothing (a full handshake follows). */
  missed: number;
  /** TLS 1.2 sessions removed from the store because their connection ended in a fatal alert, sent or received. */
  endedByAlert: number;
  /**
   * @deprecated Use `lookupHits`, the same count; this name goes in 0.3
   * (warning `TLS_CACHE_DEP007`). Present, not enumerated, on the counters
   * this library makes.
   */
  readonly resumed?: number;
}

/** What a store error happened in: storing, looking up, or removing a session ended by a fatal alert. */
export type SessionHook = 'newSession' | 'resumeSession' | 'endSession';

/** Options of {@link attachSessionCache}. */
export interface AttachOptions {
  /**
   * Called with an error the store threw (the handshake goes on regardless).
   * Errors of this library never carry session data.
   * @defaultValue none: errors are only counted
   */
  onError?: (error: unknown, hook: SessionHook) => void;
  /**
   * The object to count in, e.g. `SharedCounters.mirror()` to add the counts
   * to shared memory too; it becomes the binding's `counters`.
   * @defaultValue a new object, every counter at zero
   */
  counters?: SessionHookCounters;
}

/** A store attached to a server. */
export interface SessionCacheBinding {
  /** The store answering this server's hooks. */
  readonly store: SessionStore;
  /** Live counters of this server's hooks; they only grow. */
  readonly counters: Readonly<SessionHookCounters>;
  /** Removes the hooks; later handshakes do not touch the store. */
  detach(): void;
}

/** Server options of {@link sessionCacheServerOptions}. */
export interface SessionCacheServerOptions {
  /** The TLS layer's session lifetime in seconds, equal to the store's. */
  sessionTimeout: number;
}

const bindings = new WeakMap<TlsServer, SessionCacheBinding>();

/**
 * The options a server must be created with to take a store, to spread into
 * `tls.createServer()`, `https.createServer()` or
 * `http2.createSecureServer()`: `{ sessionTimeout: store.timeout }`.
 */
export function sessionCacheServerOptions(store: SessionStore): SessionCacheServerOptions {
  return { sessionTimeout: store.timeout };
}

/**
 * Makes `server` (a `tls.Server`, so an `https.Server` or an HTTP/2 secure
 * server too) store its sessions in `store` and resume them from it. Both
 * hooks answer synchronously and always call Node back, so a store that
 * refuses or throws costs a full handshake, never a failed one.
 *
 * What is stored: TLS 1.2 (and older) session-ID sessions. TLS 1.3 sessions
 * are recognised by the version in their DER encoding and counted in
 * `skippedTls13`, not stored: Node only asks `resumeSession` with the
 * ClientHello's legacy session id, which a TLS 1.3 client fills with random
 * bytes. Note that a TLS 1.2 client offering a session ticket does not reach
 * these hooks at all (measured on Node 24: no `newSession` with tickets
 * enabled); create the server with `secureOptions: SSL_OP_NO_TICKET` to have
 * every TLS 1.2 session go through the store.
 *
 * A TLS 1.2 session whose connection ends in a fatal alert, sent or
 * received, is removed with `store.delete()` (RFC 5246 §7.2.2; see
 * `fatal-alerts.ts`); a clean close or a dropped connection keeps it.
 *
 * The hooks are the library's one pair of listeners (`session-listeners.ts`),
 * which the ticket links share: that is how a server sharing a ticket key
 * ring renews TLS 1.3 tickets (see `attachTicketKeys`).
 *
 * One lifetime: the TLS layer stamps each session with the server's
 * `sessionTimeout` and refuses to resume it after that, while the store drops
 * it after `store.timeout`. Node exposes the first only as
 * `server.sessionTimeout` (set from the creation options or
 * `setSecureContext()`), and can change it only through `setSecureContext()`
 * with the whole certificate configuration again, so this function does not
 * fix a server: it refuses one whose `sessionTimeout` is not exactly
 * `store.timeout`. A server created without `sessionTimeout` is refused too,
 * since OpenSSL then stamps sessions with its own default (7200 s measured on
 * Node 24, not the 300 s Node documents). Create servers with
 * {@link sessionCacheServerOptions}, and keep the same `sessionTimeout` in any
 * later `setSecureContext()` call.
 *
 * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`) when the server's `sessionTimeout` is not `store.timeout`.
 * @throws SessionHooksInUseError (`ERR_TLS_CACHE_HOOKS_IN_USE`) when the server already has a cache attached or its own `resumeSession` listener (Node destroys a connection whose lookup is answered twice).
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`) when `server` is not a `tls.Server` or `store` lacks `get`/`set`/`timeout`.
 */
export function attachSessionCache(
  server: TlsServer,
  store: SessionStore,
  options: AttachOptions = {},
): SessionCacheBinding {
  checkTlsServer(server);
  checkStore(store);
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== 'function') {
    throw new InvalidOptionError('onError', `expected a function, got ${describe(onError)}`);
  }
  if (bindings.has(server)) {
    throw new SessionHooksInUseError('This server already has a session cache attached; detach it first');
  }
  if (hasOwnResumeListener(server)) {
    throw new SessionHooksInUseError(
      'This server already has a resumeSession listener; a second one would answer the same lookup twice, and Node destroys such connections',
    );
  }
  checkSessionTimeout(server, store.timeout);
  // Sessions resume only under the name and authentication they were made under (session-names.ts), where this Node lets it.
  const names = bindsSessionNames(server) || bindSessionNames(server, String(serverTlsOptions(server).sessionIdContext ?? ''));

  const counters: SessionHookCounters = options.counters === undefined ? emptySessionHookCounters() : withNewHookCounterName(options.counters);

  const stored = (kept: boolean): void => {
    if (kept) counters.stored++;
    else counters.refused++;
  };
  const keep = (id: Buffer, session: Buffer, connection: object, done: () => void): void => {
    try {
      // Bound to its name and authentication (session-names.ts), unless this server's sessions cannot be.
      const made = names ? madeBinding(connection) : undefined;
      if (names && made === undefined) {
        counters.refused++;
        done();
        return;
      }
      const kept = store.set(id, made === undefined ? session : sessionRecord(made, session));
      if (kept instanceof Promise) {
        kept.then(stored, (error: unknown) => {
          counters.refused++;
          report(onError, error, 'newSession');
        }).finally(done);
        return;
      }
      stored(kept);
    } catch (error) {
      counters.refused++;
      report(onError, error, 'newSession');
    }
    done();
  };

  // A store that says its largest session copies each one into this one buffer (SessionStore.maxSessionSize).
  const size = store.maxSessionSize;
  const target = typeof store.lookUp === 'function' && Number.isInteger(size) && (size as number) > 0 ? Buffer.allocUnsafeSlow(size as number) : undefined;
  const lookUp = (id: Buffer): Lookup | undefined | Promise<Lookup | undefined> =>
    typeof store.lookUp === 'function' ? store.lookUp(id, target) : store.get(id);

  const resume = (id: Buffer, wrap: object, done: (session: Buffer | null) => void): void => {
    const answer = (found: Lookup | undefined): void => {
      let session = found instanceof Uint8Array ? found : undefined;
      let miss: LookupOutcome = typeof found === 'string' ? found : 'not_found';
      if (session !== undefined && names && !boundTo(session, askedBinding(wrap))) {
        session = undefined;
        miss = 'name_mismatch';
      }
      if (session === undefined) counters.missed++;
      else counters.lookupHits++;
      // What the lookup found is noted on the connection (resumption-misses.ts).
      noteLookup(wrap, session !== undefined ? undefined : miss, session === undefined ? undefined : sessionBornAt(session));
      done(session === undefined ? null : toBuffer(recordSession(session)));
    };
    let found: ReturnType<typeof lookUp>;
    try {
      found = lookUp(id);
    } catch (error) {
      report(onError, error, 'resumeSession');
      found = 'error';
    }
    if (!(found instanceof Promise)) {
      answer(found);
      return;
    }
    // Node waits for the callback; the store bounds how long. Called back exactly once.
    found.then(answer, (error: unknown) => {
      report(onError, error, 'resumeSession');
      answer('error');
    });
  };

  const endSession = (id: Buffer): void => {
    counters.endedByAlert++;
    try {
      store.delete!(id);
    } catch (error) {
      report(onError, error, 'endSession');
    }
  };
  const stopWatching = typeof store.delete === 'function' ? endSessionsOnFatalAlert(server, endSession) : () => {};

  // The library's one pair of listeners (session-listeners.ts) answers from this store now.
  useSessionCache(server, { resume, store: keep, skipped: () => void counters.skippedTls13++ });
  const binding: SessionCacheBinding = {
    store,
    counters,
    detach() {
      if (bindings.get(server) !== binding) return;
      useSessionCache(server, undefined);
      stopWatching();
      bindings.delete(server);
    },
  };
  bindings.set(server, binding);
  return binding;
}

/** The binding of the cache attached to `server`, if any. */
export function sessionCacheOf(server: TlsServer): SessionCacheBinding | undefined {
  return bindings.get(server);
}

/** Sums counters, e.g. of every server in a thread or every thread. */
export function addSessionHookCounters(
  total: SessionHookCounters,
  more: Readonly<SessionHookCounters>,
): SessionHookCounters {
  total.stored += more.stored;
  total.skippedTls13 += more.skippedTls13;
  total.refused += more.refused;
  total.lookupHits += more.lookupHits;
  total.missed += more.missed;
  total.endedByAlert += more.endedByAlert;
  return total;
}

/** Counters all at zero. */
export function emptySessionHookCounters(): SessionHookCounters {
  return withOldHookCounterName({ stored: 0, skippedTls13: 0, refused: 0, lookupHits: 0, missed: 0, endedByAlert: 0 });
}

/** The first use of `resumed`, the name of `lookupHits` before 0.2, in a process: a `DeprecationWarning`. */
const warnOfResumed = deprecate(
  () => {},
  'the counter name resumed is deprecated and goes in 0.3: use lookupHits, the same counter under its new name',
  'TLS_CACHE_DEP007',
);

/**
 * Gives counters this library makes their old name `resumed` too, until
 * 0.3: read-only, not enumerated (not logged, not copied), and warning at
 * its first read.
 */
export function withOldHookCounterName<T extends SessionHookCounters>(counters: T): T {
  return Object.defineProperty(counters, 'resumed', {
    configurable: true,
    enumerable: false,
    get: () => {
      warnOfResumed();
      return counters.lookupHits;
    },
  });
}

/** Counters an application made for 0.1, with `resumed` and no `lookupHits`: `lookupHits` counts in `resumed`, warning. */
function withNewHookCounterName(counters: SessionHookCounters): SessionHookCounters {
  const old = counters as unknown as { resumed?: unknown };
  if (typeof counters.lookupHits === 'number' || typeof old.resumed !== 'number') return counters;
  warnOfResumed();
  return Object.defineProperty(counters, 'lookupHits', {
    configurable: true,
    enumerable: false,
    get: () => old.resumed as number,
    set: (value: number) => {
      old.resumed = value;
    },
  });
}

function checkStore(store: SessionStore): void {
  if (
    store === null ||
    typeof store !== 'object' ||
    typeof store.get !== 'function' ||
    typeof store.set !== 'function'
  ) {
    throw new InvalidOptionError('store', `expected a SessionTable or an object with get() and set(), got ${describe(store)}`);
  }
  if (!Number.isInteger(store.timeout) || store.timeout < 1) {
    throw new InvalidOptionError('store', `expected store.timeout to be whole seconds, got ${describe(store.timeout)}`);
  }
}

/**
 * Refuses a server whose `sessionTimeout` is not `expected` (see
 * {@link attachSessionCache}); `fix` says how to create it instead.
 * Skipped, with the start-up report saying so, on a Node that no longer
 * keeps the option where it used to.
 * @throws SessionTimeoutMismatchError (`ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH`)
 */
export function checkSessionTimeout(
  server: TlsServer,
  expected: number,
  fix = `create the server with { sessionTimeout: ${expected} } (spread sessionCacheServerOptions(table) into its options)`,
): void {
  if (knownCapability('server_options') === false) return;
  const serverTimeout = serverTlsOptions(server).sessionTimeout;
  if (serverTimeout === expected) return;
  if (serverTimeout === undefined) {
    throw new SessionTimeoutMismatchError(
      undefined,
      expected,
      `The server has no sessionTimeout, so OpenSSL stamps its sessions with its own default lifetime while the table keeps them ${expected} s; ${fix}`,
    );
  }
  const shown = typeof serverTimeout === 'number' ? `${serverTimeout} s` : describe(serverTimeout);
  throw new SessionTimeoutMismatchError(
    typeof serverTimeout === 'number' ? serverTimeout : undefined,
    expected,
    `The server's sessionTimeout (${shown}) differs from the table's timeout (${expected} s); ${fix}, or create the table with the server's timeout`,
  );
}

function report(onError: AttachOptions['onError'], error: unknown, hook: SessionHook): void {
  if (onError === undefined) return;
  try {
    onError(error, hook);
  } catch {
    // A failing error reporter must not break the handshake either.
  }
}

/** Whether a stored session was made under `asked` (`undefined`: this connection's server does not bind names). */
function boundTo(stored: Uint8Array, asked: Buffer | null | undefined): boolean {
  if (asked === undefined) return true;
  const bound = recordBinding(stored);
  return asked !== null && bound !== undefined && asked.equals(bound);
}

function toBuffer(session: Uint8Array): Buffer {
  return Buffer.isBuffer(session) ? session : Buffer.from(session.buffer, session.byteOffset, session.byteLength);
}
