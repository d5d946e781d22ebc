/**
 * A `node:cluster` worker asks its primary where the primary's socket is,
 * over the cluster's own IPC channel (one of the two messages of this
 * library there: `owner/messages.ts`), and keeps asking a primary that
 * starts its cache late; and tells it the port each of its servers
 * listens on (the other).
 *
 * @module
 */
import type { SharedCounters } from '../operations/counters.ts';
import { decodeToWorker, encodeToOwner, fromIpc, isTagged, O_OWNER, toIpc, W_WHERE_OWNER } from '../owner/messages.ts';

/** How often the hello is sent again over IPC while the primary has not answered. */
const HELLO_RETRY_MS = 250;
/** After the wait, how often a primary that has not answered is asked again (it may start its cache later). */
const LATE_HELLO_RETRY_MS = 1000;

/**
 * Asks the `node:cluster` primary for its socket over the cluster's IPC
 * channel (again every {@link HELLO_RETRY_MS} ms): its path, or
 * `undefined` when it did not answer within `timeout` ms (it runs no
 * cache, or not yet). Unanswered, it asks again every
 * {@link LATE_HELLO_RETRY_MS} ms, and calls `late` with the socket of the
 * first answer that comes after all. Any other message of this library on
 * the channel is counted in `ownerMalformed`.
 */
export async function askPrimary(timeout: number, counters: SharedCounters, late: (socket: string) => void): Promise<string | undefined> {
  let socket: string | undefined;
  let timedOut = false;
  let lateSeen = false;
  let answered: () => void = () => {};
  const got = new Promise<void>((resolve) => {
    answered = resolve;
  });
  // Stays on: any later message of this library on the channel is malformed (the rest goes over the socket).
  process.on('message', (raw: unknown): void => {
    if (!isTagged(raw)) return;
    const bytes = fromIpc(raw);
    const message = bytes === undefined ? undefined : decodeToWorker(bytes, 1);
    if (message?.op === O_OWNER && !timedOut) {
      socket ??= message.socket;
      answered();
    } else if (message?.op === O_OWNER) {
      // After the wait: the primary runs its cache after all (later answers to the hellos sent meanwhile say the same).
      if (!lateSeen) late(message.socket);
      lateSeen = true;
    } else {
      counters.add('ownerMalformed');
    }
  });
  const hello = toIpc(encodeToOwner({ op: W_WHERE_OWNER }));
  const send = (): void => {
    try {
      if (process.connected) process.send!(hello, undefined, undefined, ignore);
    } catch {
      // The channel is closing: the wait ends on its own.
    }
  };
  const retry = setInterval(send, HELLO_RETRY_MS);
  let timer: NodeJS.Timeout | undefined;
  send();
  await Promise.race([got, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
  clearTimeout(timer);
  clearInterval(retry);
  timedOut = socket === undefined;
  if (timedOut) {
    // Unanswered: asked again now and then, so that a primary that starts its cache later is found.
    const again = setInterval(() => (lateSeen ? clearInterval(again) : send()), LATE_HELLO_RETRY_MS);
    again.unref();
  }
  return socket;
}

function ignore(): void {}
