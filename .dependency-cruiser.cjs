// The import rules `npm test` enforces (npm run deps): no cycles between modules or between
// folders, and the directions ARCHITECTURE.md draws.
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
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'builder-and-images-never-import-the-queue',
      comment: 'The queue is wired in server.ts; building and serving images know nothing of RabbitMQ.',
      severity: 'error',
      from: { path: '^src/(builder|images)/' },
      to: { path: '^src/queue/' },
    },
    {
      name: 'builds-know-no-kind-of-build',
      comment: 'Records, runner and the builds API never ask which kind of image they run.',
      severity: 'error',
      from: { path: '^src/builds/' },
      to: { path: '^src/(builder|images|queue|http)/' },
    },
    {
      name: 'pure-core-stays-pure',
      comment: 'src/image and src/layers take data and return data.',
      severity: 'error',
      from: { path: '^src/(image|layers)/' },
      to: { path: '^(src/(?!image/|layers/)|storage/)' },
    },
    {
      name: 'product-code-never-imports-tests',
      severity: 'error',
      from: { path: '^(src|storage)/' },
      to: { path: '^test/' },
    },
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
