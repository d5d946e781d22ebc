/**
 * Error classes with stable `code`s, in the manner of undici: callers branch on
 * `err.code`, never on the message. Messages name what was wrong and the
 * expected form, and never carry session data or key material.
 *
 * @module
 */

/** Base class of every error this library throws. */
export class TlsCacheError extends Error {
  /** Stable machine-readable code, e.g. `ERR_TLS_CACHE_INVALID_OPTION`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option passed in code has the wrong type or is out of range. */
export class InvalidOptionError extends TlsCacheError {
  /** The option's name, e.g. `size`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super('ERR_TLS_CACHE_INVALID_OPTION', `Invalid option "${option}": ${message}`);
    this.option = option;
  }
}

/** An environment variable holds a value that cannot be used. */
export class InvalidEnvironmentError extends TlsCacheError {
  /** The variable's name, e.g. `TLS_CACHE_SIZE`. */
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('ERR_TLS_CACHE_INVALID_ENV', `Invalid environment variable ${variable}: ${message}`);
    this.variable = variable;
  }
}

/** A session ID is not 1 to 32 bytes, or not bytes at all. */
export class InvalidSessionIdError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_INVALID_SESSION_ID', message);
  }
}

/** A session blob is empty, not bytes, or larger than the table's maximum. */
export class InvalidSessionError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_INVALID_SESSION', message);
  }
}

/** A SharedArrayBuffer handed to `SessionTable.open()` is not a table. */
export class InvalidTableBufferError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_INVALID_BUFFER', message);
  }
}

/** An operation that must touch every shard could not take one in time. */
export class TableBusyError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_BUSY', message);
  }
}

/**
 * A server's TLS session timeout differs from the session table's timeout, so
 * the two lifetimes would silently disagree.
 */
export class SessionTimeoutMismatchError extends TlsCacheError {
  /** The server's `sessionTimeout` in seconds, or `undefined` when it was never set. */
  readonly serverTimeout: number | undefined;
  /** The table's `timeout` in seconds. */
  readonly tableTimeout: number;

  constructor(serverTimeout: number | undefined, tableTimeout: number, message: string) {
    super('ERR_TLS_CACHE_SESSION_TIMEOUT_MISMATCH', message);
    this.serverTimeout = serverTimeout;
    this.tableTimeout = tableTimeout;
  }
}

/**
 * A server already answers `resumeSession` (a session cache is attached, or
 * the application listens itself), so a second answer would break handshakes.
 */
export class SessionHooksInUseError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_HOOKS_IN_USE', message);
  }
}

/**
 * Worker threads cannot share one listening port here: the runtime or the
 * platform lacks `listen({ reusePort: true })`.
 */
export class ReusePortUnsupportedError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_REUSE_PORT_UNSUPPORTED', message);
  }
}

/** A worker thread failed before it was listening; the cluster did not start. */
export class WorkerStartError extends TlsCacheError {
  /** The 1-based worker slot that failed. */
  readonly workerId: number;

  constructor(workerId: number, message: string, options?: { cause?: unknown }) {
    super('ERR_TLS_CACHE_WORKER_START', message);
    this.workerId = workerId;
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/**
 * A rolling reload failed: a new worker could not load the server module,
 * threw, did not listen in time or ended before every new worker listened.
 * Every new worker was stopped; the workers from before go on serving.
 */
export class ReloadFailedError extends TlsCacheError {
  /** The 1-based worker slot whose new thread failed, when one did. */
  readonly workerId: number | undefined;

  constructor(workerId: number | undefined, message: string, options?: { cause?: unknown }) {
    super('ERR_TLS_CACHE_RELOAD_FAILED', message);
    this.workerId = workerId;
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** A rolling reload ended early because the cluster began stopping (or was asked to reload while stopping). */
export class ReloadAbortedError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_RELOAD_ABORTED', message);
  }
}

/** A SharedArrayBuffer handed to `TicketKeyRing.open()` is not a ticket key ring. */
export class InvalidTicketKeyBufferError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_INVALID_TICKET_KEY_BUFFER', message);
  }
}

