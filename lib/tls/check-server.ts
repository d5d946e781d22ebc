/**
 * The check every `attach*` function makes of the server it is given.
 *
 * @module
 */
import { Server as TlsServer } from 'node:tls';
import { describe } from '../describe.ts';
import { InvalidOptionError } from '../errors.ts';

/**
 * @throws InvalidOptionError (`ERR_TLS_CACHE_INVALID_OPTION`, option
 * `server`) unless `server` is a `tls.Server` (https and http2 secure
 * servers are ones).
 */
export function checkTlsServer(server: unknown): asserts server is TlsServer {
  if (!(server instanceof TlsServer)) {
    throw new InvalidOptionError('server', `expected a tls.Server (https and http2 secure servers are ones), got ${describe(server)}`);
  }
}
