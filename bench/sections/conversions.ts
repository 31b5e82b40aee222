// 3. Conversions: S2S POST /v1/conversions, each answered only after the group commit that holds it was fsync'd
// (SQLite WAL, synchronous=FULL): attribution, dedup and the queued fire in one transaction. Every acknowledged
// conversion must be in the file afterwards.
import { join } from 'node:path';
import { load } from '../lib/load.js';
import { startCollector } from '../lib/proc.js';
import { fmt, goalRow, type Section } from '../lib/report.js';
import { collectorConfig, conversionRequest, LOAD, scratch } from '../lib/setup.js';
import { countRows, migrate, seedTouches, tokenOf } from '../lib/sqlite.js';
import { measured } from './ingest.js';

const S = 'conversions';

export async function conversionIngest(): Promise<Section> {
  const { dir, cleanup } = scratch();
  try {
    const db = join(dir, 'sspx.db');
    await migrate(db);
    seedTouches(db, 1_000, Date.now());
    const collector = await startCollector('collector', dir, collectorConfig(dir));
    const result = await measured(collector, () => load(collector.url, conversionRequest(tokenOf(1), 'B'), LOAD));
    const exit = await collector.stop();
    const acknowledged = result.ok + result.warmup_ok;
    const { stored, queued } = countRows(db, { stored: 'conversions', queued: 'fires' });
    return {
      name: S,
      rows: [
        goalRow(S, 'S2S conversions, fsync-acknowledged', result.rps, `${fmt(result.rps)} /s`, 5000, 'higher', '≥ 5,000/s'),
        { section: S, metric: 'latency under that load', value: `p50 ${fmt(result.p50_ms)} ms, p99 ${fmt(result.p99_ms)} ms` },
        {
          section: S,
          metric: 'conversions in the file ≥ acknowledged (fires queued)',
          value: `${fmt(stored)} ≥ ${fmt(acknowledged)} (${fmt(queued)})`,
          goal: 'all',
          status: stored >= acknowledged && result.errors === 0 && result.non2xx === 0 && exit === 0 ? 'met' : 'FAILED',
        },
      ],
      data: { ...result, acknowledged, stored, fires_queued: queued, collector_exit: exit },
    };
  } finally {
    cleanup();
  }
}
