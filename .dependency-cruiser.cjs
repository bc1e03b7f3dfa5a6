// npm run lint:deps: the layering docs/architecture.md describes, checked. Known violations that
// remain are listed in .dependency-cruiser-known-violations.json (npm run lint:deps:baseline
// rewrites it); anything new fails.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes load order matter and hides which lib is below which.',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-app-to-app',
      severity: 'error',
      comment: 'An app never imports another app; shared code lives in a lib.',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-lib-to-app',
      severity: 'error',
      comment: 'Libs sit below the apps.',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'domain-imports-nothing-of-ours',
      severity: 'error',
      comment: 'libs/domain is pure rules: no other lib, no Nest, no database.',
      from: { path: '^libs/domain/' },
      to: { path: '^(libs/(?!domain/)|apps/)|node_modules/(@nestjs|typeorm|pg|bullmq|ioredis)/' },
    },
    {
      name: 'engines-without-nest-or-db',
      severity: 'error',
      comment: 'The engines (registry, signing, scanning, policy, imagefs) are plain TypeScript: no Nest, no db, no queue, no workflow.',
      from: { path: '^libs/(registry|signing|scanning|policy|imagefs)/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^libs/(db|queue|workflow|notify|auth)/|node_modules/(@nestjs|bullmq|ioredis)/' },
    },
    {
      name: 'lib-through-its-index',
      severity: 'error',
      comment: 'Another lib is imported through its index.ts (its public face), never its inside files.',
      from: { path: '^libs/([^/]+)/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^libs/[^/]+/.+', pathNot: ['^libs/[^/]+/index\\.ts$', '^libs/$1/'] },
    },
    {
      name: 'app-uses-lib-index',
      severity: 'error',
      comment: 'Apps, tests and benchmarks import a lib through its index.ts.',
      from: { path: '^(apps|test|bench)/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^libs/[^/]+/.+', pathNot: '^libs/[^/]+/index\\.ts$' },
    },
    {
      name: 'no-dependency-on-dev-packages',
      severity: 'error',
      comment: 'Shipped code never imports a devDependency.',
      from: { path: '^(apps|libs)/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|coverage|data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['types', 'import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
