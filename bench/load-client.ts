/**
 * The load benchmark's client: a piscina task that runs `connections`
 * connection loops in this thread, each a returning client that handshakes,
 * keeps the session it was given, closes, and starts again, offering that
 * session with probability `returning`. With `tls13-once` a client uses
 * each TLS 1.3 ticket once, as browsers and curl do (RFC 8446 appendix
 * C.4): it keeps every ticket it receives (up to {@link MAX_UNUSED_TICKETS}),
 * offers the newest unused one and drops it; once it has none left, its
 * next handshake is a full one. Each of its connections ends with
 * close_notify both ways, so every ticket the server sent has arrived
 * before the next connection. With `requests` (`--requests N`), each
 * connection sends N small HTTP/1.1 GET requests one after another after its
 * handshake, each timed from writing it to reading its whole response.
 *
 * The main thread steers every task through a shared control block: a
 * handshake is counted (and its latency recorded) when it completes while
 * the phase is `MEASURING`; warm-up handshakes only make sessions. Shared
 * counters feed the progress bar; the task's own counts and HdrHistograms
 * (encoded, to merge in the main thread) are its result.
 *
 * @module
 */
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { threadId } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import type { Protocol } from './lib/load-args.ts';

/** Indexes of the control block (an Int32Array over a SharedArrayBuffer). */
export const Control = {
  PHASE: 0,
  /** Handshakes completed in the measured window, all client threads together. */
  DONE: 1,
  RESUMED: 2,
  OFFERED: 3,
  ERRORS: 4,
  SIZE: 5,
} as const;
export const Phase = { WARMUP: 0, MEASURING: 1, STOP: 2 } as const;

export interface ClientTask {
  host: string;
  port: number;
  /** Several ports (the `redis` mode's hosts): each connection alternates between them, one handshake each. */
  ports?: number[];
  protocol: Protocol;
  /** Groups to offer (`ecdhCurve`); Node's default list when undefined. */
  groups: string | undefined;
  connections: number;
  returning: number;
  /** HTTP/1.1 requests per connection after the handshake; 0 for handshakes only. */
  requests: number;
  control: SharedArrayBuffer;
}

/** What the negotiation gave, as the client saw it (first measured handshake). */
export interface Negotiated {
  protocol: string | null;
  cipher: string;
  /** Key exchange group, e.g. X25519 or X25519MLKEM768. */
  group: string | undefined;
}

/** What one client thread measured in the window. */
export interface ClientPart {
  threadId: number;
  connections: number;
  handshakes: number;
  /** Handshakes that resumed a session. */
  resumed: number;
  /** Handshakes that offered a session. */
  offered: number;
  /** HTTP requests answered (on connections whose handshake was measured). */
  requests: number;
  errors: number;
  /** A few error messages, for the report. */
  errorSamples: string[];
  /** Handshake (and, in `requests`, request) latencies in microseconds, HdrHistogram compressed base64. */
  histograms: { all: string; full: string; resumed: string; requests: string };
  negotiated: Negotiated | undefined;
}

/** Longest a handshake may take before it counts as an error. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Longest to wait after a TLS 1.3 handshake for the server's ticket. */
const SESSION_WAIT_MS = 1_000;
/** Pause after a failed handshake, so a dead server is not spun on. */
const ERROR_PAUSE_MS = 20;
const MAX_ERROR_SAMPLES = 5;

/** Unused tickets a `tls13-once` client keeps, newest first out. */
export const MAX_UNUSED_TICKETS = 4;

