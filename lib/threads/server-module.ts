/**
 * Where the cluster's server module is, checked before any thread starts.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidOptionError, ServerModuleError } from '../errors.ts';
import { describe } from '../describe.ts';

/**
 * The server module's URL; a `file:` module must exist, so that a typo fails
 * here rather than in every thread.
 */
export function moduleUrl(server: unknown): string {
  if (!(server instanceof URL) && (typeof server !== 'string' || server === '')) {
    throw new InvalidOptionError('server', `expected a module path or URL, got ${describe(server)}`);
  }
  const url =
    server instanceof URL
      ? server
      : /^[a-z][a-z0-9+.-]*:/i.test(server) && !/^[a-z]:[\\/]/i.test(server)
        ? new URL(server)
        : pathToFileURL(resolvePath(server));
  if (url.protocol === 'file:' && !isFile(url)) {
    throw new ServerModuleError(String(server), `No such server module: ${fileURLToPath(url)}`);
  }
  return url.href;
}

function isFile(url: URL): boolean {
  try {
    return statSync(url).isFile();
  } catch {
    return false;
  }
}

