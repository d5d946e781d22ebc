/**
 * The declarations of every setting of the cache and of the cluster
 * runtime: {@link CacheConfig} (the resolved values) and {@link SETTINGS},
 * where each setting is declared once with its option name, its
 * `TLS_CACHE_*` variable, its kind (which decides how text is parsed, see
 * `kinds.ts`), its default as a person writes it, and its range.
 *
 * `load.ts` resolves them (`loadConfig`), `redact.ts` hides their secrets
 * from logs and `unknown-settings.ts` finds variables that are none of
 * them; `test/helpers/settings-table.ts` renders them as
 * docs/configuration.md's table, which `test/readme.ts` checks.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { GiB, KiB, MiB, SECOND, DAY, type SettingKind } from './kinds.ts';

/** The resolved configuration; see {@link SETTINGS} for the variables. */
export interface CacheConfig {
  /**
   * Bytes of shared memory for the session table, metadata included.
   * `TLS_CACHE_SIZE`; from 64 KiB to 2 GiB.
   * @defaultValue 33554432 (32 MiB)
   */
  size: number;
  /**
   * Largest session stored, in bytes. `TLS_CACHE_MAX_SESSION_SIZE`; from 1 to 65536.
   * @defaultValue 8192 (8 KiB)
   */
  maxSessionSize: number;
  /**
   * Lifetime of a session, in whole seconds (Node's TLS `sessionTimeout`),
   * counted from its full handshake however often it resumes, by session ID
   * or by ticket. `TLS_CACHE_SESSION_TIMEOUT` (as nginx's `ssl_session_timeout`;
   * before 0.2 `timeout` and `TLS_CACHE_SESSION_TIMEOUT`, still read until 0.3:
   * `renamed-settings.ts`); from 1 to 604800 (7 days). An hour by
   * default: the bound is exact (renewed TLS 1.3 tickets do not extend it),
   * so a client pays one full handshake per session timeout, and a client
   * returning every minute still resumes 59 times in 60.
   * @defaultValue 3600 (1 hour)
   */
  sessionTimeout: number;
  /**
   * Period of the sweep of expired sessions, in milliseconds; 0 turns it off.
   * `TLS_CACHE_SWEEP_INTERVAL`.
   * @defaultValue 10000
   */
  sweepInterval: number;
  /**
   * Number of worker threads. `TLS_CACHE_WORKERS`; from 1 to 256.
   * @defaultValue `os.availableParallelism()`, at most 256
   */
  workers: number;
  /**
   * How long open connections may finish after SIGTERM or SIGINT, and an
   * old worker's during a reload (SIGHUP), in milliseconds.
   * `TLS_CACHE_SHUTDOWN_TIMEOUT`.
   * @defaultValue 10000
   */
  shutdownTimeout: number;
  /**
   * First delay before restarting a crashed worker, in milliseconds; it
   * doubles with each quick crash. `TLS_CACHE_RESTART_DELAY`.
   * @defaultValue 100
   */
  restartDelay: number;
  /**
   * Longest delay before restarting a crashed worker, in milliseconds; never
   * less than `restartDelay`. `TLS_CACHE_MAX_RESTART_DELAY`.
   * @defaultValue 10000
   */
  maxRestartDelay: number;
  /**
   * Pino log level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or
   * `silent`. `TLS_CACHE_LOG_LEVEL`.
   * @defaultValue `'info'`
   */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * How log lines are written: `'json'` (one JSON object a line, for log
   * collectors), `'pretty'` (pino-pretty: readable lines, coloured on a
   * terminal), or `'auto'`: pretty when standard output is a terminal,
   * JSON otherwise. `TLS_CACHE_LOG_FORMAT`.
   * @defaultValue `'auto'`
   */
  logFormat: 'auto' | 'json' | 'pretty';
  /**
   * Period of the debug-level cache statistics log line, in milliseconds;
   * 0 turns it off. `TLS_CACHE_STATS_INTERVAL`.
   * @defaultValue 60000
   */
  statsInterval: number;
  /**
   * Whether session tickets are issued, with keys shared by every worker
   * (`'on'`), or not at all (`'off'`: servers must then be created with
   * `SSL_OP_NO_TICKET`, and TLS 1.2 clients resume by session ID).
   * `TLS_CACHE_TICKETS`.
   * @defaultValue `'on'`
   */
  tickets: 'on' | 'off';
  /**
   * How long a ticket key encrypts before the next one takes over, in
   * milliseconds; it then decrypts for the session timeout more.
   * `TLS_CACHE_TICKET_ROTATE`; from 1 s to 24 days, and frequent enough at
   * most 62 times per session timeout.
   * @defaultValue the session timeout (`sessionTimeout * 1000`)
   */
  ticketRotate: number;
  /**
   * nginx `ssl_session_ticket_key` files (48 bytes each), comma-separated:
   * the first key encrypts, the others decrypt; no scheduled rotation.
   * Empty for random keys. `TLS_CACHE_TICKET_KEY_FILE`.
   * @defaultValue `''` (random keys)
   */
  ticketKeyFile: string;
  /**
   * Port of the primary's HTTP endpoint serving `/metrics` (Prometheus) and
   * `/health`; 0 turns it off. `TLS_CACHE_METRICS_PORT`; from 0 to 65535.
   * @defaultValue 0 (off)
   */
  metricsPort: number;
  /**
   * Address the metrics endpoint listens on. `TLS_CACHE_METRICS_HOST`.
   * @defaultValue `'127.0.0.1'`
   */
  metricsHost: string;
  /**
   * Period of the info-level summary log line (resumption ratio, handshakes,
   * entries, evictions), in milliseconds; 0 turns it off.
   * `TLS_CACHE_SUMMARY_INTERVAL`.
   * @defaultValue 60000
   */
  summaryInterval: number;
  /**
   * The TLS session ID context of every server (Node's `sessionIdContext`
   * option, at most 32 bytes). OpenSSL resumes a session only under the
   * context it was made in, and Node's own default is a hash of
   * `process.argv`, which differs between processes and hosts started with
   * other command lines: every process and host of one deployment must use
   * the same. `TLS_CACHE_SESSION_ID_CONTEXT`.
   * @defaultValue `'tls-resumption'`
   */
  sessionIdContext: string;
  /**
   * Worker processes (`node:cluster`, PM2, systemd units): how long a
   * lookup may wait for the owner of the table (the primary, or the cache
   * daemon) before the handshake goes on as a miss, in milliseconds.
   * `TLS_CACHE_OWNER_TIMEOUT` (before 0.2 `ipcTimeout` and
   * `TLS_CACHE_IPC_TIMEOUT`, still read until 0.3: `renamed-settings.ts`).
   * @defaultValue 5
   */
  ownerTimeout: number;
  /**
   * Worker processes (`node:cluster`, PM2, systemd units): bytes of each
   * process's own bounded copy of the sessions it has seen; 0 turns it off. `TLS_CACHE_LOCAL_SIZE`.
   * @defaultValue 1048576 (1 MiB)
   */
  localSize: number;
  /**
   * The host-local Unix socket where the owner of the table and the ticket
   * key ring (the cache daemon) answers processes with no primary of their
   * own: PM2 cluster mode, systemd units, plain processes. The directory
   * is made private to the user (mode 0700) and the socket 0600.
   * `TLS_CACHE_SOCKET`.
   * @defaultValue `''`: `$XDG_RUNTIME_DIR/tls-resumption/<context>-<digest>.sock`, or
   * `<os.tmpdir()>/tls-resumption-<uid>/<context>-<digest>.sock` without `XDG_RUNTIME_DIR`,
   * the digest of the session ID context, the session timeout and tickets (`owner/socket-path.ts`)
   */
  socket: string;
  /**
   * The cache daemon: how long it runs with no process attached before it
   * stops (its sessions and ticket keys go with it, unless Redis holds
   * them), in milliseconds; 0: it never stops by itself.
   * `TLS_CACHE_DAEMON_IDLE_TIMEOUT`.
   * @defaultValue 600000 (10 minutes: a stop-and-start deploy finds its sessions)
   */
  daemonIdleTimeout: number;
  /**
   * Redis shared by the hosts of a deployment, as a `redis://` or
   * `rediss://` URL (it may carry a password: it is never logged); with
   * `redisMode` `cluster`, a comma-separated list of seed nodes; with
   * `sentinel`, of sentinels. Empty: no Redis, sessions stay on this host.
   * `TLS_CACHE_REDIS_URL`.
   * @defaultValue `''` (off)
   */
  redisUrl: string;
  /**
   * How `redisUrl` reaches Redis: `'standalone'` (one server, or a primary
   * behind a stable address), `'cluster'` (a Redis Cluster: the URLs are
   * seed nodes) or `'sentinel'` (the URLs are sentinels, which name the
   * master of `redisSentinelName`). `TLS_CACHE_REDIS_MODE`.
   * @defaultValue `'standalone'`
   */
  redisMode: 'standalone' | 'cluster' | 'sentinel';
  /**
   * With `redisMode` `sentinel`: the name of the master group the sentinels
   * monitor. `TLS_CACHE_REDIS_SENTINEL_NAME`.
   * @defaultValue `'mymaster'`
   */
  redisSentinelName: string;
  /**
   * With `redisMode` `sentinel`: the password of the sentinels themselves,
   * when they require one (the URLs' password is the master's and
   * replicas'). Never logged. `TLS_CACHE_REDIS_SENTINEL_PASSWORD`.
   * @defaultValue `''` (none)
   */
  redisSentinelPassword: string;
  /**
   * How long a handshake may wait for Redis before going on as a miss, in
   * milliseconds. `TLS_CACHE_REDIS_TIMEOUT`.
   * @defaultValue 5
   */
  redisTimeout: number;
  /**
   * The secret every host of a deployment shares, from which the key that
   * encrypts and authenticates sessions and ticket keys in Redis is derived;
   * at least 32 characters (e.g. `openssl rand -base64 32`). Required with
   * `redisUrl`; never logged. `TLS_CACHE_REDIS_SECRET`.
   * @defaultValue `''` (none)
   */
  redisSecret: string;
  /**
   * The secret the deployment used before `redisSecret`, while hosts move
   * to the new one: what it sealed still opens, and what this host writes is
   * sealed under both, so hosts still on the previous secret open it too.
   * Never logged. `TLS_CACHE_REDIS_SECRET_PREVIOUS`.
   * @defaultValue `''` (none)
   */
  redisSecretPrevious: string;
  /**
   * Prefix of every Redis key of this deployment, so unrelated deployments
   * can share one Redis; no `{` or `}` (the keys' Redis Cluster hash tags
   * are made of it). `TLS_CACHE_REDIS_NAMESPACE`.
   * @defaultValue `'tls-resumption'`
   */
  redisNamespace: string;
}

