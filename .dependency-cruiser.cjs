/**
 * The layering rule, checked in `npm run lint` (dependency-cruiser; swc parses TypeScript 7, whose
 * compiler API dependency-cruiser cannot use). Imports point down only:
 *   gateway/ -> rules/ -> adapters/ -> contracts/
 * Type-only imports count: a circle through types is still a circle for a reader.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'A circle means neither file can be read, tested or moved without the other.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'parts-do-not-import-gateway',
      comment: 'gateway/ wires adapters, rules and the store; the parts know nothing of it.',
      severity: 'error',
      from: { path: '^(adapters|rules|contracts)/' },
      to: { path: '^gateway/' },
    },
    {
      name: 'rules-do-not-import-adapters',
      comment: 'Rules are pure functions of readings and commands; they see the shared types only.',
      severity: 'error',
      from: { path: '^rules/' },
      to: { path: '^adapters/', pathNot: '^adapters/types\\.ts$' },
    },
    {
      name: 'contracts-import-nothing-above',
      comment: 'contracts/ is the floor both adapters and rules stand on.',
      severity: 'error',
      from: { path: '^contracts/' },
      to: { path: '^(adapters|rules|gateway)/', pathNot: '^adapters/types\\.ts$' },
    },
    {
      name: 'adapters-do-not-import-each-other',
      comment: 'What two adapters share lives in contracts/.',
      severity: 'error',
      from: { path: '^adapters/([^/]+)/' },
      to: { path: '^adapters/[^/]+/', pathNot: '^adapters/$1/' },
    },
    {
      name: 'only-the-registry-names-an-adapter',
      comment:
        'Outside adapters/, a concrete adapter folder is reached through adapters/registry.ts (its descriptor), so a ' +
        'new adapter is one folder and one line there. Exception: `fieldgate ports` uses the serial port lister alone, ' +
        'to list OS devices (serial and Modbus RTU paths) without loading every adapter.',
      severity: 'error',
      from: { pathNot: ['^adapters/', '^test/', '^bench/'] },
      to: {
        path: '^adapters/[^/]+/',
        pathNot: '^adapters/serial/list-ports\\.ts$',
      },
    },
    {
      name: 'only-the-registry-names-an-adapter-ports-cli',
      comment: 'The serial port lister is for `fieldgate ports` only.',
      severity: 'error',
      from: { pathNot: ['^adapters/', '^test/', '^bench/', '^gateway/cli/ports\\.ts$'] },
      to: { path: '^adapters/serial/list-ports\\.ts$' },
    },
    {
      name: 'adapter-contracts-name-no-adapter',
      comment: 'The files beside the adapter folders (types, descriptor) are what adapters share; only the registry lists them.',
      severity: 'error',
      from: { path: '^adapters/[^/]+\\.ts$', pathNot: '^adapters/registry\\.ts$' },
      to: { path: '^adapters/[^/]+/' },
    },
    {
      name: 'only-the-store-touches-sqlite',
      severity: 'error',
      from: { pathNot: '^(gateway/store/|test/|bench/)' },
      to: { path: 'node_modules/better-sqlite3' },
    },
    {
      name: 'only-upstream-speaks-mqtt',
      severity: 'error',
      from: { pathNot: '^(gateway/upstream/|test/|bench/)' },
      to: { path: 'node_modules/(mqtt-packet|mqtt)/' },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
  },
};
