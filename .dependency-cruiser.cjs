/**
 * The layers of lib/ and workers/, checked by dependency-cruiser
 * (`npm run lint:layers`, the first step of `npm test`). The layers, which
 * may import which, and why: docs/contributing.md#layers.
 *
 * A layer imports the layers below it, never one above it. The list runs
 * from the top down; a file belongs to the first layer whose pattern it
 * matches. Type-only imports count as imports (they couple the files all
 * the same).
 *
 * @type {import('dependency-cruiser').IConfiguration}
 */

/** From the top down. */
const LAYERS = [
  {
    name: 'entry-points',
    what: 'the public API, the command line, the worker threads\' entry points',
    paths: ['^lib/index[.]ts$', '^lib/cli/', '^workers/'],
  },
  {
    name: 'runtimes',
    what: 'the worker-thread runtime and the worker-process runtime (neither imports the other)',
    paths: ['^lib/threads/', '^lib/processes/'],
  },
  {
    name: 'owner',
    what: 'the owner of the table and ring over a Unix socket, and the cache daemon',
    paths: ['^lib/owner/'],
  },
  {
    name: 'primary',
    what: 'what every runtime\'s primary owns and what every runtime does to a server',
    paths: ['^lib/runtime/'],
  },
  {
    name: 'transports',
    what: 'several hosts: Redis',
    paths: ['^lib/redis/'],
  },
  {
    name: 'store',
    what: 'the store of levels',
    paths: ['^lib/store/'],
  },
  {
    name: 'operations',
    what: 'counters, metrics, loggers',
    paths: ['^lib/operations/'],
  },
  {
    name: 'tls-and-tickets',
    what: 'Node\'s TLS hooks, the ticket key ring and its TLS side',
    paths: ['^lib/tls/', '^lib/tickets/'],
  },
  {
    name: 'table-and-config',
    what: 'the shared table, the settings, the error classes',
    paths: ['^lib/table/', '^lib/config/', '^lib/errors[.]ts$', '^lib/describe[.]ts$'],
  },
];

/**
 * Imports that break a rule today and are to be removed: each one a file
 * pair, exempt from that one rule only, so that any other import breaking
 * the rule still fails. Keep this list short and say why. (None today: the
 * tls <-> tickets cycles went when the capability checks' state moved to
 * lib/tls/known-capabilities.ts and the ticket counters' shape to
 * lib/tickets/ticket-counters.ts.)
 * @type {Array<{ rule: string; from: string; to: string }>}
 */
const EXCEPTIONS = [];

/** One rule per layer: none of its files imports a file of a layer above it. */
const layerRules = LAYERS.slice(1).map((layer, index) => ({
  name: `layer-${layer.name}`,
  comment: `${layer.name} (${layer.what}) imports only the layers below it, never ${LAYERS.slice(0, index + 1)
    .map(({ name }) => name)
    .join(', ')}: docs/contributing.md#layers`,
  severity: 'error',
  from: { path: layer.paths },
  to: { path: LAYERS.slice(0, index + 1).flatMap(({ paths }) => paths) },
}));

const rules = [
  ...layerRules,
  {
    name: 'runtimes-apart',
    comment: 'The worker-thread runtime (lib/threads) and the worker-process runtime (lib/processes) import neither each other: what both need lives in lib/runtime or below.',
    severity: 'error',
    from: { path: '^lib/(threads|processes)/' },
    to: { path: '^lib/(threads|processes)/', pathNot: '^lib/$1/' },
  },
  {
    name: 'no-circular',
    comment: 'This import is part of an import cycle: move what both sides need down a layer.',
    severity: 'error',
    from: {},
    to: { circular: true },
  },
  {
    name: 'no-orphans',
    comment: 'A module nothing imports and that imports nothing: delete it, or import it.',
    severity: 'error',
    from: { orphan: true, pathNot: ['(^|/)[.][^/]+[.](js|cjs|mjs|ts|json)$', '[.]d[.](c|m)?ts$'] },
    to: {},
  },
  {
    name: 'not-to-tests-or-bench',
    comment: 'The package (lib/, workers/) never imports the tests, the benchmarks or the examples: a helper both need lives in lib/.',
    severity: 'error',
    from: { path: '^(lib|workers)/' },
    to: { path: '^(test|bench|examples)/' },
  },
  {
    name: 'not-to-dev-dep',
    comment: 'The package (lib/, workers/) imports only its dependencies, never a devDependency: users do not install those.',
    severity: 'error',
    from: { path: '^(lib|workers)/' },
    to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
  },
  {
    name: 'not-to-unresolvable',
    comment: 'This import cannot be resolved to a file.',
    severity: 'error',
    from: {},
    to: { couldNotResolve: true },
  },
  {
    name: 'no-non-package-json',
    comment: 'This import is of a package that is not in package.json.',
    severity: 'error',
    from: {},
    to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
  },
];

/**
 * Each exception of {@link EXCEPTIONS} narrows its rule: the rule stays for
 * every other file, and for the exempt file every other target.
 */
function withExceptions(rule) {
  const exceptions = EXCEPTIONS.filter((exception) => exception.rule === rule.name);
  if (exceptions.length === 0) return [rule];
  const files = [...new Set(exceptions.map(({ from }) => from))];
  const escape = (file) => `^${file.replace(/[.]/g, '[.]')}$`;
  return [
    { ...rule, from: { ...rule.from, pathNot: [...[rule.from.pathNot ?? []].flat(), ...files.map(escape)] } },
    ...files.map((file) => ({
      ...rule,
      from: { ...rule.from, path: escape(file) },
      to: {
        ...rule.to,
        pathNot: [...[rule.to.pathNot ?? []].flat(), ...exceptions.filter(({ from }) => from === file).map(({ to }) => escape(to))],
      },
    })),
  ];
}

module.exports = {
  forbidden: rules.flatMap(withExceptions),
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '^node_modules/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};

// For test/layering.ts, which checks that each exception is still needed
// (not enumerable: dependency-cruiser accepts no keys of its own here).
Object.defineProperty(module.exports, 'exceptions', { value: EXCEPTIONS, enumerable: false });
