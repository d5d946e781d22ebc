/**
 * Sessions ended by a fatal alert, across hosts. A TLS 1.2 session whose
 * connection ended in a fatal alert must not resume anywhere (RFC 5246
 * §7.2.2), but other hosts may hold a copy in their own table (it was
 * looked up there through Redis). The host that saw the alert deletes the
 * session from its table and from Redis, then publishes it on the channel
 * `<namespace>:ended`; every host's primary listens there
 * ({@link subscribeEndedSessions}) and deletes it from its table.
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
import type { Logger } from 'pino';
import { watchOutages } from './connection.ts';
import { createSealer, type Sealer } from './sealed.ts';
import type { RedisCounterSink } from './session-store.ts';
import { duplicateClient, type RedisClient } from './topology.ts';

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

/** Options of {@link subscribeEndedSessions}. */
export interface EndedSessionsOptions {
  /** The primary's connection (any mode); a duplicate subscribes. */
  redis: RedisClient;
  secret: string;
  /** The secret before it (`TLS_CACHE_REDIS_SECRET_PREVIOUS`). @defaultValue none */
  previousSecret?: string;
  namespace: string;
  /** Deletes the session from this host's table. */
  onEnded: (id: Buffer) => void;
  /** Counts `redisRejected`. @defaultValue none */
  counters?: RedisCounterSink;
  logger?: Logger;
}

/** Listens for ended sessions of other hosts; returns the function that stops (and closes its connection). */
export function subscribeEndedSessions(options: EndedSessionsOptions): () => void {
  const { redis, secret, previousSecret, namespace, onEnded, counters, logger } = options;
  const sealer = endedSealer(secret, namespace, previousSecret);
  const channel = endedChannel(namespace);
  const subscriber = duplicateClient(redis);
  watchOutages(subscriber, undefined, { logger, role: 'ended sessions', outageLevel: 'debug', connectedLevel: 'debug' });
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).catch(() => {
      // The next 'ready' subscribes again.
    });
  });
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    const id = openEndedMessage(sealer, message);
    if (id === undefined) {
      counters?.add('redisRejected');
      return;
    }
    try {
      onEnded(id);
    } catch {
      // Nothing to remove.
    }
  });
  return () => subscriber.disconnect();
}
