/**
 * Clients of the multi-host tests: each returns to the hosts in turn with
 * its newest session, so every resumption after the first visit is on
 * another host than the one before. {@link alternate} runs them one after
 * another (exact counts); {@link loadClients} runs several at once for a
 * while, timing every handshake (failover tests).
 */
import { constants } from 'node:crypto';
import { connect, type SecureVersion } from 'node:tls';
import { visitTls } from '../fixtures/clients.ts';

/** What {@link alternate} saw. */
export interface Alternation {
  /** Visits that offered a session. */
  offered: number;
  /** Of those, resumed. */
  resumed: number;
  /** Each client's newest session. */
  sessions: Array<Buffer | undefined>;
}

/**
 * `sessions.length` clients, one after another, each visiting `returns + 1`
 * times, host `(first(client) + i) % ports.length` on visit i, offering its
 * newest session (`sessions[client]` to start with: `undefined` for a full
 * handshake first). TLS 1.2 clients offer no ticket (they resume by session
 * ID); TLS 1.3 ones resume by ticket.
 */
export async function alternate(
  ports: readonly number[],
  version: SecureVersion,
  sessions: Array<Buffer | undefined>,
  returns: number,
  first: (client: number) => number = (client) => client % ports.length,
): Promise<Alternation> {
  let offered = 0;
  let resumed = 0;
  for (let client = 0; client < sessions.length; client++) {
    for (let i = 0; i <= returns; i++) {
      const session = sessions[client];
      const visit = await visitTls({ port: ports[(first(client) + i) % ports.length], session, maxVersion: version, noTicket: version === 'TLSv1.2' });
      if (session !== undefined) {
        offered++;
        if (visit.reused) resumed++;
      }
      sessions[client] = visit.session;
    }
  }
  return { offered, resumed, sessions };
}

/** One handshake of {@link loadClients}. */
export interface Handshake {
  /** When it ended (ms since the epoch). */
  at: number;
  ok: boolean;
  offered: boolean;
  reused: boolean;
  /** How long the connection took, handshake and greeting. */
  ms: number;
  version: SecureVersion;
  error?: string;
}

/** One connection: handshake (timed), read the greeting, close; resolves with the newest session, never rejects. */
export function handshake(port: number, session: Buffer | undefined, version: SecureVersion): Promise<Handshake & { session: Buffer | undefined }> {
  return new Promise((resolve) => {
    const started = performance.now();
    let latest = session;
    let result: Handshake | undefined;
    const socket = connect({
      host: '127.0.0.1',
      port,
      session,
      rejectUnauthorized: false,
      minVersion: version,
      maxVersion: version,
      // TLS 1.2 clients offer no ticket: they resume by session ID, through the hooks and Redis.
      secureOptions: version === 'TLSv1.2' ? constants.SSL_OP_NO_TICKET : 0,
    });
    const finish = (error?: Error): void => {
      result ??= { at: Date.now(), ok: false, offered: session !== undefined, reused: false, ms: performance.now() - started, version };
      if (error) {
        result.ok = false;
        result.error = error.message;
      }
      resolve({ ...result, session: latest });
    };
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
    socket.on('session', (s: Buffer) => (latest = s));
    socket.once('secureConnect', () => {
      result = { at: Date.now(), ok: false, offered: session !== undefined, reused: socket.isSessionReused(), ms: performance.now() - started, version };
    });
    socket.on('data', () => {
      if (result) result.ok = true;
      socket.end();
    });
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish());
  });
}

/**
 * `clients` clients at once, half TLS 1.2 by session ID, half TLS 1.3 by
 * ticket, each visiting the hosts in turn and starting afresh every fourth
 * visit (so new sessions keep having to cross hosts), until `stop()`;
 * `results` holds every handshake so far.
 */
export function loadClients(ports: readonly number[], clients: number): { results: Handshake[]; stop(): Promise<void> } {
  const results: Handshake[] = [];
  let running = true;
  const loop = async (client: number): Promise<void> => {
    const version: SecureVersion = client % 2 === 0 ? 'TLSv1.2' : 'TLSv1.3';
    let session: Buffer | undefined;
    for (let i = client; running; i++) {
      if (i % 4 === 0) session = undefined;
      const { session: next, ...result } = await handshake(ports[i % ports.length], session, version);
      results.push(result);
      session = result.ok ? next : undefined;
    }
  };
  const loops = Array.from({ length: clients }, (_, client) => loop(client));
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Resumed share of the handshakes that offered a session. */
export function resumedRatio(results: readonly Handshake[]): number {
  return results.filter((r) => r.reused).length / Math.max(1, results.filter((r) => r.offered).length);
}
