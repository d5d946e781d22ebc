/**
 * Marks the segments of one `resumeSession` on a server of this thread for
 * `hop-count.ts`: from Node's emit of `resumeSession` to the call of its
 * callback, cut at this thread's first socket write (the request to the
 * owner) and at the next `data` event of that socket (the owner's answer).
 * Nothing of the package is changed: the server's `emit`, and the socket's
 * `write` and `emit`, are wrapped on this thread only.
 *
 * @module
 */
import { Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { reset, take, type Hop } from './hop-count.ts';

/** One lookup's segments on the requesting side. */
export interface RequestHops {
  /** From the emit to the socket write of the request (the whole lookup on a worker thread, which writes nothing). */
  request: Hop[];
  /** From the socket write to the return of the emit (the rest of the request). */
  afterWrite: Hop[] | undefined;
  /** From the `data` event of the answer to the callback. */
  answer: Hop[] | undefined;
  /** Whether the callback was given a session. */
  found: boolean;
}

let open: { written: Socket | undefined; parts: Partial<RequestHops> } | undefined;

const write = Socket.prototype.write;
Socket.prototype.write = function (this: Socket, ...args: unknown[]): boolean {
  if (open !== undefined && open.written === undefined) {
    open.parts.request = take();
    open.written = this;
  }
  return (write as (...a: unknown[]) => boolean).apply(this, args);
} as typeof write;

const emit = Socket.prototype.emit;
Socket.prototype.emit = function (this: Socket, event: string | symbol, ...args: unknown[]): boolean {
  if (event === 'data' && open !== undefined && this === open.written && open.parts.answer === undefined) reset();
  return Reflect.apply(emit, this, [event, ...args]) as boolean;
} as typeof emit;

/** Calls `done` with each lookup's segments on `server`. */
export function probeLookups(server: TlsServer, done: (hops: RequestHops) => void): void {
  const serverEmit = server.emit;
  server.emit = function (this: TlsServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'resumeSession') return Reflect.apply(serverEmit, this, [event, ...args]) as boolean;
    const callback = args[1] as (error: Error | null, session: Buffer | null) => void;
    const lookup: NonNullable<typeof open> = { written: undefined, parts: {} };
    let called = false;
    args[1] = (error: Error | null, session: Buffer | null): void => {
      called = true;
      if (lookup.written === undefined) lookup.parts.request = take();
      else lookup.parts.answer = take();
      if (open === lookup) open = undefined;
      done({ request: lookup.parts.request!, afterWrite: lookup.parts.afterWrite, answer: lookup.parts.answer, found: session !== null });
      callback(error, session);
    };
    open = lookup;
    reset();
    const result = Reflect.apply(serverEmit, this, [event, ...args]) as boolean;
    if (!called && lookup.written !== undefined) lookup.parts.afterWrite = take();
    return result;
  } as typeof serverEmit;
}