/**
 * A session ticket key file cannot be used: unreadable, or not 48 bytes.
 * The message names the file and its size, never its bytes.
 */
export class TicketKeyFileError extends TlsCacheError {
  /** The file's path. */
  readonly path: string;

  constructor(path: string, message: string) {
    super('ERR_TLS_CACHE_TICKET_KEY_FILE', message);
    this.path = path;
  }
}

/**
 * Tickets are switched off (`TLS_CACHE_TICKETS=off`) but a server would issue
 * them with keys of its own: it must be created with `SSL_OP_NO_TICKET`.
 */
export class TicketsNotDisabledError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_TICKETS_NOT_DISABLED', message);
  }
}

/**
 * A server's TLS session ID context is not the deployment's
 * (`TLS_CACHE_SESSION_ID_CONTEXT`): OpenSSL would refuse to resume sessions
 * made by the other processes or hosts.
 */
export class SessionIdContextMismatchError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_SESSION_ID_CONTEXT_MISMATCH', message);
  }
}

/** A SharedArrayBuffer handed to `SharedCounters.open()` is not a counter block. */
export class InvalidCounterBufferError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_INVALID_COUNTER_BUFFER', message);
  }
}

/** The metrics endpoint (`TLS_CACHE_METRICS_PORT`) could not listen; the cluster did not start. */
export class MetricsListenError extends TlsCacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TLS_CACHE_METRICS_LISTEN', message);
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/**
 * The node:cluster cache was used where it cannot run: `startClusterCache()`
 * outside a cluster primary, or `attachSharedCache()` outside a cluster
 * worker process and outside a server thread of the cluster runtime.
 */
export class NotInClusterError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_NOT_IN_CLUSTER', message);
  }
}

/** `startClusterCache()` was called twice in one primary process. */
export class ClusterCacheStartedError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_ALREADY_STARTED', message);
  }
}

/**
 * A node:cluster worker process got no answer from its primary while
 * attaching.
 * @deprecated No longer thrown: a process whose primary does not answer
 * within `helloTimeout` uses the host's cache daemon (`docs/pm2.md`). Kept
 * for code that names it; to be removed in the next major version.
 */
export class PrimaryUnavailableError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_PRIMARY_UNAVAILABLE', message);
  }
}

/**
 * A server module cannot serve: the file is missing, it failed to load or
 * threw, it has no default export function, or that function returned no
 * `tls.Server`. Thrown in the thread that loads it (and named in the
 * `WorkerStartError` the primary throws), or by the command line before
 * anything starts.
 */
export class ServerModuleError extends TlsCacheError {
  /** The module as given (a path or URL). */
  readonly module: string;

  constructor(module: string, message: string, options?: { cause?: unknown }) {
    super('ERR_TLS_CACHE_SERVER_MODULE', message);
    this.module = module;
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/** The command line was used wrongly: an unknown option, a missing or extra argument, a bad value. */
export class UsageError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_USAGE', message);
  }
}

/**
 * `tls-resumption status` found no owner of the cache answering for this
 * user: no daemon at the deployment's socket, no `node:cluster` primary or
 * thread runtime in its directory (exit status 3).
 */
export class NotRunningError extends TlsCacheError {
  constructor(message: string) {
    super('ERR_TLS_CACHE_NOT_RUNNING', message);
  }
}

/** `tls-resumption daemon --stop` sent SIGTERM, and the daemon did not exit in time. */
export class DaemonStopError extends TlsCacheError {
  /** The daemon's pid. */
  readonly pid: number;

  constructor(pid: number, message: string) {
    super('ERR_TLS_CACHE_DAEMON_STOP', message);
    this.pid = pid;
  }
}

/**
 * The owner's Unix socket cannot be used safely or at all: its directory
 * is not private to this user (another user could connect, or plant a
 * socket of their own), its path is too long, or it cannot be listened on.
 */
export class SocketError extends TlsCacheError {
  /** The socket's path. */
  readonly path: string;

  constructor(path: string, message: string) {
    super('ERR_TLS_CACHE_SOCKET', message);
    this.path = path;
  }
}
