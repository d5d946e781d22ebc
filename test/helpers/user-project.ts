/**
 * The package as a user gets it: `npm pack` of the built `dist/`, then
 * `npm install ./tls-resumption-X.tgz` in an empty project outside the
 * repository, with the fixtures of test/fixtures/package beside it and a
 * certificate made by `openssl`. Removed at the test's teardown.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/package', import.meta.url));

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface UserProject {
  /** The project's directory: node_modules/tls-resumption, the fixtures, cert.pem and key.pem. */
  dir: string;
  /** Paths inside the tarball, without the leading `package/`. */
  files: string[];
  /** The environment naming the certificate files (APP_CERT, APP_KEY). */
  certificate: { APP_CERT: string; APP_KEY: string };
}

/** Runs a command; rejects with its output when it fails. */
export function command(file: string, args: string[], cwd: string, timeout = 240_000): Promise<string> {
  // npm test's own npm_* variables would steer the inner npm (its prefix, its script): leave them out.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('npm_')));
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * Throws unless `dist/` was built after the last change to `lib/` and
 * `workers/`. `npm test` builds it before the suites; the pack below does
 * not run the prepack build, which would delete `dist/` under the suites
 * that use it.
 */
function checkBuilt(): void {
  const built = join(REPOSITORY, 'dist', 'lib', 'index.js');
  if (!existsSync(built)) throw new Error('dist/ is not built: run `npm run build` (npm test does) before this suite');
  const builtAt = statSync(built).mtimeMs;
  for (const folder of ['lib', 'workers']) {
    for (const name of readdirSync(join(REPOSITORY, folder), { recursive: true, encoding: 'utf8' })) {
      if (name.endsWith('.ts') && statSync(join(REPOSITORY, folder, name)).mtimeMs > builtAt) {
        throw new Error(`dist/ is older than ${folder}/${name}: run \`npm run build\` (npm test does) before this suite`);
      }
    }
  }
}

/** Packs the repository (its built `dist/`) and installs the tarball into a new project in the temporary directory. */
export async function userProject(t: Teardown): Promise<UserProject> {
  checkBuilt();
  const scratch = mkdtempSync(join(tmpdir(), 'tls-resumption-user-'));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  const packed = JSON.parse(await command('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], REPOSITORY)) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  const dir = join(scratch, 'app');
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  // --prefer-online: the dependencies' versions the registry serves today, as a user gets them (a warm cache
  // may still hold an older release; issue 21 was a new ioredis that only a fresh machine was served).
  await command('npm', ['install', '--no-audit', '--no-fund', '--prefer-online', join(scratch, packed[0].filename)], dir);
  for (const name of readdirSync(FIXTURES)) copyFileSync(join(FIXTURES, name), join(dir, name));
  copyFileSync(fileURLToPath(new URL('../fixtures/resume-client.py', import.meta.url)), join(dir, 'resume-client.py'));
  await command(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    dir,
  );
  return {
    dir,
    files: packed[0].files.map((file) => file.path),
    certificate: { APP_CERT: join(dir, 'cert.pem'), APP_KEY: join(dir, 'key.pem') },
  };
}

/** Installs the registry's `node` package at `version` in a directory of its own; resolves to the binary. */
export async function installNode(t: Teardown, version: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), `tls-resumption-node-${version}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'node-floor', version: '1.0.0', private: true }));
  await command('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `node@${version}`], dir);
  return join(dir, 'node_modules', '.bin', 'node');
}

/** The repository's TypeScript compiler (the consumer type-checks with it). */
export const TSC = join(REPOSITORY, 'node_modules', 'typescript', 'bin', 'tsc');
/** The repository's Node type declarations. */
export const NODE_TYPES = join(REPOSITORY, 'node_modules', '@types');
