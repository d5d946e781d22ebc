/**
 * The one settings message: what every server thread and worker process
 * must agree on with the owner of the table and ring, made once by the
 * owner ({@link workerSettings}) and sent as it is: in a server thread's
 * `workerData`, and in the hello a worker process gets over the owner's
 * socket, where it is checked first ({@link readWorkerSettings}: it came
 * from another process).
 *
 * It is the owner's whole resolved configuration (`CacheConfig`: the
 * session timeout and ID context every server must use, the lookup bound,
 * the local copy's size, the Redis every level reaches, the log level)
 * and how ticket keys are attached. It holds secrets (the Redis secret and
 * URL): it only travels between the owner and its own threads, or over a
 * socket private to the user, and is never logged (`config/redact.ts`).
 *
 * @module
 */
import { loadConfig } from '../config/load.ts';
import { renamedTo } from '../config/renamed-settings.ts';
import type { CacheConfig, CacheConfigOptions } from '../config/settings.ts';

let defaults: CacheConfig | undefined;

/** See the module's documentation. */
export interface WorkerSettings {
  /** The owner's resolved configuration. */
  readonly config: Readonly<CacheConfig>;
  /** `auto`: Node's internal ticket key callback when present; `fallback`: the public single-key API. */
  readonly ticketMode: 'auto' | 'fallback';
}

/** The settings message for `config`. */
export function workerSettings(config: Readonly<CacheConfig>, ticketMode: 'auto' | 'fallback'): WorkerSettings {
  return { config, ticketMode };
}

/**
 * Settings that came from another thread or process, checked as
 * `loadConfig()` checks options (every setting's type and range, and the
 * ones that go together); `undefined` when they do not hold, so that a
 * malformed or forged message is refused whole.
 */
export function readWorkerSettings(value: unknown): WorkerSettings | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { config, ticketMode } = value as { config?: unknown; ticketMode?: unknown };
  if (ticketMode !== 'auto' && ticketMode !== 'fallback') return undefined;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) return undefined;
  // A setting at its default is left unset: loadConfig checks the ones that go together (Redis) by whether they were set.
  defaults ??= loadConfig({}, {});
  const options: CacheConfigOptions = {};
  for (const [name, setting] of Object.entries(config)) {
    // An owner of 0.1 names two settings as it did: read under their new names, with no warning (the user set nothing).
    const option = renamedTo(name) ?? name;
    if (setting !== (defaults as unknown as Record<string, unknown>)[option]) (options as Record<string, unknown>)[option] = setting;
  }
  // The key files are the owner's to read; their keys come in the ring.
  delete options.ticketKeyFile;
  try {
    return { config: Object.freeze(loadConfig(options, {})), ticketMode };
  } catch {
    return undefined;
  }
}