/**
 * The settings as code passes them (the `config` option of `startThreadCluster`,
 * `runThreadCluster`, `startClusterCache`, and `loadConfig`): each one either in
 * the unit of {@link CacheConfig} (bytes; milliseconds; whole seconds for
 * `sessionTimeout`, as Node's), or as the text its environment
 * variable takes, units included (`'64MiB'`, `'5m'`, `'500ms'`), which
 * avoids mixing up seconds and milliseconds.
 */
export type CacheConfigOptions = { [K in keyof CacheConfig]?: CacheConfig[K] | string } & {
  /** @deprecated Use `sessionTimeout`, the same setting; this name goes in 0.3 (warning `TLS_CACHE_DEP003`). */
  timeout?: number | string;
  /** @deprecated Use `ownerTimeout`, the same setting; this name goes in 0.3 (warning `TLS_CACHE_DEP004`). */
  ipcTimeout?: number | string;
};

/** One entry of {@link SETTINGS}. */
export interface Setting {
  /** Name of the programmatic option (a key of {@link CacheConfig}). */
  readonly option: keyof CacheConfig;
  /** Name of the environment variable. */
  readonly env: string;
  /** How its text is parsed. */
  readonly kind: SettingKind;
  /** The default as a person writes it, e.g. `32MiB`. */
  readonly default: string;
  /** What it does, in a sentence or two. */
  readonly description: string;
  /** Smallest value, in the option's unit (bytes, ms or seconds); absent for `logLevel`. */
  readonly min?: number;
  /** Largest value, in the option's unit; absent for `logLevel`. */
  readonly max?: number;
  /** Valid values as a person would write them, shown in error messages. */
  readonly examples: readonly string[];
  /**
   * Whether the value may hold a secret (a password in a URL, a key): error
   * messages never quote it, and `redactConfig` (`redact.ts`) hides it from logs.
   */
  readonly secret?: boolean;
}

