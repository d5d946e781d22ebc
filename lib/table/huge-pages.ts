/**
 * Whether the session table's memory gets transparent huge pages.
 *
 * A lookup in a large table waits for two memory accesses, one after the
 * other (its bucket, then its record). With 4 KiB pages each is also a TLB
 * miss, and on a virtual machine a TLB miss is a nested page walk. With
 * 2 MiB pages the whole table fits in the TLB, and each access is the
 * faster for it (how much, measured: docs/how-the-table-works.md#huge-pages
 * and docs/benchmarks.md#the-table).
 *
 * Node allocates a SharedArrayBuffer with `malloc`, and glibc maps a large
 * one on its own. Under the kernel's usual policy (`madvise`), such a mapping
 * gets huge pages only when glibc is told to advise it, by this environment
 * variable at process start:
 *
 *     GLIBC_TUNABLES=glibc.malloc.hugetlb=1
 *
 * Nothing here changes memory; this module only tells the primary what to
 * log, and the benchmark what it measured.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** The kernel's transparent huge page policy. */
type HugePagePolicy = 'always' | 'madvise' | 'never' | 'unknown';

/** What {@link hugePageSupport} found. */
export interface HugePageSupport {
  /** `/sys/kernel/mm/transparent_hugepage/enabled`, or `unknown` (not Linux, or unreadable). */
  policy: HugePagePolicy;
  /** The `glibc.malloc.hugetlb` tunable given in `GLIBC_TUNABLES` (0 when absent), when the runtime uses glibc; `undefined` otherwise. */
  glibcHugetlb: number | undefined;
  /** Whether a table allocated by this process should be backed by huge pages. */
  expected: boolean;
  /** What to do to get them, when they are not expected and could be; `undefined` otherwise. */
  advice: string | undefined;
}

/** The tunable that makes glibc advise huge pages for its large mappings. */
export const GLIBC_HUGE_PAGES = 'glibc.malloc.hugetlb=1';

const POLICY_FILE = '/sys/kernel/mm/transparent_hugepage/enabled';

/**
 * Reads the kernel's policy and the process's glibc tunable.
 * @param env - the environment the process started with. @defaultValue `process.env`
 */
export function hugePageSupport(env: NodeJS.ProcessEnv = process.env): HugePageSupport {
  const policy = readPolicy();
  const glibcHugetlb = usesGlibc() ? hugetlbTunable(env.GLIBC_TUNABLES) : undefined;
  const expected = policy === 'always' || (policy === 'madvise' && glibcHugetlb !== undefined && glibcHugetlb >= 1);
  const advice =
    !expected && policy === 'madvise' && glibcHugetlb !== undefined
      ? `start node with GLIBC_TUNABLES=${GLIBC_HUGE_PAGES} in its environment: lookups in a large table are faster on huge pages`
      : undefined;
  return { policy, glibcHugetlb, expected, advice };
}

/**
 * The `glibc.malloc.hugetlb` value in a `GLIBC_TUNABLES` string
 * (`name=value` pairs separated by colons), or 0 when it has none.
 */
export function hugetlbTunable(tunables: string | undefined): number {
  let value = 0;
  for (const pair of (tunables ?? '').split(':')) {
    const match = /^glibc\.malloc\.hugetlb=(\d+)$/.exec(pair.trim());
    if (match !== null) value = Number(match[1]);
  }
  return value;
}

/**
 * Bytes of this process's anonymous memory that sit in transparent huge
 * pages (`AnonHugePages` of `/proc/self/smaps_rollup`), or `undefined` where
 * that cannot be read.
 */
export function anonHugePageBytes(): number | undefined {
  try {
    const match = /^AnonHugePages:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

function readPolicy(): HugePagePolicy {
  try {
    const match = /\[(always|madvise|never)\]/.exec(readFileSync(POLICY_FILE, 'utf8'));
    return match === null ? 'unknown' : (match[1] as HugePagePolicy);
  } catch {
    return 'unknown';
  }
}

function usesGlibc(): boolean {
  if (process.platform !== 'linux') return false;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return typeof header?.glibcVersionRuntime === 'string';
}
