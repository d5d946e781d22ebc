/**
 * The levels held in this machine's memory: the shared table
 * ({@link tableLevel}, a worker thread's first level, and the owner's
 * table) and a worker process's local copy ({@link localCopyLevel}). Both
 * answer synchronously.
 *
 * @module
 */
import type { LocalSessions } from './local-sessions.ts';
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

/** A worker process's local copy as a level: bounded, least recently used out first. */
export function localCopyLevel(local: LocalSessions, onHit?: () => void): SessionLevel {
  return {
    name: 'local copy',
    lookUp(id) {
      const session = local.get(id);
      if (session === undefined) return 'not_found';
      onHit?.();
      return session;
    },
    put: (id, session, expiresAt) => local.set(id, session, expiresAt),
    delete(id) {
      local.delete(id);
    },
    forget(id) {
      local.delete(id);
    },
  };
}
