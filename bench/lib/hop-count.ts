/**
 * Counts the package's function calls ("hops") between two points of one
 * thread, with V8's precise coverage (call counts per function), read
 * synchronously through the thread's own inspector session: `reset()` at
 * the start of a segment, `take()` at its end. Only functions of `lib/`
 * and `workers/` count; Node's own and the benchmark's do not.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';

/** One function of the package called in a segment. */
export interface Hop {
  /** Its file, from the repository's root (`lib/owner/owner-level.ts`). */
  file: string;
  /** Its name (`OwnerLevel.lookUp`; `(anonymous)` for an arrow function), with its line. */
  fn: string;
  /** How many times it was called. */
  calls: number;
}

const root = fileURLToPath(new URL('../../', import.meta.url));
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: false });

interface FunctionCoverage {
  functionName: string;
  ranges: Array<{ startOffset: number; endOffset: number; count: number }>;
}

function coverage(): Array<{ url: string; functions: FunctionCoverage[] }> {
  let result: Array<{ url: string; functions: FunctionCoverage[] }> = [];
  // A session of this thread answers synchronously.
  session.post('Profiler.takePreciseCoverage', (error, answer) => {
    if (error) throw error;
    result = answer.result as typeof result;
  });
  return result;
}

/** Starts a segment: the counts so far are dropped. */
export function reset(): void {
  coverage();
}

/** Ends a segment: the package's functions called since {@link reset}. */
export function take(): Hop[] {
  const hops: Hop[] = [];
  for (const script of coverage()) {
    if (!script.url.startsWith('file://')) continue;
    const file = fileURLToPath(script.url).slice(root.length);
    if (!/^(lib|workers)\//.test(file)) continue;
    for (const { functionName, ranges } of script.functions) {
      const calls = ranges[0]?.count ?? 0;
      // The script's own top level is not a call on the path.
      if (calls === 0 || functionName === '' && ranges[0]!.startOffset === 0) continue;
      hops.push({ file, fn: `${functionName || '(anonymous)'}:${lineOf(file, ranges[0]!.startOffset)}`, calls });
    }
  }
  return hops;
}

const sources = new Map<string, string>();

/** The line of a character offset (type stripping keeps offsets: types become blanks). */
function lineOf(file: string, offset: number): number {
  let text = sources.get(file);
  if (text === undefined) sources.set(file, (text = readFileSync(root + file, 'utf8')));
  return text.slice(0, offset).split('\n').length;
}
