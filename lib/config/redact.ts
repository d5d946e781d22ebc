/**
 * Keeps secrets out of logs: {@link redactConfig} for a whole
 * configuration, {@link redactUrl} for a URL that may carry a password.
 *
 * @module
 */
import { KINDS } from './kinds.ts';
import { SETTINGS, type CacheConfig } from './settings.ts';

/**
 * A copy of `config` safe to log: secrets (`redisSecret`,
 * `redisSecretPrevious`, `redisSentinelPassword`) are replaced by
 * `'[redacted]'` when set, and a password in `redisUrl` (each URL of a
 * list) by `***`.
 */
export function redactConfig(config: Readonly<CacheConfig>): CacheConfig {
  const copy: Record<string, unknown> = { ...config };
  for (const setting of SETTINGS) {
    const value = copy[setting.option];
    if (!setting.secret || value === '' || value === undefined) continue;
    copy[setting.option] = setting.kind === 'url' ? redactUrl(String(value)) : '[redacted]';
  }
  // Every secret is a string (a URL, a password, a secret), and stays one: the copy is a CacheConfig still.
  return copy as unknown as CacheConfig;
}

/**
 * What the runtimes log at start: {@link redactConfig}, with sizes and
 * durations written as a person writes them (`32MiB`, `5m`, `500ms`)
 * rather than in each option's unit (bytes, seconds or milliseconds).
 */
export function configForLog(config: Readonly<CacheConfig>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...redactConfig(config) };
  for (const setting of SETTINGS) {
    const value = copy[setting.option];
    if (typeof value === 'number' && setting.kind !== 'integer') copy[setting.option] = KINDS[setting.kind].format(value);
  }
  return copy;
}

/**
 * A URL with its password (and a user name, which some set to a token)
 * replaced by `***`; each URL of a comma-separated list likewise.
 */
export function redactUrl(text: string): string {
  if (text.includes(',')) return text.split(',').map((entry) => redactUrl(entry.trim())).join(',');
  try {
    const url = new URL(text);
    if (url.password !== '') url.password = '***';
    if (url.username !== '') url.username = '***';
    return url.href;
  } catch {
    return '[redacted]';
  }
}
