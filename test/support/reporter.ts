// The closing lines of `npm test`, after vitest's own summary: how many tests of each kind ran (the kinds the
// tests noted on their meta, test/support/kinds.ts), then one plain line `Tests: N passed, N failed, N skipped`
// that CI reads.
import type { Reporter, TestModule } from 'vitest/node';
import { KIND_LABELS, KINDS, primaryKind, type Kind } from './kinds.js';

export default class KindsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const ran = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped++;
        if (state === 'passed' || state === 'failed') ran[primaryKind(test.meta().kinds)]++;
      }
    }
    const lines = ['', 'Tests run, by the heaviest real part each used:'];
    for (const k of KINDS) lines.push(`  ${KIND_LABELS[k].padEnd(40)} ${ran[k]}`);
    lines.push('', `Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`, '');
    process.stdout.write(lines.join('\n'));
  }
}
