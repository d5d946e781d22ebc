/** TLS 1.2 session-ID sessions no store of the project has seen. */
import { constants } from 'node:crypto';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';

/**
 * `count` TLS 1.2 session-ID sessions made by a plain server of their own
 * with the given certificate and session ID context (by default the
 * deployment's default): offered to a
 * deployment, each is looked up and found nowhere.
 */
export async function foreignSessions(count: number, files: { cert: string; key: string }, sessionIdContext = 'tls-resumption'): Promise<Buffer[]> {
  const server = createTlsServer({ ...files, sessionTimeout: 300, sessionIdContext, secureOptions: constants.SSL_OP_NO_TICKET });
  server.on('newSession', (_id: Buffer, _session: Buffer, done: () => void) => done());
  server.on('secureConnection', (socket) => socket.end('{}\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      await new Promise<Buffer>((resolve, reject) => {
        const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET });
        let session: Buffer | undefined;
        socket.on('session', (s: Buffer) => (session = s));
        socket.on('error', reject);
        socket.resume();
        socket.on('close', () => (session ? resolve(session) : reject(new Error('no session'))));
      }),
    );
  }
  await new Promise((resolve) => server.close(resolve));
  return out;
}
