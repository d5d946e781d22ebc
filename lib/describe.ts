/**
 * `describe(value)`: how error messages name a bad value, by its type (or
 * the number itself) and never by its contents, so that no session data or
 * key material reaches a message or a log.
 *
 * @module
 */

/** Names a value's type for an error message without echoing its contents. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
