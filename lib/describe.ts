/**
 * `describe(value)`: how error messages name a bad value, by its type (or
 * the number itself) and never by its contents, so that no session data or
 * key material reaches a message or a log; and `summarize(error)`, how a
 * message or a log line names an error, never including its data.
 *
 * @module
 */

/**
 * Names a value for an error message without echoing its contents: its
 * type, with a number's value (`number 30`: a number carries no data, and
 * says what was out of range), `an array`, an object's class (`Buffer`,
 * `Object`), `null`. The one way every module names a bad value.
 */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return `number ${value}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** An error as {@link summarize} names it: plain data, so it also crosses a thread boundary (a server thread's failure). */
export interface ErrorSummary {
  name: string;
  code: string | undefined;
  message: string;
  /** With `{ stack: true }`: where it was thrown, e.g. a line of the application's server module. */
  stack?: string;
  /** With `{ stack: true }`: the error's `cause`, summarized the same way (three levels at most). */
  cause?: ErrorSummary;
}

/**
 * Names an error for a message or a log line, never including its data.
 * With `stack`, also where it was thrown and its cause: for errors of the
 * application's code (a server module that fails, a worker that crashes),
 * whose stack is what a person needs to fix it.
 */
export function summarize(error: unknown, options: { stack?: boolean } = {}, depth = 0): ErrorSummary {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const summary: ErrorSummary = { name: error.name, code: typeof code === 'string' ? code : undefined, message: error.message };
    if (options.stack === true) {
      if (typeof error.stack === 'string' && error.stack !== '') summary.stack = error.stack;
      if (error.cause !== undefined && depth < 2) summary.cause = summarize(error.cause, options, depth + 1);
    }
    return summary;
  }
  return { name: 'Error', code: undefined, message: `a non-error value was thrown (${typeof error})` };
}
