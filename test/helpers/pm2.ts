/**
 * Real PM2 from npm running `examples/pm2/` (the app imports the built
 * package by its name), for the PM2 suites: where PM2 and the example are,
 * and PM2's command line with an environment of the suite's.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PM2 = join(ROOT, 'node_modules', 'pm2', 'bin', 'pm2');
/** The example's ecosystem file. */
export const ECOSYSTEM = join(ROOT, 'examples', 'pm2', 'ecosystem.config.cjs');
/** The app's name in that file. */
export const APP = 'tls-resumption-example';

/**
 * PM2's command line on this Node, in the repository, with `env` as it is
 * at each call (a suite may change it before `pm2 reload --update-env`).
 * @throws Error at once when `dist/` is missing: the example imports the built package.
 */
export function pm2With(env: NodeJS.ProcessEnv): (...args: string[]) => Promise<{ stdout: string }> {
  if (!existsSync(join(ROOT, 'dist', 'lib', 'index.js'))) throw new Error('the PM2 example imports the built package: run npm run build first (npm test does)');
  return (...args) => promisify(execFile)(process.execPath, [PM2, ...args], { env, cwd: ROOT });
}
