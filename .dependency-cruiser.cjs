// The layers of sspx-relay, checked by `npm test` (test/architecture.test.ts runs dependency-cruiser with this file).
// docs/architecture.md draws them. A rule here is a decision; change it there first.

/** a forbidden import: from modules matching `from` to modules matching `to` (`toNot`: except these) */
const forbid = (name, comment, from, to, toNot) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to, ...(toNot && { pathNot: toNot }) } });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    forbid('snippet-is-standalone', 'The browser script ships alone in dist/sspx.js: it imports nothing of the collector.', '^snippet/', '^collector/'),
    forbid('ingest-and-dispatch-know-no-http', 'Ingest and the dispatcher refuse with a Refusal and report on the event channel; HTTP, the dashboard and the operators\' services call them, never the reverse.',
      '^collector/(ingest|dispatch)/', '^collector/(http|admin|operators)/'),
    forbid('store-knows-only-its-words', 'The stores know the vocabulary, the field types, time units and group commit; nothing of ingest, dispatch, HTTP or the configuration.',
      '^collector/store/', '^collector/', ['^collector/store/', '^collector/(vocabulary|fields|clock|batcher)\\.ts$']),
    forbid('vocabulary-is-a-leaf', 'Every layer may import the vocabulary, so it imports nothing of the project.', '^collector/vocabulary\\.ts$', '^(collector|snippet)/'),
    forbid('operators-know-no-http', 'The operators\' services and the dashboard\'s pages serve the API and HTML alike: they import neither route.', '^collector/(operators|admin)/', '^collector/http/'),
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
