/**
 * Frames on the owner's Unix socket: a 4-byte big-endian length, then that
 * many bytes of one message (`messages.ts`). A stream socket has no
 * message boundaries of its own; the length lets the reader cut them, and
 * bounds them ({@link MAX_PAYLOAD_BYTES}): a frame announcing more, or
 * none, cannot be skipped safely (whatever follows is not known to be a
 * frame), so the reader says `oversized` and the connection is closed.
 *
 * @module
 */
import { MAX_PAYLOAD_BYTES } from './messages.ts';

/** Bytes of a frame's length prefix. */
const FRAME_HEADER_BYTES = 4;

/** `payload` framed for the socket. */
export function frame(payload: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  framed.writeUInt32BE(payload.byteLength, 0);
  framed.set(payload, FRAME_HEADER_BYTES);
  return framed;
}

/**
 * Cuts the bytes read from a socket into payloads. Keeps at most one
 * partial frame between reads.
 */
export class FrameReader {
  #pending: Buffer | undefined;

  /**
   * Adds bytes read and calls `onPayload` for each whole frame's payload (a
   * view, valid during the call). Returns `'oversized'` at the first frame
   * announcing 0 bytes or more than {@link MAX_PAYLOAD_BYTES} (nothing
   * after it is read: close the connection), else `'ok'`.
   */
  push(chunk: Buffer, onPayload: (payload: Buffer) => void): 'ok' | 'oversized' {
    let bytes = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#pending = undefined;
    while (bytes.byteLength >= FRAME_HEADER_BYTES) {
      const length = bytes.readUInt32BE(0);
      if (length === 0 || length > MAX_PAYLOAD_BYTES) return 'oversized';
      if (bytes.byteLength < FRAME_HEADER_BYTES + length) break;
      onPayload(bytes.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length));
      bytes = bytes.subarray(FRAME_HEADER_BYTES + length);
    }
    // A partial frame waits for the rest; copied, so the chunk it came in can go.
    if (bytes.byteLength > 0) this.#pending = Buffer.from(bytes);
    return 'ok';
  }
}
