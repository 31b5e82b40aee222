// 2. Touch ingest, and 5. memory: POST /t through the real collector on SQLite (a child process, as operators run it)
// beside a raw node:http server that only parses the same body, under the same load in the same run. Every
// acknowledged touch must be in the file afterwards; the collector's peak RSS is read at the end of its run.
import { join } from 'node:path';
import { load, type LoadResult } from '../lib/load.js';
import { cpuSeconds, peakRss, RAW_SERVER, startChild, startCollector, type Child } from '../lib/proc.js';
import { fmt, goalRow, type Row, type Section } from '../lib/report.js';
import { collectorConfig, LOAD, round, scratch, TOUCH_REQUEST } from '../lib/setup.js';
import { countRows, migrate } from '../lib/sqlite.js';

const S = 'touch ingest';

/** the load, plus the server's CPU time per answered request (steadier than requests/s on a shared machine) */
export async function measured(child: Child, run: () => Promise<LoadResult>): Promise<LoadResult & { cpu_us_per_request: number }> {
  const cpu0 = cpuSeconds(child.pid);
  const r = await run();
  const cpu = cpuSeconds(child.pid) - cpu0;
  return { ...r, cpu_us_per_request: round((cpu * 1e6) / Math.max(1, r.requests)) };
}

const withLatency = (r: LoadResult) => `${fmt(r.rps)} req/s (p50 ${fmt(r.p50_ms)} ms, p99 ${fmt(r.p99_ms)} ms)`;

export async function touchIngest(): Promise<{ section: Section; memory: Section; collector_rps: number }> {
  const raw = await startChild('raw node:http', RAW_SERVER, []);
  const rawResult = await measured(raw, () => load(raw.url, TOUCH_REQUEST, LOAD));
  await raw.stop();

  const { dir, cleanup } = scratch();
  try {
    const db = join(dir, 'sspx.db');
    await migrate(db);
    const collector = await startCollector('collector', dir, collectorConfig(dir));
    const result = await measured(collector, () => load(collector.url, TOUCH_REQUEST, LOAD));
    const rss = peakRss(collector.pid);
    const exit = await collector.stop();
    const acknowledged = result.ok + result.warmup_ok;
    const { stored } = countRows(db, { stored: 'touches' });
    const ratio = result.rps / rawResult.rps;
    const rows: Row[] = [
      { section: S, metric: 'raw node:http (parse + answer)', value: withLatency(rawResult) },
      { section: S, metric: 'collector POST /t (SQLite WAL, group commit, synchronous=NORMAL)', value: withLatency(result) },
      goalRow(S, 'ratio collector / raw', ratio, fmt(ratio, 2), 0.6, 'higher', '≥ 0.60'),
      { section: S, metric: 'server CPU per request: raw / collector', value: `${fmt(rawResult.cpu_us_per_request)} / ${fmt(result.cpu_us_per_request)} µs` },
      {
        section: S,
        metric: 'touches in the file ≥ acknowledged (2xx; more: in flight at the end)',
        value: `${fmt(stored)} ≥ ${fmt(acknowledged)}`,
        goal: 'all',
        status: stored >= acknowledged && result.errors === 0 && result.non2xx === 0 && exit === 0 ? 'met' : 'FAILED',
      },
    ];
    const memory: Section = {
      name: 'memory',
      rows: [goalRow('memory', 'collector peak RSS (VmHWM) during ingest', rss / 1e6, `${fmt(rss / 1e6, 1)} MB`, 150, 'lower', '≤ 150 MB')],
      data: { peak_rss_bytes: rss },
    };
    return {
      section: { name: S, rows, data: { raw: rawResult, collector: result, ratio: round(ratio, 3), acknowledged, stored, collector_exit: exit } },
      memory,
      collector_rps: result.rps,
    };
  } finally {
    cleanup();
  }
}
