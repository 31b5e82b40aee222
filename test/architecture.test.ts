// Guards the layers drawn in docs/architecture.md: dependency-cruiser checks the imports of collector/ and snippet/
// against .dependency-cruiser.cjs (the script imports nothing of the collector; ingest and the dispatcher nothing of
// HTTP or the dashboard; the stores only the vocabulary, field types, time units and group commit; no runtime cycle).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../collector/paths.js';

const BIN = join(packageRoot, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

describe('the layers', () => {
  it('every import follows the rules of .dependency-cruiser.cjs', () => {
    const run = spawnSync(process.execPath, [BIN, 'collector', 'snippet', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], {
      cwd: packageRoot,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    const result = JSON.parse(run.stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[]; totalCruised: number } };
    expect(result.summary.totalCruised, 'the cruise found the modules').toBeGreaterThan(50);
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 120_000); // parsing every module with TypeScript takes seconds on a busy machine
});
