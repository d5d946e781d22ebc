/**
 * tls-session-cache: TLS session resumption shared across every worker
 * thread of a clustered Node.js server.
 *
 * @module
 */
export { SessionTable } from './table.ts';
export type { SessionTableOptions, OpenTableOptions, TableStats } from './table.ts';
export * from './errors.ts';
