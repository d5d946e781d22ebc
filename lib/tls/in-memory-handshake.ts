/**
 * One TLS connection in memory (a `duplexPair`, no port), for the start-up
 * checks' private servers (`node-capabilities.ts`,
 * `tickets/renewal-self-test.ts`): the client offers `session`; the server
 * writes a byte on the turn after its handshake, after its tickets (OpenSSL
 * encrypts them right after the handshake ends), so every ticket has
 * arrived when the byte does.
 *
 * @module
 */
import { duplexPair } from 'node:stream';
import { connect, type Server as TlsServer, type TLSSocket } from 'node:tls';

/** What one in-memory connection saw. */
export interface InMemoryVisit {
  /** Whether the client's session was resumed. */
  reused: boolean;
  /** The tickets (client sessions) it received, in order. */
  tickets: Buffer[];
  /** The server's side of the connection. */
  server: TLSSocket;
}

/** Connects to `server` in memory with the given protocol version, session and server name. */
export function visitInMemory(server: TlsServer, options: { session?: Buffer; version: 'TLSv1.2' | 'TLSv1.3'; servername?: string }): Promise<InMemoryVisit> {
  return new Promise((resolve, reject) => {
    const [serverSide, clientSide] = duplexPair();
    let accepted: TLSSocket | undefined;
    const onSecure = (socket: TLSSocket): void => {
      accepted = socket;
      socket.on('error', () => {});
      setImmediate(() => socket.write('.'));
    };
    server.once('secureConnection', onSecure);
    server.emit('connection', serverSide);
    const client = connect({ socket: clientSide, rejectUnauthorized: false, minVersion: options.version, maxVersion: options.version, session: options.session, servername: options.servername });
    const tickets: Buffer[] = [];
    client.on('session', (ticket: Buffer) => tickets.push(ticket));
    client.on('error', reject);
    client.once('data', () => {
      resolve({ reused: client.isSessionReused(), tickets, server: accepted! });
      client.destroy();
      serverSide.destroy();
    });
  });
}
