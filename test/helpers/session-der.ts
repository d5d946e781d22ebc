/**
 * Reads and replaces the ticket inside a client's TLS session blob, for
 * tests that send forged tickets through `tls.connect({ session })`.
 *
 * Node 24 wraps OpenSSL's DER `SSL_SESSION` in a header
 * (`\0nodejs:tls:session:1\0`, a 2-byte length and the server name); older
 * versions hand out the bare DER. The ticket is the session's
 * `[10] EXPLICIT OCTET STRING` (OpenSSL's `tlsext_tick`), in TLS 1.2 and 1.3.
 */
const NODE_MAGIC = Buffer.from('\0nodejs:tls:session:1\0', 'latin1');
const TICKET_TAG = 0xaa;
const LIFETIME_HINT_TAG = 0xa9;
const OCTET_STRING = 0x04;

interface Tlv {
  tag: number;
  /** Offset of the tag. */
  start: number;
  /** Offset of the content. */
  content: number;
  /** Offset after the content. */
  end: number;
}

function readTlv(bytes: Buffer, at: number): Tlv {
  const tag = bytes[at];
  let length = bytes[at + 1];
  let content = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[at + 2 + i];
    content += count;
  }
  return { tag, start: at, content, end: content + length };
}

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthBytes(content.length), content]);
}

/** Where the DER starts in a session blob. */
function derOffset(session: Buffer): number {
  if (!session.subarray(0, NODE_MAGIC.length).equals(NODE_MAGIC)) return 0;
  return NODE_MAGIC.length + 2 + session.readUInt16BE(NODE_MAGIC.length);
}

function parts(session: Buffer): { prefix: Buffer; fields: Buffer[]; suffix: Buffer } {
  const offset = derOffset(session);
  const outer = readTlv(session, offset);
  if (outer.tag !== 0x30) throw new Error('not a DER session');
  const fields: Buffer[] = [];
  for (let at = outer.content; at < outer.end; ) {
    const field = readTlv(session, at);
    fields.push(session.subarray(field.start, field.end));
    at = field.end;
  }
  return { prefix: session.subarray(0, offset), fields, suffix: session.subarray(outer.end) };
}

/** OpenSSL's DER `SSL_SESSION` inside a client session blob (without Node's header). */
export function derOf(session: Buffer): Buffer {
  const offset = derOffset(session);
  const outer = readTlv(session, offset);
  return session.subarray(offset, outer.end);
}

/** The ticket inside a session blob, or undefined. */
export function ticketOf(session: Buffer): Buffer | undefined {
  const field = parts(session).fields.find((f) => f[0] === TICKET_TAG);
  if (field === undefined) return undefined;
  const explicit = readTlv(field, 0);
  const octets = readTlv(field, explicit.content);
  return Buffer.from(field.subarray(octets.content, octets.end));
}

/** A copy of `session` whose ticket is `ticket` (any length). */
export function withTicket(session: Buffer, ticket: Buffer): Buffer {
  const { prefix, fields, suffix } = parts(session);
  const replaced = fields.map((f) => (f[0] === TICKET_TAG ? tlv(TICKET_TAG, tlv(OCTET_STRING, ticket)) : f));
  return Buffer.concat([prefix, tlv(0x30, Buffer.concat(replaced)), suffix]);
}

/** The session ID and the master key inside a session blob (the 4th and 5th fields of OpenSSL's `SSL_SESSION`). */
export function secretsOf(session: Buffer): { sessionId: Buffer; masterKey: Buffer } {
  const { fields } = parts(session);
  const octets = (field: Buffer): Buffer => {
    const tlv = readTlv(field, 0);
    return Buffer.from(field.subarray(tlv.content, tlv.end));
  };
  return { sessionId: octets(fields[3]), masterKey: octets(fields[4]) };
}

/**
 * A copy of `session` whose ticket lifetime hint (OpenSSL's
 * `[9] EXPLICIT INTEGER`, seconds) is `seconds`. An OpenSSL client offers
 * a TLS 1.3 ticket only while the session is no older than its hint
 * (whole seconds); a longer hint makes it offer a ticket the server must
 * refuse as expired, as a client that ignores the hint would.
 */
export function withLifetimeHint(session: Buffer, seconds: number): Buffer {
  const bytes: number[] = [];
  for (let n = seconds; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  const hint = tlv(LIFETIME_HINT_TAG, tlv(0x02, Buffer.from(bytes)));
  const { prefix, fields, suffix } = parts(session);
  if (!fields.some((f) => f[0] === LIFETIME_HINT_TAG)) throw new Error('the session has no ticket lifetime hint');
  const replaced = fields.map((f) => (f[0] === LIFETIME_HINT_TAG ? hint : f));
  return Buffer.concat([prefix, tlv(0x30, Buffer.concat(replaced)), suffix]);
}
