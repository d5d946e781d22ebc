/**
 * "Did you mean …?": the one way a message suggests the name a person
 * meant, for an unknown setting's variable (`unknown-settings.ts`), an
 * unknown option of `loadConfig()` (`load.ts`) and an unknown option of the
 * command line (`cli/main.ts`). One distance (Levenshtein's, by
 * `fastest-levenshtein`) and one threshold ({@link nearestName}).
 *
 * @module
 */
import { closest, distance } from 'fastest-levenshtein';

/**
 * Edits always allowed, however short the name: a short name's slip
 * (`--prot` for `--port`, `SIZ` for `SIZE`) is still a slip.
 */
const MIN_EDITS = 2;

/** A name as compared: lower case, letters and digits only (`LOG_LEVEL`, `logLevel` and `log-level` are one). */
function simplified(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * The candidate `name` most likely stands for, or `undefined` when none is
 * close enough to be a misspelling of it. Names are compared simplified
 * (lower case, letters and digits only), by Levenshtein distance; the
 * closest candidate is close enough when it is at most a third of the
 * simplified name's length of edits away, or {@link MIN_EDITS}, whichever
 * is more. The candidate is returned as given.
 * @example nearestName('TIMOUT', ['SIZE', 'TIMEOUT']) // 'TIMEOUT'
 */
export function nearestName(name: string, candidates: readonly string[]): string | undefined {
  const wanted = simplified(name);
  if (wanted === '' || candidates.length === 0) return undefined;
  const keys = candidates.map(simplified);
  const nearest = closest(wanted, keys);
  if (distance(wanted, nearest) > Math.max(MIN_EDITS, Math.floor(wanted.length / 3))) return undefined;
  return candidates[keys.indexOf(nearest)];
}
