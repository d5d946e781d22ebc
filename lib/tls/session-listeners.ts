/**
 * The one pair of `resumeSession` / `newSession` listeners this library puts
 * on a server, whoever needs them: the session cache (`session-hooks.ts`:
 * TLS 1.2 sessions looked up and stored) and the ticket links
 * (`tickets/ticket-links.ts`: which connection a TLS 1.3 ticket belongs
 * to, for renewal and names). Each says what it does through
 * {@link useSessionCache} and {@link useTicketLinks}; the pair is on the
 * server while either is, and off when neither is.
 *
 * Why a listener at all without a cache: Node parses a ClientHello (and
 * hands it to OpenSSL through the method `node-internals.ts` follows) only
 * while a `resumeSession` listener is attached, and it runs `newSession`
 * in the scope of the connection whose ticket OpenSSL just encrypted.
 *
 * Node answers each lookup once: an application's own `resumeSession`
 * listener beside this one answers instead (the cache refuses to attach
 * beside one: `SessionHooksInUseError`). Each answer to Node runs with its
 * connection as `clientHelloConnection()` (OpenSSL reads the ClientHello
 * and decrypts its ticket inside it), and inside the ticket links'
 * `around`.
 *
 * @module
 */
import type { Server as TlsServer } from 'node:tls';
import { currentConnection, readingClientHelloOf, type Connection } from './node-internals.ts';
import { isTls13Session } from './session-der.ts';

/** What the session cache does through the listeners. */
export interface SessionCacheHooks {
  /** Looks a TLS 1.2 session ID up for `connection`, calling `answer` once (now or later) with the session or `null`. */
  resume(id: Buffer, connection: Connection, answer: (session: Buffer | null) => void): void;
  /** Keeps a TLS 1.2 session `connection` made, calling `done` once (now or later: Node holds the handshake until then). */
  store(id: Buffer, session: Buffer, connection: Connection, done: () => void): void;
  /** Told of each TLS 1.3 session (one per ticket), which it does not keep. */
  skipped(): void;
}

/** What the ticket links do through the listeners. */
export interface TicketLinkHooks {
  /** Runs `answer` (an answer to Node, inside which OpenSSL reads a ClientHello) as the links need. */
  around(answer: () => void): void;
  /** Told of each TLS 1.3 session (one per ticket), in the scope of its connection, of `server`. */
  issued(server: TlsServer): void;
}

interface Parts {
  cache?: SessionCacheHooks;
  tickets?: TicketLinkHooks;
  onResume: (id: Buffer, done: (error: Error | null, session: Buffer | null) => void) => void;
  onNew: (id: Buffer, session: Buffer, done: () => void) => void;
}

const servers = new WeakMap<TlsServer, Parts>();
const ours = new WeakSet<object>();

/** Makes the server's lookups and sessions go to `hooks` (`undefined`: no longer). */
export function useSessionCache(server: TlsServer, hooks: SessionCacheHooks | undefined): void {
  update(server, (parts) => (parts.cache = hooks));
}

/** Makes the server's answers and TLS 1.3 sessions go through `hooks` too (`undefined`: no longer). */
export function useTicketLinks(server: TlsServer, hooks: TicketLinkHooks | undefined): void {
  update(server, (parts) => (parts.tickets = hooks));
}

/** Whether `server` has a `resumeSession` listener that is not this library's (an application's own). */
export function hasOwnResumeListener(server: TlsServer): boolean {
  return server.listeners('resumeSession').some((listener) => !ours.has(listener));
}

function update(server: TlsServer, change: (parts: Parts) => void): void {
  let parts = servers.get(server);
  if (parts === undefined) {
    parts = listenersFor(server);
    servers.set(server, parts);
  }
  const wasOn = parts.cache !== undefined || parts.tickets !== undefined;
  change(parts);
  const isOn = parts.cache !== undefined || parts.tickets !== undefined;
  if (isOn && !wasOn) {
    server.on('resumeSession', parts.onResume);
    server.on('newSession', parts.onNew);
  } else if (!isOn && wasOn) {
    server.off('resumeSession', parts.onResume);
    server.off('newSession', parts.onNew);
  }
}

function listenersFor(server: TlsServer): Parts {
  const parts: Parts = {
    onResume(id, done) {
      const { cache, tickets } = parts;
      // An application's own listener answers (only beside the ticket links: the cache refuses to attach beside one).
      if (cache === undefined && server.listenerCount('resumeSession') > 1) return;
      // The connection's handle: Node runs this listener in its scope.
      const connection = currentConnection();
      const answer = (session: Buffer | null): void => {
        const reply = (): void => readingClientHelloOf(connection, () => done(null, session));
        if (tickets === undefined) reply();
        else tickets.around(reply);
      };
      if (cache === undefined) answer(null);
      else cache.resume(id, connection, answer);
    },
    onNew(id, session, done) {
      const { cache, tickets } = parts;
      if (isTls13Session(session)) {
        cache?.skipped();
        tickets?.issued(server);
        // Without the cache, an application's own newSession listener calls done() itself.
        if (cache !== undefined || server.listenerCount('newSession') === 1) done();
        return;
      }
      if (cache !== undefined) cache.store(id, session, currentConnection(), done);
      else if (server.listenerCount('newSession') === 1) done();
    },
  };
  ours.add(parts.onResume);
  ours.add(parts.onNew);
  return parts;
}
