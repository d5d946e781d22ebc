/**
 * A TCP proxy in front of a TLS server that flips one bit of one TLS record
 * per connection, so that a real connection ends in a fatal alert:
 *
 * - `client-data`: the client's first application-data record; the server
 *   fails to decrypt it and sends `bad_record_mac` (an alert sent);
 * - `server-data`: the server's first application-data record; the client
 *   sends `bad_record_mac` (an alert the server receives);
 * - `client-finished`: the client's encrypted Finished of a TLS 1.2
 *   handshake (the first handshake record after its ChangeCipherSpec); the
 *   handshake fails on the server, after the session was chosen.
 *
 * Everything else passes through unchanged, in order.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Corruption = 'client-data' | 'server-data' | 'client-finished';

export interface CorruptingProxy {
  readonly port: number;
  /** Records corrupted so far. */
  readonly corrupted: number;
  close(): Promise<void>;
}

const APPLICATION_DATA = 0x17;
const HANDSHAKE = 0x16;
const CHANGE_CIPHER_SPEC = 0x14;

/** Forwards `from` to `to`, flipping a bit in the first record `pick` chooses (records seen in order). */
function pipeRecords(from: Socket, to: Socket, pick: ((type: number) => boolean) | undefined, onCorrupt: () => void): void {
  let pending = Buffer.alloc(0);
  let done = pick === undefined;
  from.on('data', (chunk: Buffer) => {
    if (done) {
      to.write(chunk);
      return;
    }
    pending = Buffer.concat([pending, chunk]);
    while (!done && pending.length >= 5) {
      const length = pending.readUInt16BE(3);
      if (pending.length < 5 + length) break;
      const record = Buffer.from(pending.subarray(0, 5 + length));
      pending = pending.subarray(5 + length);
      if (pick!(record[0])) {
        record[5 + Math.floor(length / 2)] ^= 0x01;
        done = true;
        onCorrupt();
      }
      to.write(record);
    }
    if (done && pending.length > 0) {
      to.write(pending);
      pending = Buffer.alloc(0);
    }
  });
  from.on('end', () => to.end());
  from.on('error', () => to.destroy());
}

/** Starts a proxy on a free loopback port in front of `127.0.0.1:target`. */
export async function corruptingProxy(target: number, corruption: Corruption): Promise<CorruptingProxy> {
  let corrupted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    let sawChangeCipherSpec = false;
    const fromClient =
      corruption === 'client-data'
        ? (type: number) => type === APPLICATION_DATA
        : corruption === 'client-finished'
          ? (type: number) => {
              if (type === CHANGE_CIPHER_SPEC) sawChangeCipherSpec = true;
              return sawChangeCipherSpec && type === HANDSHAKE;
            }
          : undefined;
    const fromServer = corruption === 'server-data' ? (type: number) => type === APPLICATION_DATA : undefined;
    pipeRecords(client, upstream, fromClient, () => corrupted++);
    pipeRecords(upstream, client, fromServer, () => corrupted++);
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get corrupted() {
      return corrupted;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
