// Guards the numbers behind the dashboard and `sspx-relay stats`, on SQLite and PostgreSQL: the store's bucketed
// counts (each row in the bucket holding its time, nothing outside [from, to), failures by error class without the
// fired attempts), the queue's depth and oldest due fire, the overview built from them (attribution rate without
// duplicates, periods aligned to whole buckets), and the command's aligned table.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOverview, periodRange } from '../../collector/admin/overview.js';
import { ManualClock } from '../../collector/clock.js';
import { runStats } from '../../collector/commands/stats.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import type { Store } from '../../collector/store/store.js';
import { describePg } from '../support/pg.js';
import { seeder } from '../retention/purge.suite.js';
import { captureIo } from '../support/io.js';

const NOW = Date.UTC(2026, 5, 15, 12); // the seeder's clock
const HOUR = 3600_000;

const io = captureIo;

/** 3 clicks and a view in the last hour, a click 30 h ago; 3 attributed, 1 unattributed, 1 duplicate; fires in four states */
async function seedNumbers(store: Store) {
  const s = seeder(store);
  for (const age of [10 * 60_000, 20 * 60_000, 50 * 60_000]) await s.touch(age);
  await s.touch(5 * 60_000, { kind: 'view' });
  await s.touch(30 * HOUR);
  await s.conversion(10 * 60_000, 'fired');
  await s.conversion(12 * 60_000, 'failed', { attempt: { error_class: 'http_4xx', status: 400 } });
  await s.conversion(15 * 60_000, 'queued');
  await s.conversion(20 * 60_000, null);
  await s.conversion(20 * 60_000, null, { conversion: { outcome: 'duplicate' } });
  await s.conversion(2 * HOUR, 'held', { attempt: { error_class: 'timeout_after_send' } });
  await store.countDiagnostics([
    { day: '2026-06-15', site: 'https://shop.example', kind: 'unreplaced_macro', count: 7 },
    { day: '2026-06-10', site: 'https://other.example', kind: 'unreplaced_macro', count: 2 },
    { day: '2026-06-15', site: 'https://shop.example', kind: 'something_else', count: 99 },
  ]);
}

