/**
 * Clients for the fatal-alert tests: one connection that offers a session
 * and ends a given way (a clean close, a dropped connection, or a record
 * corrupted by `corrupting-proxy.ts`), and the offer of a session to a
 * server many times, counting resumptions and the servers seen.
 */
import { constants } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import { connect, type SecureVersion } from 'node:tls';

/** How a connection ends: close_notify, a FIN without it, a reset, or whatever the corrupted record causes. */
export type Ending = 'clean' | 'fin' | 'reset' | 'corrupted';

export interface Ended {
  /** Whether the handshake completed and resumed. */
  reused: boolean;
  /** The error the client saw, by code (a corrupted record: an SSL error on one side or the other). */
  error: string | undefined;
  /** The newest session (for a full handshake, the one to offer next). */
  session: Buffer | undefined;
  /** The server's first line (the fixtures say who served), if it arrived intact. */
  greeting: string | undefined;
}

/**
 * One TLS connection to `port` offering `session` (no ticket: TLS 1.2
 * resumes by session ID): after the handshake it writes a line (the record
 * `client-data` corrupts), waits for the server's first line (the record
 * `server-data` corrupts), then ends as `ending` says.
 */
export function endConnection(port: number, session: Buffer | undefined, ending: Ending, maxVersion: SecureVersion = 'TLSv1.2'): Promise<Ended> {
  return new Promise((resolve) => {
    // Over a TCP socket of its own, so that it can be reset.
    const tcp = connectTcp(port, '127.0.0.1');
    tcp.on('error', () => {});
    const socket = connect({ socket: tcp, host: '127.0.0.1', rejectUnauthorized: false, session, maxVersion, secureOptions: constants.SSL_OP_NO_TICKET });
    let newest = session;
    let reused = false;
    let error: string | undefined;
    let greeting: string | undefined;
    socket.on('session', (s: Buffer) => (newest = s));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
      // After the alert OpenSSL wrote, as a client closes: the server reads the alert, then the end.
      tcp.end();
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('timed out')));
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      socket.write('hello from the client\n');
    });
    socket.once('data', (chunk: Buffer) => {
      greeting = chunk.toString().split('\n')[0];
      if (ending === 'clean' || ending === 'corrupted') socket.end();
      else if (ending === 'fin') socket.destroy();
      else tcp.resetAndDestroy();
    });
    socket.resume();
    socket.on('close', () => {
      tcp.destroy();
      resolve({ reused, error, session: newest, greeting });
    });
  });
}

/** Offers `session` `times` times (each a new connection, closed cleanly); returns how many resumed and who served. */
export async function offer<T>(
  times: number,
  visit: (session: Buffer) => Promise<{ reused: boolean; servedBy: T }>,
  session: Buffer,
): Promise<{ resumed: number; servers: Set<T> }> {
  let resumed = 0;
  const servers = new Set<T>();
  for (let i = 0; i < times; i++) {
    const { reused, servedBy } = await visit(session);
    if (reused) resumed++;
    servers.add(servedBy);
  }
  return { resumed, servers };
}
