/**
 * What a server thread of the worker-thread runtime attaches to the servers
 * it runs, made once per thread before the server module loads: the store
 * (the shared table, with Redis behind it when set), the ring and the
 * counters, and one `attach(server)` that every attach line in the thread
 * goes through, the runtime's own after the module returned and
 * `attachSharedCache()` called by the module. So a server attached by the
 * module gets exactly what the runtime would give it (Redis included), and
 * attaching it twice attaches it once.
 *
 * Kept under a global symbol rather than in a module variable: an
 * application that bundles or installs a second copy of this package
 * still finds its thread's runtime.
 *
 * @module
 */
import type { Server as TlsServer } from 'node:tls';
import type { RuntimeBinding, RuntimeServerOptions } from './attach-runtime.ts';

/** A server thread's attach, for every attach line that runs in it. */
export interface ThreadRuntime {
  /** The options its servers must be created with. */
  readonly serverOptions: RuntimeServerOptions;
  /**
   * Attaches the thread's store and ring to `server` and counts its
   * handshakes; the same binding again for a server already attached.
   * Throws as `attachRuntime` does.
   */
  attach(server: TlsServer): RuntimeBinding;
}

const KEY = Symbol.for('tls-resumption.thread-runtime');

/** Sets this thread's runtime (the server thread, before it loads the server module). */
export function setThreadRuntime(runtime: ThreadRuntime): void {
  (globalThis as { [KEY]?: ThreadRuntime })[KEY] = runtime;
}

/** This thread's runtime, or `undefined` outside a server thread of the worker-thread runtime. */
export function threadRuntime(): ThreadRuntime | undefined {
  return (globalThis as { [KEY]?: ThreadRuntime })[KEY];
}

/** Wraps `attach` so that each server is attached once, whoever asks first. */
export function attachOnce(attach: (server: TlsServer) => RuntimeBinding): (server: TlsServer) => RuntimeBinding {
  const attached = new WeakMap<TlsServer, RuntimeBinding>();
  return (server) => {
    let binding = attached.get(server);
    if (binding === undefined) {
      binding = attach(server);
      attached.set(server, binding);
    }
    return binding;
  };
}