/** Node.js timers hold at most 2^31 - 1 ms (24.8 days); this is that, in whole days. */
const MAX_TIMER = 24 * DAY;
const MAX_WORKERS = 256;

/** The declarations, keyed by option so that tsc proves every option has one. */
const DECLARATIONS = {
  size: {
    env: 'TLS_CACHE_SIZE',
    kind: 'size',
    default: '32MiB',
    description:
      'Shared memory for the session table, metadata included; allocated once at startup and never grown. ' +
      '32MiB holds about 160,000 typical TLS 1.2 sessions.',
    min: 64 * KiB,
    max: 2 * GiB,
    examples: ['64MiB', '512KiB', '1GiB'],
  },
  maxSessionSize: {
    env: 'TLS_CACHE_MAX_SESSION_SIZE',
    kind: 'size',
    default: '8KiB',
    description: 'Largest serialized TLS session the cache stores; larger sessions are not stored.',
    min: 1,
    max: 64 * KiB,
    examples: ['8KiB', '16KiB', '4096'],
  },
  sessionTimeout: {
    env: 'TLS_CACHE_SESSION_TIMEOUT',
    kind: 'seconds',
    default: '1h',
    description:
      'How long a session can be resumed, counted from its full handshake however often it resumes ' +
      "(Node's TLS `sessionTimeout`, so whole seconds).",
    min: 1,
    max: 7 * 24 * 3600,
    examples: ['300', '5m', '1h'],
  },
  sweepInterval: {
    env: 'TLS_CACHE_SWEEP_INTERVAL',
    kind: 'duration',
    default: '10s',
    description: 'How often expired sessions are removed from the table; 0 turns the sweep off.',
    min: 0,
    max: MAX_TIMER,
    examples: ['10s', '500ms', '1m'],
  },
  workers: {
    env: 'TLS_CACHE_WORKERS',
    kind: 'integer',
    default: 'os.availableParallelism()',
    description: 'Number of worker threads serving connections.',
    min: 1,
    max: MAX_WORKERS,
    examples: ['4', '16'],
  },
  shutdownTimeout: {
    env: 'TLS_CACHE_SHUTDOWN_TIMEOUT',
    kind: 'duration',
    default: '10s',
    description: 'On SIGTERM or SIGINT, and for each old worker in a reload (SIGHUP), how long open connections may finish before they are closed.',
    min: 0,
    max: MAX_TIMER,
    examples: ['10s', '30s', '1m'],
  },
  restartDelay: {
    env: 'TLS_CACHE_RESTART_DELAY',
    kind: 'duration',
    default: '100ms',
    description:
      'Delay before restarting a crashed worker; it doubles with each crash that follows quickly, ' +
      'up to the maximum restart delay.',
    min: 1,
    max: MAX_TIMER,
    examples: ['100ms', '1s', '2s'],
  },
  maxRestartDelay: {
    env: 'TLS_CACHE_MAX_RESTART_DELAY',
    kind: 'duration',
    default: '10s',
    description: 'Longest delay before restarting a worker that keeps crashing; at least the restart delay.',
    min: 1,
    max: MAX_TIMER,
    examples: ['10s', '30s', '1m'],
  },
  logLevel: {
    env: 'TLS_CACHE_LOG_LEVEL',
    kind: 'level',
    default: 'info',
    description: 'Least severe pino level logged: fatal, error, warn, info, debug, trace or silent.',
    examples: [],
  },
  logFormat: {
    env: 'TLS_CACHE_LOG_FORMAT',
    kind: 'logFormat',
    default: 'auto',
    description: 'How log lines are written: json (one object a line), pretty (readable, coloured on a terminal) or auto (pretty when standard output is a terminal, else json).',
    examples: [],
  },
  statsInterval: {
    env: 'TLS_CACHE_STATS_INTERVAL',
    kind: 'duration',
    default: '1m',
    description: 'How often cache statistics are logged at debug level; 0 turns them off.',
    min: 0,
    max: MAX_TIMER,
    examples: ['1m', '30s', '5m'],
  },
  tickets: {
    env: 'TLS_CACHE_TICKETS',
    kind: 'switch',
    default: 'on',
    description:
      'Session tickets with keys shared by every worker (on), or none (off: servers need SSL_OP_NO_TICKET, ' +
      'and TLS 1.2 clients resume by session ID).',
    examples: [],
  },
  ticketRotate: {
    env: 'TLS_CACHE_TICKET_ROTATE',
    kind: 'duration',
    default: 'TLS_CACHE_SESSION_TIMEOUT',
    description:
      'How long a ticket key encrypts new tickets; it then only decrypts for the session timeout more, then is erased. ' +
      'At most 62 rotations per session timeout.',
    min: SECOND,
    max: MAX_TIMER,
    examples: ['15m', '1h', '6h'],
  },
  ticketKeyFile: {
    env: 'TLS_CACHE_TICKET_KEY_FILE',
    kind: 'paths',
    default: 'none',
    description:
      "nginx ssl_session_ticket_key files (48 bytes each), comma-separated: the first key encrypts, the others decrypt; " +
      'no scheduled rotation. Without them, keys are random.',
    examples: [],
  },
  metricsPort: {
    env: 'TLS_CACHE_METRICS_PORT',
    kind: 'integer',
    default: '0',
    description: 'Port of the HTTP endpoint serving /metrics (Prometheus) and /health, in the primary; 0 turns it off.',
    min: 0,
    max: 65535,
    examples: ['9464', '0'],
  },
  metricsHost: {
    env: 'TLS_CACHE_METRICS_HOST',
    kind: 'host',
    default: '127.0.0.1',
    description: 'Address the metrics endpoint listens on (0.0.0.0 or :: for every address).',
    examples: ['127.0.0.1', '0.0.0.0', '::'],
  },
  summaryInterval: {
    env: 'TLS_CACHE_SUMMARY_INTERVAL',
    kind: 'duration',
    default: '1m',
    description: 'How often a summary line (resumption ratio, handshakes, entries, evictions) is logged at info level; 0 turns it off.',
    min: 0,
    max: MAX_TIMER,
    examples: ['1m', '30s', '5m'],
  },
  sessionIdContext: {
    env: 'TLS_CACHE_SESSION_ID_CONTEXT',
    kind: 'name',
    default: 'tls-resumption',
    description:
      "TLS session ID context of every server: sessions resume only under the context they were made in, and Node's default " +
      '(a hash of the command line) differs between processes and hosts. Use one value per deployment.',
    examples: ['tls-resumption', 'shop-frontend'],
  },
  ownerTimeout: {
    env: 'TLS_CACHE_OWNER_TIMEOUT',
    kind: 'duration',
    default: '5ms',
    description:
      'Worker processes (node:cluster, PM2, systemd units): how long a lookup waits for the owner of the table (the primary or the cache daemon) before the handshake goes on as a miss.',
    min: 1,
    max: 10 * SECOND,
    examples: ['5ms', '20ms', '1s'],
  },
  localSize: {
    env: 'TLS_CACHE_LOCAL_SIZE',
    kind: 'size',
    default: '1MiB',
    description: "Worker processes (node:cluster, PM2, systemd units): memory for each process's own copy of the sessions it has seen; 0 turns it off.",
    min: 0,
    max: 256 * MiB,
    examples: ['1MiB', '256KiB', '0'],
  },
  socket: {
    env: 'TLS_CACHE_SOCKET',
    kind: 'socketPath',
    default: 'per session ID context',
    description:
      'Unix socket of the cache daemon that processes with no primary of their own share (PM2 cluster mode, systemd units); ' +
      'its directory is private to the user (0700). By default $XDG_RUNTIME_DIR/tls-resumption/<context>-<digest>.sock, ' +
      'else <tmpdir>/tls-resumption-<uid>/<context>-<digest>.sock, the digest of the settings every process shares with the daemon ' +
      '(session ID context, session timeout, tickets): a deploy that changes one gets a daemon of its own.',
    examples: ['/run/user/1000/shop.sock'],
  },
  daemonIdleTimeout: {
    env: 'TLS_CACHE_DAEMON_IDLE_TIMEOUT',
    kind: 'duration',
    default: '10m',
    description:
      'The cache daemon: how long it runs with no process attached before it stops (its sessions and ticket keys go with it, ' +
      'unless Redis holds them); 0 keeps it running. Longer than the gap of a stop-and-start deploy, so that the new processes find the sessions.',
    min: 0,
    max: MAX_TIMER,
    examples: ['10m', '1h', '0'],
  },
  redisUrl: {
    env: 'TLS_CACHE_REDIS_URL',
    kind: 'url',
    default: 'none',
    description:
      'Redis shared by the hosts of a deployment (redis:// or rediss://, may carry a password, never logged); ' +
      'a comma-separated list of seed nodes with TLS_CACHE_REDIS_MODE=cluster, of sentinels with sentinel. ' +
      'Without it, sessions and ticket keys stay on this host.',
    examples: ['redis://127.0.0.1:6379', 'rediss://:password@redis.internal:6380/2'],
    secret: true,
  },
  redisMode: {
    env: 'TLS_CACHE_REDIS_MODE',
    kind: 'redisMode',
    default: 'standalone',
    description:
      'How TLS_CACHE_REDIS_URL reaches Redis: standalone (one server), cluster (a Redis Cluster; the URLs are seed nodes) ' +
      'or sentinel (the URLs are sentinels, which name the master).',
    examples: [],
  },
  redisSentinelName: {
    env: 'TLS_CACHE_REDIS_SENTINEL_NAME',
    kind: 'name',
    default: 'mymaster',
    description: 'With TLS_CACHE_REDIS_MODE=sentinel: the master group the sentinels monitor.',
    examples: ['mymaster', 'sessions'],
  },
  redisSentinelPassword: {
    env: 'TLS_CACHE_REDIS_SENTINEL_PASSWORD',
    kind: 'password',
    default: 'none',
    description:
      "With TLS_CACHE_REDIS_MODE=sentinel: the sentinels' own password, when they require one " +
      "(the URLs' password is the master's); never logged.",
    examples: [],
    secret: true,
  },
  redisTimeout: {
    env: 'TLS_CACHE_REDIS_TIMEOUT',
    kind: 'duration',
    default: '5ms',
    description: 'How long a handshake waits for Redis before going on as a miss.',
    min: 1,
    max: 10 * SECOND,
    examples: ['5ms', '20ms', '1s'],
  },
  redisSecret: {
    env: 'TLS_CACHE_REDIS_SECRET',
    kind: 'secret',
    default: 'none',
    description:
      'Secret shared by every host of a deployment, at least 32 characters (openssl rand -base64 32); sessions and ticket keys ' +
      'are encrypted and authenticated in Redis under a key derived from it. Required with TLS_CACHE_REDIS_URL; never logged.',
    examples: [],
    secret: true,
  },
  redisSecretPrevious: {
    env: 'TLS_CACHE_REDIS_SECRET_PREVIOUS',
    kind: 'secret',
    default: 'none',
    description:
      'The secret used before TLS_CACHE_REDIS_SECRET, while hosts move to a new one: what it sealed still opens, and this host ' +
      'seals under both, so hosts still on the previous secret open what it writes. Never logged.',
    examples: [],
    secret: true,
  },
  redisNamespace: {
    env: 'TLS_CACHE_REDIS_NAMESPACE',
    kind: 'name',
    default: 'tls-resumption',
    description:
      'Prefix of every Redis key of this deployment, so unrelated deployments can share one Redis; ' +
      'no { or } (Redis Cluster hash tags are made of it).',
    examples: ['tls-resumption', 'shop-frontend'],
  },
} satisfies Record<keyof CacheConfig, Omit<Setting, 'option'>>;

/**
 * Every setting, in the order of {@link CacheConfig}. Frozen.
 */
export const SETTINGS: readonly Setting[] = Object.freeze(
  Object.entries(DECLARATIONS).map(([option, declaration]): Setting =>
    Object.freeze({ option: option as keyof CacheConfig, ...declaration, examples: Object.freeze(declaration.examples) }),
  ),
);

/**
 * Defaults that are not constants, computed when a configuration is loaded
 * (`loadConfig`); the others are their setting's `default`, parsed.
 */
export const COMPUTED_DEFAULTS: Readonly<Partial<Record<keyof CacheConfig, () => number | string>>> = {
  workers: () => Math.min(MAX_WORKERS, availableParallelism()),
  // Set from the session timeout once it is known (loadConfig).
  ticketRotate: () => 0,
  ticketKeyFile: () => '',
  socket: () => '',
  redisUrl: () => '',
  redisSentinelPassword: () => '',
  redisSecret: () => '',
  redisSecretPrevious: () => '',
};

/** The setting of an option. */
export function settingOf(option: keyof CacheConfig): Setting {
  return SETTINGS.find((s) => s.option === option)!;
}
