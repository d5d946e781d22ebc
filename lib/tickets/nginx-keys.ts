/**
 * nginx `ssl_session_ticket_key` files: 48 bytes each, name, AES key, HMAC
 * secret, where Node's order is name, HMAC secret, AES key.
 *
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import { InvalidOptionError, TicketKeyFileError } from '../errors.ts';
import { MAX_TICKET_KEYS } from './ring-layout.ts';
import { TICKET_KEY_BYTES } from './ticket-key.ts';

/**
 * Converts a 48-byte nginx `ssl_session_ticket_key` (name, AES key, HMAC
 * secret) to Node's order (name, HMAC secret, AES key). A new buffer.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`, option `key`) unless it is a Uint8Array of 48 bytes.
 */
export function fromNginxKey(nginx: Uint8Array): Buffer {
  if (!(nginx instanceof Uint8Array) || nginx.byteLength !== TICKET_KEY_BYTES) {
    throw new InvalidOptionError('key', `expected ${TICKET_KEY_BYTES} bytes`);
  }
  const node = Buffer.alloc(TICKET_KEY_BYTES);
  node.set(nginx.subarray(0, 16), 0);
  node.set(nginx.subarray(32, 48), 16);
  node.set(nginx.subarray(16, 32), 32);
  return node;
}

/**
 * Converts a key in Node's order to nginx's 48-byte file order. A new buffer.
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`, option `key`) unless it is a Uint8Array of 48 bytes.
 */
export function toNginxKey(node: Uint8Array): Buffer {
  // The swap is its own inverse.
  return fromNginxKey(node);
}

/**
 * Reads nginx `ssl_session_ticket_key` files (48 bytes each, as `openssl
 * rand 48 > file` makes) into keys in Node's order: the first file's key
 * encrypts, the others decrypt (nginx's rule).
 * @throws TicketKeyFileError (`ERR_TLS_CACHE_TICKET_KEY_FILE`) for a file
 * that cannot be read or is not 48 bytes (nginx's 80-byte AES-256 keys are
 * not supported: Node's ticket key callback uses AES-128). The message names
 * the file, never its bytes.
 */
export function readNginxKeyFiles(paths: readonly string[]): Buffer[] {
  if (paths.length === 0) throw new TicketKeyFileError('', 'No ticket key file given');
  if (paths.length > MAX_TICKET_KEYS) {
    throw new TicketKeyFileError(paths[0], `${paths.length} ticket key files given; at most ${MAX_TICKET_KEYS} are read`);
  }
  return paths.map((path) => {
    let bytes: Buffer;
    try {
      const size = statSync(path).size;
      if (size !== TICKET_KEY_BYTES) {
        const hint = size === 80 ? " (nginx's 80-byte AES-256 keys are not supported: use 48-byte keys, e.g. openssl rand 48)" : ' (make one with: openssl rand 48)';
        throw new TicketKeyFileError(path, `Ticket key file ${JSON.stringify(path)} is ${size} bytes; expected ${TICKET_KEY_BYTES}${hint}`);
      }
      bytes = readFileSync(path);
    } catch (error) {
      if (error instanceof TicketKeyFileError) throw error;
      const code = (error as { code?: unknown }).code;
      throw new TicketKeyFileError(path, `Cannot read ticket key file ${JSON.stringify(path)}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
    if (bytes.byteLength !== TICKET_KEY_BYTES) {
      bytes.fill(0);
      throw new TicketKeyFileError(path, `Ticket key file ${JSON.stringify(path)} changed size while read; expected ${TICKET_KEY_BYTES} bytes`);
    }
    const key = fromNginxKey(bytes);
    bytes.fill(0);
    return key;
  });
}
