/**
 * Runs once before the suites (tap's `before`): one line for each missing
 * requirement, saying which suites it skips and how to install it; with
 * `CI=true`, a missing one fails the run before any suite starts.
 */
import { REQUIREMENTS, onPath, strict } from './requirements.ts';

const missing = REQUIREMENTS.filter((requirement) => !onPath(requirement.command));
for (const { command, install } of missing) {
  if (strict()) console.error(`${command} is not installed, and CI=true requires every suite: install it (${install})`);
  else console.log(`${command} is not installed: the suites that need it are skipped (install it: ${install})`);
}
if (missing.length > 0 && strict()) process.exitCode = 1;
