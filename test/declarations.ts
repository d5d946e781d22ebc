/**
 * The public declarations as a strict consumer meets them (issue 21): a
 * user's `strict` program without `skipLibCheck` type-checks every
 * declaration file that the package's own public types reach, including
 * its dependencies'. ioredis 6.1.0's declarations import `redis-errors`,
 * which ships no types (TS7016), so a release of a dependency could break
 * every such user. What the main entry's declarations reach is therefore
 * kept to packages that ship their own types, and listed here: a new one
 * is a deliberate change of this list.
 *
 * Checked with the TypeScript compiler's API on `dist/` (built by
 * `npm test` before the suites), against this repository's node_modules;
 * `package.ts` checks the same against the versions a scratch install
 * resolves today.
 */
import t from 'tap';
import ts from 'typescript';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../dist/lib/index.d.ts', import.meta.url));

/** The packages a program's files come from (`@scope/name` or `name`), TypeScript's own lib files left out. */
function packagesOf(program: ts.Program): string[] {
  const names = new Set<string>();
  for (const file of program.getSourceFiles()) {
    const inside = file.fileName.split('/node_modules/').at(-1)!;
    if (inside === file.fileName) continue;
    const parts = inside.split('/');
    const name = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    if (name !== 'typescript') names.add(name);
  }
  return [...names].sort();
}

const STRICT: ts.CompilerOptions = {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2024,
  strict: true,
  noEmit: true,
  skipLibCheck: false,
  types: ['node'],
};

/** The consumer's program: the built entry and whatever its declarations reach. */
const program = ts.createProgram([ENTRY], STRICT);

t.test('the main entry\'s declarations type-check under strict, without skipLibCheck', async (t) => {
  const errors = ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  t.same(errors, [], 'no error in any declaration file the program reaches');
  t.ok(program.getSourceFiles().some((file) => file.fileName.endsWith('/dist/lib/index.d.ts')), 'the program is the built entry');
});

t.test('they reach only packages that ship their own types, and never the Redis client', async (t) => {
  const reached = packagesOf(program);
  t.notOk(reached.includes('ioredis'), 'ioredis is not reached (its declarations need untyped packages)');
  // pino's own types pull its three helpers; @types/node pulls undici-types.
  t.same(reached, ['@types/node', 'pino', 'pino-std-serializers', 'prom-client', 'sonic-boom', 'thread-stream', 'undici-types'], `reached: ${reached.join(', ')}`);
});

t.test('the check can fail: a declaration that reaches the Redis client is seen', async (t) => {
  // The module that wraps ioredis, as the entry exported it before issue 21.
  const topology = fileURLToPath(new URL('../dist/lib/redis/topology.d.ts', import.meta.url));
  t.ok(packagesOf(ts.createProgram([topology], STRICT)).includes('ioredis'), 'redis/topology.d.ts reaches ioredis');
});
