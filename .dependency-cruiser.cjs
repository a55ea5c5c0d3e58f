// The import rules `npm test` enforces (npm run deps): no cycles between modules or between
// folders, and the directions ARCHITECTURE.md draws.

/** Modules whose path matches `from` must not import modules whose path matches `to`. */
const forbid = (name, comment, from, to) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Folders depend on each other one way: a loop between folders means a concept has two homes.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    { name: 'no-module-cycles', severity: 'error', from: {}, to: { circular: true } },
    forbid('builder-and-images-never-import-the-queue', 'The queue is wired in server.ts; building and serving images know nothing of RabbitMQ.', '^src/(builder|images)/', '^src/queue/'),
    forbid('builds-know-no-kind-of-build', 'Records, runner and the builds API never ask which kind of image they run.', '^src/builds/', '^src/(builder|images|queue|http)/'),
    forbid('pure-core-stays-pure', 'src/image, src/layers and src/sbom take data and return data.', '^src/(image|layers|sbom)/', '^(src/(?!image/|layers/|sbom/)|storage/)'),
    forbid('product-code-never-imports-tests', 'Tests use the product, never the other way round.', '^(src|storage)/', '^test/'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Tests reach across every folder on purpose; the rules are about the product's structure.
    exclude: { path: '((^|/)(node_modules|dist)/|\\.test\\.ts$)' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
