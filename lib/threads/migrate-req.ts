/**
 * Linux's `net.ipv4.tcp_migrate_req`, read for the reload's warning.
 *
 * Worker threads listen on one port with `SO_REUSEPORT`: the kernel gives
 * each listening socket its own queue of connections. When a socket closes
 * (a reload retiring an old thread), connections the kernel completed on it
 * that the thread had not accepted yet are reset, unless
 * `tcp_migrate_req` is 1 (Linux 5.14 and later, per network namespace):
 * then the kernel moves them to another socket of the group.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** The setting's file. */
const TCP_MIGRATE_REQ = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * `'on'` (1), `'off'` (0), `'missing'` (Linux without it: before 5.14), or
 * `'unknown'` (not Linux, or the file cannot be read).
 */
export function tcpMigrateReq(path = TCP_MIGRATE_REQ): 'on' | 'off' | 'missing' | 'unknown' {
  if (process.platform !== 'linux') return 'unknown';
  try {
    return readFileSync(path, 'utf8').trim() === '0' ? 'off' : 'on';
  } catch (error) {
    return (error as { code?: unknown }).code === 'ENOENT' ? 'missing' : 'unknown';
  }
}

/** What a reload warns of, once per cluster, when the kernel does not migrate connections. */
export const MIGRATE_REQ_WARNING = {
  off:
    'net.ipv4.tcp_migrate_req is 0: as each old worker closes its listening socket, connections the kernel queued on it ' +
    'and the worker had not accepted yet are reset; set it to 1 (sysctl -w net.ipv4.tcp_migrate_req=1, and in /etc/sysctl.d) ' +
    'for reloads that lose no connection',
  missing:
    'this kernel has no net.ipv4.tcp_migrate_req (Linux 5.14 and later): as each old worker closes its listening socket, ' +
    'connections the kernel queued on it and the worker had not accepted yet are reset',
} as const;
