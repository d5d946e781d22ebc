/**
 * The TCP ports some processes really listen on, from the kernel's tables
 * (Linux: `/proc/net/tcp` and `tcp6`, state `0A`, LISTEN) and the sockets
 * each process holds (`/proc/<pid>/fd`), for the tests that check what a
 * runtime says of its ports.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The ports, sorted and each once, of the listening sockets any of `pids` holds. */
export function listeningPorts(pids: readonly number[]): number[] {
  const held = new Set<string>();
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode !== undefined) held.add(inode);
      } catch {
        // Closed meanwhile.
      }
    }
  }
  const ports = ['/proc/net/tcp', '/proc/net/tcp6']
    .flatMap((file) => readFileSync(file, 'utf8').split('\n').slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[3] === '0A' && held.has(fields[9]))
    .map((fields) => parseInt(fields[1].split(':').pop()!, 16));
  return [...new Set(ports)].sort((a, b) => a - b);
}