function statsSuite(name: string, open: () => Store) {
  describe(`stats on ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = open();
      await store.migrate();
      await seedNumbers(store);
    });
    afterEach(() => store.close());

    it('counts each row in the bucket holding its time, and nothing outside the range', async () => {
      const from = NOW - 3 * HOUR;
      const s = await store.stats(from, NOW, HOUR);
      const at = (metric: string, key: string) => s.counts.filter((c) => c.metric === metric && c.key === key).map((c) => [(c.at - from) / HOUR, c.count]);
      expect(at('touches', 'click')).toEqual([[2, 3]]);
      expect(at('touches', 'view')).toEqual([[2, 1]]);
      expect(at('conversions', 'attributed')).toEqual([[1, 1], [2, 3]]);
      expect(at('conversions', 'duplicate')).toEqual([[2, 1]]);
      expect(at('fires', 'held')).toEqual([[1, 1]]);
      expect(at('attempts', 'fired')).toEqual([[2, 1]]);
      expect(s.counts.filter((c) => c.metric === 'attempt_errors').map((c) => c.key).sort()).toEqual(['http_4xx', 'timeout_after_send']);
      expect(s.diagnostics).toEqual([
        { at: from, day: '2026-06-15', site: 'https://shop.example', kind: 'something_else', count: 99 },
        { at: from, day: '2026-06-15', site: 'https://shop.example', kind: 'unreplaced_macro', count: 7 },
      ]);
    });

    it('answers the queue: depth, due now, in flight, and when the oldest due fire became due', async () => {
      expect(await store.queueStats(NOW)).toEqual({ queued: 1, due: 1, in_flight: 0, oldest_due_at: NOW - 15 * 60_000 });
      expect(await store.queueStats(NOW - 20 * 60_000)).toEqual({ queued: 1, due: 0, in_flight: 0, oldest_due_at: null });
    });

    it('builds the overview the dashboard and the command show', async () => {
      const o = await loadOverview(store, 'day', NOW);
      expect(o.totals).toMatchObject({
        touches: 4, clicks: 3, views: 1, conversions: 6,
        outcomes: { attributed: 4, unattributed: 1, duplicate: 1 },
        fires: { fired: 1, failed: 1, queued: 1, held: 1, in_flight: 0 },
        attribution_rate: 0.8, attempts: 3, failed_attempts: 2, macros: 9,
      });
      expect(o.errors).toEqual([{ error_class: 'http_4xx', count: 1 }, { error_class: 'timeout_after_send', count: 1 }]);
      expect(o.macros.sites).toEqual([
        { site: 'https://shop.example', counts: [...Array(13).fill(0), 7], total: 7 },
        { site: 'https://other.example', counts: [...Array(8).fill(0), 2, 0, 0, 0, 0, 0], total: 2 },
      ]);
      expect(o.queue.oldest_due_age_ms).toBe(15 * 60_000);
      expect(o.buckets).toHaveLength(24);
      expect(o.buckets.at(-1)).toBe(NOW); // the bucket holding now is the last one
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'sspx-admin-stats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
statsSuite('sqlite', () => new SqliteStore(join(dir, `${++n}`, 'sspx.db')));
describePg('stats on PostgreSQL', (pg) => statsSuite('postgres', () => new PostgresStore(pg.url, { schema: pg.newSchema(), poolSize: 4 })));

describe('periods', () => {
  it('end with the bucket holding now, in whole UTC buckets', () => {
    const now = Date.UTC(2026, 5, 15, 12, 34, 56);
    expect(periodRange('hour', now)).toEqual({ from: Date.UTC(2026, 5, 15, 11, 35), to: Date.UTC(2026, 5, 15, 12, 35), bucket_ms: 300_000 });
    expect(periodRange('day', now)).toEqual({ from: Date.UTC(2026, 5, 14, 13), to: Date.UTC(2026, 5, 15, 13), bucket_ms: HOUR });
    expect(periodRange('30d', now)).toEqual({ from: Date.UTC(2026, 4, 17), to: Date.UTC(2026, 5, 16), bucket_ms: 24 * HOUR });
  });
});

describe('sspx-relay stats', () => {
  const configPath = join(dir, 'stats.config.json');
  beforeEach(async () => {
    const db = join(dir, 'cli', `${++n}.db`);
    const store = new SqliteStore(db);
    await store.migrate();
    await seedNumbers(store);
    await store.close();
    writeFileSync(configPath, JSON.stringify({ store: `sqlite:${db}` }));
  });

  it('prints the headline numbers as an aligned table', async () => {
    const o = io();
    expect(await runStats({ config: configPath, period: 'day' }, o, new ManualClock(NOW))).toBe(0);
    const out = o.stdout();
    expect(out).toContain('sspx-relay stats: last 24 hours (2026-06-14 13:00 to 2026-06-15 13:00 UTC)');
    for (const line of [
      '  touches                     4  3 clicks, 1 view',
      '  conversions                 6  4 attributed, 1 unattributed, 1 duplicate',
      '  attribution rate        80.0%  attributed / (attributed + unattributed)',
      '  fires held                  1  ambiguous, waiting for a replay',
      '  queue depth                 1  1 due now, 0 in flight',
      '  oldest due fire    15 min 0 s  waiting since it became due',
      '  unreplaced macros           9  last 14 days',
    ]) expect(out.split('\n')).toContain(line);
    expect(out).toContain('fire failures by error class:\n  http_4xx            1\n  timeout_after_send  1\n');
    expect(out).toContain('unreplaced macros by site (last 14 days):\n  https://shop.example   7\n  https://other.example  2\n');
    // every value of the main table ends in one column
    const rows = out.split('\n').slice(2, 13);
    expect(rows).toHaveLength(11);
    const ends = new Set(
      rows.map((r) => {
        const [label, value] = r.trim().split(/\s{2,}/);
        return r.indexOf(value, 2 + label.length) + value.length;
      }),
    );
    expect(ends.size, rows.join('\n')).toBe(1);
  });

  it('prints JSON with --json and refuses an unknown period', async () => {
    const o = io();
    expect(await runStats({ config: configPath, period: '30d', json: true }, o, new ManualClock(NOW))).toBe(0);
    expect(JSON.parse(o.stdout())).toMatchObject({ period: '30d', totals: { touches: 5, conversions: 6 } });
    const bad = io();
    expect(await runStats({ config: configPath, period: 'week' }, bad)).toBe(1);
    expect(bad.stderr()).toContain('--period must be hour, day or 30d');
  });
});
