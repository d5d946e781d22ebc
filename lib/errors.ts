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