const VERSIONS: Record<Protocol, Pick<ConnectionOptions, 'minVersion' | 'maxVersion'>> = {
  'tls12-id': { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' },
  'tls12-ticket': { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' },
  tls13: { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
  'tls13-once': { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
};

export function newHistogram(): hdr.Histogram {
  return hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, autoResize: true });
}

interface Handshake {
  latencyMs: number;
  resumed: boolean;
  /** The session to offer next time, when the server gave a new one. */
  session: Buffer | undefined;
  /** With `collect`: every ticket received. */
  tickets: Buffer[];
  /** Latency of each HTTP request made on the connection, ms. */
  requestsMs: number[];
  negotiated: Negotiated;
}

const REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Sends `count` GET requests one after another on `socket`, each after the
 * previous response was read whole (its Content-Length, or the end of a
 * chunked body); resolves with their latencies in ms. Rejects on a status
 * other than 200, or when the connection ends first.
 */
function exchange(socket: TLSSocket, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    let received: Buffer = Buffer.alloc(0);
    let sentAt = 0;
    const send = (): void => {
      sentAt = performance.now();
      socket.write(REQUEST);
    };
    const done = (error?: Error): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(latencies);
    };
    const onClose = (): void => done(new Error(`connection closed after ${latencies.length} of ${count} responses`));
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      for (;;) {
        const end = received.indexOf(HEADER_END);
        if (end < 0) return;
        const head = received.subarray(0, end).toString('latin1');
        if (!head.startsWith('HTTP/1.1 200')) return done(new Error(`unexpected response: ${head.split('\r\n')[0]}`));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        let total: number;
        if (length !== null) total = end + 4 + Number(length[1]);
        else {
          const last = received.indexOf('0\r\n\r\n', end + 4);
          if (last < 0) return;
          total = last + 5;
        }
        if (received.length < total) return;
        received = received.subarray(total);
        latencies.push(performance.now() - sentAt);
        if (latencies.length === count) return done();
        send();
      }
    };
    socket.on('data', onData);
    socket.on('close', onClose);
    send();
  });
}

/**
 * One handshake: resolves at `secureConnect` (after a full TLS 1.3
 * handshake, when its ticket arrives, up to a second later; the latency
 * stops at `secureConnect`) and closes the connection with close_notify.
 * With `collect` (`tls13-once`), it closes at `secureConnect` and resolves
 * when the server's close arrives, with every ticket sent before it.
 */
