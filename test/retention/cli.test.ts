// Guards `sspx-relay purge`: it prints a summary of what it removed (or, with --dry-run, would remove, changing
// nothing), draws its progress bar on stderr, refuses a bad --batch, and is registered in the real CLI.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, ManualClock } from '../../collector/clock.js';
import { runPurge } from '../../collector/commands/purge.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { NOW, RETENTION_CONFIG, seeder } from './purge.suite.js';
import { captureIo } from '../support/io.js';
import { markKind } from '../support/kinds.js';

const REPO = join(import.meta.dirname, '..', '..');

const io = captureIo;

describe('sspx-relay purge', () => {
  let dir: string;
  let dbPath: string;
  let configPath: string;

  /** 40-day-old rows of every kind, and a few recent ones */
  async function seedStore(now = NOW) {
    const store = new SqliteStore(dbPath);
    await store.migrate();
    const s = seeder(store);
    const shift = now - NOW;
    for (let i = 0; i < 7; i++) await s.touch(40 * DAY - shift + i);
    await s.touch(DAY - shift);
    await s.conversion(40 * DAY - shift, 'fired');
    await s.conversion(40 * DAY - shift, 'queued');
    await s.conversion(5 * DAY - shift, 'failed');
    await store.close();
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sspx-purge-cli-'));
    dbPath = join(dir, 'sspx.db');
    configPath = join(dir, 'sspx.config.json');
    writeFileSync(configPath, JSON.stringify({ ...RETENTION_CONFIG, store: `sqlite:${dbPath}`, log_level: 'silent' }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--dry-run prints what would go and changes nothing', async () => {
    await seedStore();
    const o = io();
    expect(await runPurge({ config: configPath, dryRun: true }, o, new ManualClock(NOW))).toBe(0);
    const out = o.stdout();
    expect(out).toContain('dry run: nothing was changed');
    expect(out).toMatch(/^ {2}fires +1 {2}created before 2026-06-05 12:00 UTC, neither queued nor in flight$/m);
    expect(out).toMatch(/^ {2}touches +7 {2}/m);
    expect(out).toMatch(/^ {2}transcripts +1 {2}/m);
    const again = io();
    await runPurge({ config: configPath, dryRun: true }, again, new ManualClock(NOW));
    expect(again.stdout()).toBe(out);
  });

  it('purges in batches with a progress bar on stderr and prints a summary', async () => {
    await seedStore();
    const o = io();
    expect(await runPurge({ config: configPath, batch: 2, progress: true }, o, new ManualClock(NOW))).toBe(0);
    expect(o.stderr()).toMatch(/purge \[#+\] 100% {2}transcripts 1\/1/);
    expect(o.stdout()).toContain('purged (retention_days 10, transcript_retention_days 3):');
    expect(o.stdout()).toMatch(/^ {2}touches +7 {2}clicks before 2026-05-16 12:00 UTC, views before 2026-06-05 12:00 UTC$/m);
    expect(o.stdout()).toMatch(/^ {2}conversions +1 {2}/m);
    expect(o.stdout()).toContain('the removed rows are kept as daily counts for the charts');
    const after = io();
    await runPurge({ config: configPath, dryRun: true }, after, new ManualClock(NOW));
    expect(after.stdout()).toMatch(/^ {2}fires +0 {2}/m);
  });

  it('refuses a bad --batch and a missing configuration', async () => {
    const o = io();
    expect(await runPurge({ config: configPath, batch: 0 }, o)).toBe(1);
    expect(o.stderr()).toContain('--batch must be an integer');
    const missing = io();
    expect(await runPurge({ config: join(dir, 'nope.json') }, missing)).toBe(1);
    expect(missing.stderr()).toContain('does not exist');
  });

  it('runs from the command line', async () => {
    await seedStore(Date.now());
    markKind('child-process');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'collector/cli.ts', 'purge', '--config', configPath], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('purged (retention_days 10');
    expect(r.stdout).toMatch(/^ {2}touches +7 {2}/m);
  }, 60_000);
});
