/**
 * The owner's side of the socket: answers the processes that reach the
 * table and the ticket key ring of a {@link CachePrimary} over a Unix
 * socket (`socket-path.ts`), whether that primary is a `node:cluster`
 * primary running the cache (`processes/cluster-cache.ts`) or the cache
 * daemon (`daemon.ts`).
 *
 * Each connection is one worker process. It says hello and gets the
 * settings every worker must use, the ring and the filter of the session
 * IDs the table holds (`id-filter.ts`); then it looks sessions up, stores
 * new ones, reports sessions ended by a fatal alert (every other worker is
 * told to drop its copy), its certificate and its counts. The owner pushes
 * every change of the ring, every session ID it stored, flushes and ends
 * heard from other hosts.
 *
 * Nothing a connection sends can stop the owner: every frame is checked
 * (`frames.ts`, `messages.ts`); a malformed message is counted
 * (`ownerMalformed`) and dropped, a frame too large or empty is counted and
 * its connection closed, and a connection that stops reading is closed
 * once its unread answers pass {@link MAX_UNREAD_BYTES}.
 *
 * @module
 */
import { chmodSync, closeSync, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { onExit } from 'signal-exit';
import { COUNTER_NAMES } from '../operations/counters.ts';
import { SocketError } from '../errors.ts';
import type { CachePrimary, FlushResult } from '../runtime/cache-primary.ts';
import type { WorkerSettings } from '../runtime/worker-settings.ts';
import { wipeRingState } from '../tickets/ring-state.ts';
import { FrameReader, frame } from './frames.ts';
import { filterBytesFor, SessionIdFilter } from './id-filter.ts';
import {
  decodeToOwner,
  encodeToWorker,
  FILTER_CHUNK_BYTES,
  MAX_REQUEST_ID,
  MAX_STORED_IDS,
  O_COUNTS,
  O_DELETE,
  O_FILTER,
  O_FLUSH,
  O_GOT,
  O_HELLO,
  O_KEYS,
  O_SET_DONE,
  O_STATUS,
  O_STORED,
  pack,
  W_CERTIFICATE,
  W_LISTENING,
  W_COUNTS,
  W_DELETE,
  W_GET,
  W_HELLO,
  W_PROCESS,
  W_SET,
  W_STATUS,
  type ToOwner,
  type ToWorker,
} from './messages.ts';
import { isRunning, preparePrivateDirectory } from './socket-path.ts';

/** A connection whose answers go unread past this many bytes is closed (it would hold the owner's memory). */
const MAX_UNREAD_BYTES = 8 * 1024 * 1024;

/** Ports kept per process: a process that says more is not believed further (its memory is the owner's). */
const MAX_PORTS = 64;

/** Options of {@link OwnerService.listen}. */
export interface OwnerServiceOptions {
  /** The table, the ring, the counters and the logger served. */
  primary: CachePrimary;
  /** What every worker is told (the hello). */
  settings: WorkerSettings;
  /** Where to listen. */
  socketPath: string;
  /** Milliseconds since the epoch. @defaultValue `Date.now` */
  clock?: () => number;
  /** Which owner this is, as `tls-resumption status` says it. @defaultValue `'primary'` */
  kind?: 'daemon' | 'primary';
  /** Called with the number of processes attached whenever one attaches (says hello) or an attached one goes. */
  onAttached?: (attached: number) => void;
}

/** How long a status answer waits for the attached processes' latest counts, in ms (as `metrics()` does). */
const STATUS_COUNTS_TIMEOUT_MS = 100;

/** One connected process. */
interface Peer {
  readonly socket: Socket;
  /** It said hello: it holds a ring and a local copy to keep current. */
  attached: boolean;
  /** The certificates its servers serve, comma-separated fingerprints (announced to other hosts with Redis). */
  certificate: string | undefined;
  /** Its process id, once it said ({@link W_PROCESS}). */
  pid: number | undefined;
  /** The ports its servers listen on, as it said ({@link W_LISTENING}). */
  readonly ports: Set<number>;
}

/** See the module's documentation. */
export class OwnerService {
  readonly socketPath: string;
  readonly #primary: CachePrimary;
  readonly #settings: WorkerSettings;
  readonly #clock: () => number;
  readonly #kind: 'daemon' | 'primary';
  readonly #onAttached: (attached: number) => void;
  readonly #server: Server;
  readonly #peers = new Set<Peer>();
  /** The session IDs the table was given: each process keeps a copy, and asks only about IDs in it. */
  readonly #ids: SessionIdFilter;
  /**
   * The IDs sent this event-loop turn, who sent each and whether the table
   * kept it: at its end, those kept are announced to every other process,
   * then each sender is told its own were handled.
   */
  #setsThisTurn: Array<{ id: Buffer; from: Peer; kept: boolean }> = [];
  readonly #countWaiters = new Map<number, { peers: Set<Peer>; done: () => void }>();
  #countsRequest = 0;
  #closed = false;
  readonly #onTicketKeys = (): void => this.#pushKeys();
  readonly #onFleetFlush = (): void => this.broadcast({ op: O_FLUSH });
  readonly #onSessionEnded = (id: Buffer): void => this.broadcast({ op: O_DELETE, id });

  private constructor(options: OwnerServiceOptions, server: Server) {
    this.#primary = options.primary;
    this.#settings = options.settings;
    this.socketPath = options.socketPath;
    this.#clock = options.clock ?? Date.now;
    this.#kind = options.kind ?? 'primary';
    this.#onAttached = options.onAttached ?? (() => {});
    this.#server = server;
    this.#ids = new SessionIdFilter({
      byteLength: filterBytesFor(options.primary.table.stats().capacityEntries),
      periodMs: options.settings.config.sessionTimeout * 1000,
      clock: this.#clock,
    });
    server.on('connection', (socket) => this.#accept(socket));
    // A failing accept (EMFILE, ...) must not end the owner; the next connection may succeed.
    server.on('error', () => {});
    options.primary.on('ticketKeys', this.#onTicketKeys);
    options.primary.on('flushedByFleet', this.#onFleetFlush);
    options.primary.on('sessionEnded', this.#onSessionEnded);
  }

  /**
   * Listens on `socketPath`: its directory made private first
   * (`socket-path.ts`), the socket created with mode 0600. A socket file
   * left by an owner that is gone is replaced; one that answers is not.
   * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the directory is not private, another owner answers there, or it cannot be listened on.
   */
  static async listen(options: OwnerServiceOptions): Promise<OwnerService> {
    const server = await listenPrivately(options.socketPath);
    return new OwnerService(options, server);
  }

  /** The processes attached now, by pid (those that said hello and their pid), for `tls-resumption status`. */
  attachedProcesses(): Array<{ pid: number }> {
    const found: Array<{ pid: number }> = [];
    for (const peer of this.#peers) if (peer.attached && peer.pid !== undefined) found.push({ pid: peer.pid });
    return found.sort((a, b) => a.pid - b.pid);
  }

  /** Processes that said hello and are still connected. */
  get attached(): number {
    let count = 0;
    for (const peer of this.#peers) if (peer.attached) count++;
    return count;
  }

  /** The ports the attached processes' servers listen on, for `tls-resumption status` and the same-port check (`same-port.ts`). */
  ports(): number[] {
    const ports = new Set<number>();
    for (const peer of this.#peers) if (peer.attached) for (const port of peer.ports) ports.add(port);
    return [...ports].sort((a, b) => a - b);
  }

  /** The certificates the connected processes' servers serve. */
  certificates(): string[] {
    const fingerprints: string[] = [];
    for (const peer of this.#peers) if (peer.certificate !== undefined) fingerprints.push(...peer.certificate.split(','));
    return [...new Set(fingerprints)];
  }

  /** Sends `message` to every process that said hello. */
  broadcast(message: ToWorker, except?: Peer): void {
    if (this.#closed) return;
    const framed = frame(encodeToWorker(message));
    for (const peer of this.#peers) if (peer.attached && peer !== except) this.#write(peer, framed);
  }

  /**
   * Forgets every session and ticket key of the owner (`CachePrimary.flush`)
   * and tells every process to drop its local copy.
   * @throws TicketKeyFileError when a key file cannot be read; nothing was flushed then.
   */
  flush(): FlushResult {
    const result = this.#primary.flush();
    this.broadcast({ op: O_FLUSH });
    return result;
  }

  /** Asks every attached process for its counts and waits for the answers, at most `timeout` ms. */
  async freshCounts(timeout: number): Promise<void> {
    const peers = new Set([...this.#peers].filter((peer) => peer.attached));
    if (peers.size === 0 || this.#closed) return;
    this.#countsRequest = this.#countsRequest >= MAX_REQUEST_ID ? 1 : this.#countsRequest + 1;
    const request = this.#countsRequest;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#countWaiters.delete(request);
        resolve();
      };
      this.#countWaiters.set(request, { peers, done });
      timer = setTimeout(done, timeout);
      const framed = frame(encodeToWorker({ op: O_COUNTS, request }));
      for (const peer of peers) this.#write(peer, framed);
    });
  }

  /** Stops listening, closes every connection (their lookups then miss) and removes the socket file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#primary.off('ticketKeys', this.#onTicketKeys);
    this.#primary.off('flushedByFleet', this.#onFleetFlush);
    this.#primary.off('sessionEnded', this.#onSessionEnded);
    for (const waiter of this.#countWaiters.values()) waiter.done();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const peer of this.#peers) peer.socket.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const peer: Peer = { socket, attached: false, certificate: undefined, pid: undefined, ports: new Set() };
    this.#peers.add(peer);
    const reader = new FrameReader();
    const counters = this.#primary.counters;
    socket.on('data', (chunk: Buffer) => {
      const verdict = reader.push(chunk, (payload) => this.#receive(peer, payload));
      if (verdict === 'oversized') {
        counters.add('ownerMalformed');
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#gone(peer));
  }

  #gone(peer: Peer): void {
    this.#peers.delete(peer);
    if (peer.attached && !this.#closed) this.#onAttached(this.attached);
    for (const waiter of this.#countWaiters.values()) {
      waiter.peers.delete(peer);
      if (waiter.peers.size === 0) waiter.done();
    }
  }

  /** Handles one payload. Never throws. */
  #receive(peer: Peer, payload: Buffer): void {
    if (this.#closed) return;
    try {
      const message = decodeToOwner(payload, this.#settings.config.maxSessionSize);
      if (message === undefined) {
        this.#primary.counters.add('ownerMalformed');
        return;
      }
      this.#act(peer, message);
    } catch (error) {
      this.#primary.counters.add('ownerMalformed');
      this.#primary.logger.debug({ err: { name: (error as Error)?.name, code: (error as { code?: unknown })?.code } }, 'a worker message failed');
    }
  }

  #act(peer: Peer, message: ToOwner): void {
    const { table, ticketKeys, counters } = this.#primary;
    switch (message.op) {
      case W_GET: {
        let found: Buffer | 'not_found' | 'expired';
        try {
          found = table.lookUp(message.id);
        } catch {
          found = 'not_found';
        }
        const session = typeof found === 'string' ? undefined : found;
        this.#send(peer, { op: O_GOT, request: message.request, session, expired: found === 'expired' });
        return;
      }
      case W_SET: {
        // The worker worked the expiry out already; never later than a whole timeout from now on this clock.
        const latest = this.#clock() + this.#settings.config.sessionTimeout * 1000;
        let stored = false;
        try {
          stored = table.set(message.id, message.session, Math.min(message.expiresAt, latest));
        } catch {
          // Refused (oversize, ...) and counted by the table; the worker keeps its copy.
        }
        if (stored) this.#ids.add(message.id);
        // One message per process per turn however many were stored: each costs the process a wake-up.
        if (this.#setsThisTurn.length === 0) setImmediate(() => this.#announceStored());
        this.#setsThisTurn.push({ id: message.id, from: peer, kept: stored });
        return;
      }
      case W_HELLO: {
        const keys = ticketKeys?.snapshot();
        this.#send(peer, { op: O_HELLO, settings: this.#settings, keys });
        wipeRingState(keys);
        // In this same turn: every ID stored from now on is announced to this peer after its filter.
        const bits = Buffer.from(this.#ids.snapshot().buffer);
        for (let offset = 0; offset < bits.byteLength; offset += FILTER_CHUNK_BYTES) {
          this.#send(peer, { op: O_FILTER, offset, total: bits.byteLength, bits: bits.subarray(offset, offset + FILTER_CHUNK_BYTES) });
        }
        const first = !peer.attached;
        peer.attached = true;
        if (first) this.#onAttached(this.attached);
        return;
      }
      case W_DELETE: {
        // A session whose connection ended in a fatal alert: no worker may resume it (RFC 5246 §7.2.2).
        try {
          table.delete(message.id);
        } catch {
          // An ID the table refuses (checked already): nothing to remove.
        }
        this.broadcast({ op: O_DELETE, id: message.id }, peer);
        return;
      }
      case W_STATUS:
        void this.#answerStatus(peer, message.request);
        return;
      case W_PROCESS:
        peer.pid = message.pid;
        return;
      case W_CERTIFICATE:
        peer.certificate = message.fingerprint === '' ? undefined : message.fingerprint;
        return;
      case W_LISTENING:
        if (peer.ports.size < MAX_PORTS) peer.ports.add(message.port);
        return;
      case W_COUNTS: {
        message.deltas.forEach((delta, i) => {
          if (delta > 0) counters.add(COUNTER_NAMES[i], delta);
        });
        const waiter = this.#countWaiters.get(message.request);
        if (waiter !== undefined) {
          waiter.peers.delete(peer);
          if (waiter.peers.size === 0) waiter.done();
        }
        return;
      }
    }
  }

  /**
   * Tells every process the IDs the others stored this turn (the storing
   * process knows its own), and only then each sender that its IDs were
   * handled: a sender holds its handshakes' last flight until told
   * (`owner-level.ts`), so no client can reconnect with a session before
   * every process's socket holds its ID.
   */
  #announceStored(): void {
    const sets = this.#setsThisTurn;
    this.#setsThisTurn = [];
    if (this.#closed) return;
    const inBatches = (peer: Peer, op: typeof O_STORED | typeof O_SET_DONE, ids: Buffer[]): void => {
      for (let i = 0; i < ids.length; i += MAX_STORED_IDS) this.#send(peer, { op, ids: ids.slice(i, i + MAX_STORED_IDS) });
    };
    for (const peer of this.#peers) {
      if (peer.attached) inBatches(peer, O_STORED, sets.filter((entry) => entry.kept && entry.from !== peer).map((entry) => entry.id));
    }
    for (const peer of this.#peers) inBatches(peer, O_SET_DONE, sets.filter((entry) => entry.from === peer).map((entry) => entry.id));
  }

  /** Answers `tls-resumption status`: the attached processes' latest counts first, as `/metrics` has them. */
  async #answerStatus(peer: Peer, request: number): Promise<void> {
    await this.freshCounts(STATUS_COUNTS_TIMEOUT_MS);
    if (this.#closed) return;
    const status = this.#primary.status(this.#kind, this.socketPath, this.attachedProcesses());
    this.#write(peer, frame(pack([O_STATUS, request, status])));
  }

  /** Sends the ring to every process that holds one. */
  #pushKeys(): void {
    const keys = this.#primary.ticketKeys?.snapshot();
    if (keys === undefined || this.#closed) return;
    this.broadcast({ op: O_KEYS, keys });
    wipeRingState(keys);
  }

  #send(peer: Peer, message: ToWorker): void {
    this.#write(peer, frame(encodeToWorker(message)));
  }

  #write(peer: Peer, framed: Buffer): void {
    const { socket } = peer;
    if (socket.destroyed) return;
    if (socket.writableLength > MAX_UNREAD_BYTES) {
      socket.destroy();
      return;
    }
    socket.write(framed);
  }
}

/**
 * Listens on a Unix socket private to this user: its directory made
 * private first (`socket-path.ts`), the socket created with mode 0600. A
 * socket file left by an owner that is gone is replaced; one that answers
 * is not.
 *
 * Closing the server removes the file (libuv does); so does the process's
 * exit while it still listens ({@link removeAtExit}), or a socket file
 * would outlive its process and be taken for a runtime that answers
 * nothing.
 * @throws SocketError (`ERR_TLS_CACHE_SOCKET`) when the directory is not private, something answers there, or it cannot be listened on.
 */
export async function listenPrivately(path: string): Promise<Server> {
  preparePrivateDirectory(path);
  if (await answers(path)) throw new SocketError(path, `Another owner of the cache answers at ${path} already`);
  removeSocketFile(path);
  const server = createServer({ noDelay: true });
  // The socket file is created by listen(): with this umask it is never readable by others, not even for a moment.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    throw new SocketError(path, `Cannot listen on ${path} (${(error as { code?: string }).code ?? 'error'})`);
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  removeAtExit(server, path);
  return server;
}

/**
 * Removes the socket file at `path` when the process exits while `server`
 * still listens on it: an exit of its own (`process.exit()`, the event
 * loop drained) or a signal whose default action ends the process
 * (`SIGTERM`, `SIGINT`, `SIGHUP`, ... with no handler of the
 * application's), through signal-exit, which acts only when the process
 * really ends and lets the application's own handlers (and other
 * libraries' signal-exit listeners) decide otherwise: an application that
 * handles `SIGTERM` itself keeps its socket until it closes the server or
 * exits. The file is removed only while it is the one this server made
 * (same inode), never another process's that took the path since.
 */
function removeAtExit(server: Server, path: string): void {
  const made = statSync(path).ino;
  const cancel = onExit(() => {
    try {
      if (statSync(path).ino === made) unlinkSync(path);
    } catch {
      // Gone already.
    }
  });
  server.once('close', () => cancel());
}

/** Whether something accepts connections at `path` now (an owner that runs). */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Removes a socket file left behind (ENOENT: none). */
function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw new SocketError(path, `Cannot remove the old socket file ${path} (${(error as { code?: string }).code ?? 'error'})`);
  }
}

/**
 * Takes the lock beside a socket (`<socket>.lock`, holding this process's
 * pid), so that of several owners started at once for one socket only one
 * listens: false when a running process holds it. A lock whose process is
 * gone (killed) is taken over.
 */
export function takeSocketLock(socketPath: string): boolean {
  const lock = `${socketPath}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    // Written aside, then linked into place: the lock never exists without its pid.
    const aside = `${lock}.${process.pid}`;
    try {
      const fd = openSync(aside, 'w', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      linkSync(aside, lock);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw new SocketError(socketPath, `Cannot make the lock ${lock} (${(error as { code?: string }).code ?? 'error'})`);
    } finally {
      try {
        unlinkSync(aside);
      } catch {
        // Never made.
      }
    }
    const holder = lockHolder(lock);
    if (holder !== undefined && holder !== process.pid && isRunning(holder)) return false;
    try {
      unlinkSync(lock);
    } catch {
      // Another owner took it over first: the next attempt tells.
    }
  }
  return false;
}

/** Releases the lock if this process holds it. */
export function releaseSocketLock(socketPath: string): void {
  const lock = `${socketPath}.lock`;
  if (lockHolder(lock) !== process.pid) return;
  try {
    unlinkSync(lock);
  } catch {
    // Gone already.
  }
}

function lockHolder(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
