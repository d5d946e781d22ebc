/**
 * The Node.js lines the package claims, read from `engines.node` in
 * package.json (`^22.12.0 || ^24.0.0 || ^26.0.0`): one caret range per
 * line, the lowest first. Every line is tested (docs/package.md): the
 * repository's own Node runs the whole suite, the others the suites of
 * test/other-nodes.txt (test/helpers/other-nodes.ts).
 */
import { readFileSync } from 'node:fs';

export interface NodeLine {
  /** `22` */
  major: number;
  /** The first release the range takes: `22.12.0`. */
  floor: string;
}

/** `^22.12.0 || ^24.0.0` → its lines; anything else throws, so that `engines` stays in the form the tests read. */
export function nodeLines(range: string): NodeLine[] {
  const lines = range.split('||').map((part) => {
    const match = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(part.trim());
    if (!match) throw new Error(`engines.node ${JSON.stringify(range)}: each part must be a caret range (^22.12.0), not ${JSON.stringify(part.trim())}`);
    return { major: Number(match[1]), floor: `${match[1]}.${match[2]}.${match[3]}` };
  });
  if (lines.some((line, i) => i > 0 && line.major <= lines[i - 1].major)) throw new Error(`engines.node ${JSON.stringify(range)}: the lines must be in ascending order`);
  return lines;
}

/** The lines of this repository's package.json. */
export function claimedNodeLines(): NodeLine[] {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
  return nodeLines(manifest.engines.node);
}
