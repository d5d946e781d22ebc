/**
 * ioredis, loaded on first use. Most processes never talk to Redis (a
 * deployment on one host): they should not pay for loading it, which is
 * the largest module this package imports (more of a process's start than
 * prom-client or pino: docs/redis.md#connections), and the cache daemon and
 * every worker process start when an app starts.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';

const require = createRequire(import.meta.url);
let loaded: typeof IORedis | undefined;

/** The ioredis module (CommonJS), loaded now if it was not. */
export function ioredis(): typeof IORedis {
  return (loaded ??= require('ioredis') as typeof IORedis);
}