function handshake(options: ConnectionOptions, offer: Buffer | undefined, inFlight: Set<TLSSocket>, collect = false, requests = 0): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(offer === undefined ? options : { ...options, session: offer });
    inFlight.add(socket);
    let latencyMs = -1;
    let resumed = false;
    let session: Buffer | undefined;
    const tickets: Buffer[] = [];
    let requestsMs: number[] = [];
    let negotiated: Negotiated = { protocol: null, cipher: '', group: undefined };
    let settled = false;
    let sessionTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => fail(new Error(`no handshake within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      clearTimeout(sessionTimer);
      inFlight.delete(socket);
      return true;
    };
    const finish = (): void => {
      if (!settle()) return;
      resolve({ latencyMs, resumed, session, tickets, requestsMs, negotiated });
      socket.end();
    };
    const fail = (error: Error): void => {
      if (!settle()) return;
      socket.destroy();
      reject(error);
    };
    let exchanging = false;
    socket.on('session', (ticket: Buffer) => {
      session = ticket;
      if (collect) tickets.push(ticket);
      else if (latencyMs >= 0 && !exchanging) finish();
    });
    socket.once('secureConnect', () => {
      latencyMs = performance.now() - started;
      resumed = socket.isSessionReused();
      negotiated = { protocol: socket.getProtocol(), cipher: socket.getCipher().name, group: groupOf(socket) };
      if (requests === 0) return afterHandshake();
      // The requests first (a TLS 1.3 ticket arrives meanwhile), then the connection ends as without them.
      exchanging = true;
      exchange(socket, requests).then((latencies) => {
        exchanging = false;
        requestsMs = latencies;
        afterHandshake();
      }, fail);
    });
    const afterHandshake = (): void => {
      if (collect) {
        // close_notify now; the server answers with its own after any ticket it sends.
        socket.end();
        socket.resume();
        return;
      }
      if (session !== undefined) return finish();
      if (socket.getProtocol() === 'TLSv1.3') {
        // A resumed TLS 1.3 handshake keeps its ticket (Node's server sends no
        // new one then; OpenSSL accepts a ticket more than once).
        if (resumed) return finish();
        // After a full one, the ticket comes after the handshake; a client
        // that closed now would have none.
        sessionTimer = setTimeout(finish, SESSION_WAIT_MS);
        return;
      }
      // TLS 1.2: a resumed session stays valid; a new one is available now.
      if (!resumed) session = socket.getSession();
      finish();
    };
    socket.on('error', fail);
    socket.on('close', () => {
      if (collect && latencyMs >= 0 && !exchanging) finish();
      else fail(new Error('connection closed before the handshake completed'));
    });
  });
}

function groupOf(socket: TLSSocket): string | undefined {
  const info = socket.getEphemeralKeyInfo();
  return info !== null && 'name' in info && typeof info.name === 'string' ? info.name : undefined;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export default async function runClients(task: ClientTask): Promise<ClientPart> {
  const control = new Int32Array(task.control);
  const options: ConnectionOptions = {
    host: task.host,
    port: task.port,
    rejectUnauthorized: false,
    ...VERSIONS[task.protocol],
    ...(task.groups === undefined ? {} : { ecdhCurve: task.groups }),
  };
  const histograms = { all: newHistogram(), full: newHistogram(), resumed: newHistogram(), requests: newHistogram() };
  const part: Omit<ClientPart, 'histograms'> = {
    threadId,
    connections: task.connections,
    handshakes: 0,
    resumed: 0,
    offered: 0,
    requests: 0,
    errors: 0,
    errorSamples: [],
    negotiated: undefined,
  };
  const inFlight = new Set<TLSSocket>();
  const phase = (): number => Atomics.load(control, Control.PHASE);
  // At the end of the window, cut handshakes still in flight rather than wait for them.
  const watcher = setInterval(() => {
    if (phase() !== Phase.STOP) return;
    for (const socket of inFlight) socket.destroy();
  }, 20);

  const ports = task.ports !== undefined && task.ports.length > 0 ? task.ports : [task.port];
  const once = task.protocol === 'tls13-once';
  let loops = 0;
  const connectionLoop = async (): Promise<void> => {
    let last: Buffer | undefined;
    /** `tls13-once`: tickets not used yet, newest last. */
    const unused: Buffer[] = [];
    // Connections start on different hosts, then each handshake goes to the next one.
    let turn = loops++;
    while (phase() !== Phase.STOP) {
      const returning = Math.random() < task.returning;
      // A new client (not returning) holds no ticket of this server.
      if (once && !returning) unused.length = 0;
      const offer = once ? unused.pop() : last !== undefined && returning ? last : undefined;
      const port = ports[turn++ % ports.length];
      try {
        const result = await handshake(ports.length === 1 ? options : { ...options, port }, offer, inFlight, once, task.requests);
        if (once) unused.push(...result.tickets.slice(-MAX_UNUSED_TICKETS));
        if (unused.length > MAX_UNUSED_TICKETS) unused.splice(0, unused.length - MAX_UNUSED_TICKETS);
        if (result.session !== undefined) last = result.session;
        else if (!result.resumed) last = undefined;
        if (phase() !== Phase.MEASURING) continue;
        const micros = Math.max(1, Math.round(result.latencyMs * 1000));
        part.handshakes++;
        histograms.all.recordValue(micros);
        (result.resumed ? histograms.resumed : histograms.full).recordValue(micros);
        for (const ms of result.requestsMs) histograms.requests.recordValue(Math.max(1, Math.round(ms * 1000)));
        part.requests += result.requestsMs.length;
        Atomics.add(control, Control.DONE, 1);
        if (result.resumed) {
          part.resumed++;
          Atomics.add(control, Control.RESUMED, 1);
        }
        // tls13-once: a returning client wants to resume, ticket in hand or not (one that used them all pays a full handshake).
        if (once ? returning : offer !== undefined) {
          part.offered++;
          Atomics.add(control, Control.OFFERED, 1);
        }
        part.negotiated ??= result.negotiated;
      } catch (error) {
        if (phase() === Phase.STOP) break;
        if (phase() === Phase.MEASURING) {
          part.errors++;
          Atomics.add(control, Control.ERRORS, 1);
        }
        const message = (error as Error).message;
        if (part.errorSamples.length < MAX_ERROR_SAMPLES && !part.errorSamples.includes(message)) part.errorSamples.push(message);
        await pause(ERROR_PAUSE_MS);
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: task.connections }, connectionLoop));
  } finally {
    clearInterval(watcher);
  }
  return {
    ...part,
    histograms: {
      all: hdr.encodeIntoCompressedBase64(histograms.all),
      full: hdr.encodeIntoCompressedBase64(histograms.full),
      resumed: hdr.encodeIntoCompressedBase64(histograms.resumed),
      requests: hdr.encodeIntoCompressedBase64(histograms.requests),
    },
  };
}
