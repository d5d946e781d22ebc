/**
 * The shared table as a level ({@link tableLevel}): a worker thread's
 * first level. It answers synchronously. (A worker process's local copy,
 * `local-sessions.ts`, is a level itself.)
 *
 * @module
 */
import type { SessionTable } from '../table/session-table.ts';
import type { SessionLevel } from './levelled-store.ts';

/**
 * The shared table as a level. A hit is a view into one buffer of this
 * level's, valid until its next lookup (the TLS hooks hand it to Node at
 * once): nothing is allocated per lookup.
 */
export function tableLevel(table: SessionTable): SessionLevel {
  const target = Buffer.allocUnsafeSlow(table.maxSessionSize);
  return {
    name: 'table',
    lookUp: (id) => table.lookUp(id, target),
    put: (id, session, expiresAt) => table.set(id, session, expiresAt),
    delete(id) {
      table.delete(id);
    },
    forget(id) {
      table.delete(id);
    },
  };
}
