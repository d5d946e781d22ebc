/**
 * Sessions ended by a fatal alert, across hosts. A TLS 1.2 session whose
 * connection ended in a fatal alert must not resume anywhere (RFC 5246
 * §7.2.2), but other hosts may hold a copy in their own table (it was
 * looked up there through Redis). The host that saw the alert deletes the
 * session from its table and from Redis, then publishes it on the channel
 * `<namespace>:ended`; every host's primary listens there, on the fleet's
 * subscriber connection (`fleet.ts`), and deletes it from its table.
 *
 * A message is `<session ID, hex>.<sealed, base64>`, sealed (`sealed.ts`,
 * purpose `session-ended`, the session ID as associated data) over the
 * time it was sent: only a host holding the deployment's secret can make
 * another host drop a session. One that does not open is counted
 * (`redisRejected`) and ignored. The session ID is no secret (it crosses
 * the network in clear in every TLS 1.2 ClientHello).
 *
 * @module
 */
import { createSealer, type Sealer } from './sealed.ts';

/** The channel of a namespace's ended sessions. */
export function endedChannel(namespace: string): string {
  return `${namespace}:ended`;
}

/** The sealer of ended-session messages (with the previous secret, during a change of secrets, as every sealer). */
export function endedSealer(secret: string, namespace: string, previousSecret?: string): Sealer {
  return createSealer({ secret, previousSecret, namespace, purpose: 'session-ended' });
}

/** The message announcing that session `id` ended. */
export function endedMessage(sealer: Sealer, id: Uint8Array, now = Date.now()): string {
  const time = Buffer.alloc(8);
  time.writeDoubleBE(now, 0);
  return `${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')}.${sealer.seal(id, time).toString('base64')}`;
}

/** The session ID a message announces, or `undefined` when it does not open under this deployment's secret. */
export function openEndedMessage(sealer: Sealer, message: string): Buffer | undefined {
  const dot = message.indexOf('.');
  if (dot < 2 || dot > 64 || dot % 2 !== 0) return undefined;
  const hex = message.slice(0, dot);
  if (!/^[0-9a-f]+$/.test(hex)) return undefined;
  const id = Buffer.from(hex, 'hex');
  const opened = sealer.open(id, Buffer.from(message.slice(dot + 1), 'base64'));
  return opened === undefined || opened.length !== 8 ? undefined : id;
}
