// The layers of sspx-relay, checked by `npm test` (test/architecture.test.ts runs dependency-cruiser with this file).
// docs/architecture.md draws them. A rule here is a decision; change it there first.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'snippet-is-standalone',
      comment: 'The browser script ships alone in dist/sspx.js: it imports nothing of the collector.',
      severity: 'error',
      from: { path: '^snippet/' },
      to: { path: '^collector/' },
    },
    {
      name: 'ingest-and-dispatch-know-no-http',
      comment: 'Ingest and the dispatcher are framework-free: they refuse with a Refusal and report on the event channel; HTTP and the dashboard are their callers, never their dependencies.',
      severity: 'error',
      from: { path: '^collector/(ingest|dispatch)/' },
      to: { path: '^collector/(http|admin|operators)/' },
    },
    {
      name: 'store-knows-only-its-words',
      comment: 'The stores know the vocabulary, the field types, time units and group commit; nothing of ingest, dispatch, HTTP or the configuration.',
      severity: 'error',
      from: { path: '^collector/store/' },
      to: { path: '^collector/', pathNot: ['^collector/store/', '^collector/(vocabulary|fields|clock|batcher)\\.ts$'] },
    },
    {
      name: 'vocabulary-is-a-leaf',
      comment: 'Every layer may import the vocabulary, so it imports nothing of the project.',
      severity: 'error',
      from: { path: '^collector/vocabulary\\.ts$' },
      to: { path: '^(collector|snippet)/' },
    },
    {
      name: 'operators-know-no-http',
      comment: 'The operators\' services serve the API and the dashboard alike: they import neither.',
      severity: 'error',
      from: { path: '^collector/(operators|admin)/' },
      to: { path: '^collector/http/' },
    },
    {
      name: 'no-circular-runtime-imports',
      comment: 'A cycle of runtime imports makes load order matter; type-only imports are fine.',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test|bench)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
