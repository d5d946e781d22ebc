/**
 * A real TLS client for the node:cluster tests: connects with Node's
 * `tls.connect`, offers a session, reads the fixture's JSON line and keeps
 * the newest session (for TLS 1.3, the ticket that follows the handshake).
 */
import { constants } from 'node:crypto';
import { connect, type SecureVersion } from 'node:tls';

export interface Greeting {
  pid: number;
  reused: boolean;
  protocol: string | null;
  argv: string[];
}

export interface Visit {
  greeting: Greeting;
  /** Whether the session was resumed, as the client and the server both saw it. */
  reused: boolean;
  session: Buffer | undefined;
  /** From connect() to the greeting, in ms. */
  ms: number;
}

export interface VisitOptions {
  port: number;
  version: SecureVersion;
  /** Offer no ticket (TLS 1.2 then resumes by session ID). */
  noTicket?: boolean;
  session?: Buffer;
  /** Give up after this many ms. @defaultValue 5000 */
  timeout?: number;
  /** Speak HTTP/1.1 (one GET, `Connection: close`) and read the JSON line of the response's body (examples/pm2/app.mjs). */
  http?: boolean;
}

export function visit(options: VisitOptions): Promise<Visit> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({
      host: '127.0.0.1',
      port: options.port,
      rejectUnauthorized: false,
      minVersion: options.version,
      maxVersion: options.version,
      session: options.session,
      secureOptions: options.noTicket ? constants.SSL_OP_NO_TICKET : 0,
    });
    let session = options.session;
    socket.on('session', (s: Buffer) => {
      session = s;
    });
    let secured = false;
    socket.setTimeout(options.timeout ?? 5000, () => socket.destroy(new Error(secured ? 'timed out after the handshake' : 'timed out in the handshake')));
    let text = '';
    let greeting: Greeting | undefined;
    let ms = 0;
    let reused = false;
    socket.once('secureConnect', () => {
      reused = socket.isSessionReused();
      secured = true;
      if (options.http) socket.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      text += chunk;
      // Over HTTP the JSON line is the body's, after the headers.
      const from = options.http ? text.indexOf('\r\n\r\n{') + 4 : 0;
      const line = text.indexOf('\n', from);
      if ((options.http && from < 4) || line < 0 || greeting) return;
      greeting = JSON.parse(text.slice(from, line)) as Greeting;
      ms = performance.now() - started;
    });
    socket.on('close', () => {
      if (greeting) resolve({ greeting, reused: reused && greeting.reused, session, ms });
      else reject(new Error('closed before the greeting'));
    });
  });
}

/** Reconnects `count` times, each offering the newest session; counts resumptions after the first. */
export async function reconnect(
  options: Omit<VisitOptions, 'session'>,
  count: number,
  between?: (i: number) => Promise<void>,
): Promise<{ ratio: number; reused: number; pids: Set<number>; visits: Visit[] }> {
  let session: Buffer | undefined;
  let reused = 0;
  const pids = new Set<number>();
  const visits: Visit[] = [];
  for (let i = 0; i <= count; i++) {
    if (between) await between(i);
    const v = await visit({ ...options, session });
    visits.push(v);
    if (i > 0 && v.reused) reused++;
    pids.add(v.greeting.pid);
    session = v.session;
  }
  return { ratio: reused / count, reused, pids, visits };
}
