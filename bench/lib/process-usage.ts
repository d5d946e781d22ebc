/**
 * CPU time and memory of a process and its descendants, from Linux's
 * `/proc` (every thread of a process is included in its own figures). On
 * other systems the readers return `undefined`.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of `/proc/<pid>/stat` (`getconf CLK_TCK`, almost always 100). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** The fields of `/proc/<pid>/stat` after the command name (field 3 is index 0). */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and every live descendant. */
function processTree(pid: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [pid];
  }
  const children = new Map<number, number[]>();
  for (const name of entries) {
    const fields = statFields(Number(name));
    if (fields === undefined) continue;
    const parent = Number(fields[1]);
    const list = children.get(parent) ?? [];
    list.push(Number(name));
    children.set(parent, list);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/** User plus system CPU seconds of `pid` and its descendants (`undefined` without `/proc`). */
export function treeCpuSeconds(pid: number): number | undefined {
  let ticks = 0;
  let found = false;
  for (const member of processTree(pid)) {
    const fields = statFields(member);
    if (fields === undefined) continue;
    found = true;
    // utime and stime are fields 14 and 15 of stat.
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return found ? ticks / clockTicks() : undefined;
}

/**
 * Resident memory in bytes of `pid` and its descendants, summed (pages
 * shared between processes, e.g. nginx's workers, count once per process),
 * and the sum of their peaks (`VmHWM`).
 */
export function treeMemory(pid: number): { rssBytes: number; peakRssBytes: number; processes: number } | undefined {
  let rssBytes = 0;
  let peakRssBytes = 0;
  let processes = 0;
  for (const member of processTree(pid)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${member}/status`, 'utf8');
    } catch {
      continue;
    }
    const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    rssBytes += kib('VmRSS');
    peakRssBytes += kib('VmHWM');
    processes++;
  }
  return processes > 0 ? { rssBytes, peakRssBytes, processes } : undefined;
}
