// 2. Touch ingest, 5. memory and 6. disk: the touch a real Chromium sent (its headers, its body, a fresh token per
// request) posted to the collector as shipped (SQLite, dispatcher on, request log on) and to a raw node:http server
// that only parses the same body, under the same load from the same kind of load process, in the same run. Every
// acknowledged touch must then be in the file by its cid; any refused answer or missing touch fails the rows.
import { join } from 'node:path';
import type { CapturedTouch } from '../lib/capture.js';
import { load, type LoadResult } from '../lib/load.js';
import { cpuSeconds, migrate, peakRss, startCollector, startRaw, type Child } from '../lib/proc.js';
import { fmt, goalRow, unless, type Row, type Section } from '../lib/report.js';
import { startRouter } from '../lib/router.js';
import { collectorConfig, LOAD, round, scratch, touchRequest } from '../lib/setup.js';
import { checkpoint, checkTouches, sqliteBytes, sqliteReader } from '../lib/stored.js';

const S = 'touch ingest';

/** the load, plus the server's CPU time per answer (steadier than requests/s on a shared machine) */
export async function measured(child: Child, run: () => Promise<LoadResult>): Promise<LoadResult & { cpu_us_per_request: number }> {
  const cpu0 = cpuSeconds(child.pid);
  const r = await run();
  const cpu = cpuSeconds(child.pid) - cpu0;
  return { ...r, cpu_us_per_request: round((cpu * 1e6) / Math.max(1, r.responses)) };
}

export const withLatency = (r: LoadResult) => `${fmt(r.rps)} /s (p50 ${fmt(r.p50_ms)} ms, p99 ${fmt(r.p99_ms)} ms)`;
/** answers that were not an acceptance, and requests that got no answer at all (errors, timeouts after 10 s) */
export const refusedText = (r: LoadResult) =>
  [
    ...Object.entries(r.refused).map(([status, n]) => `${fmt(n)} × ${status}`),
    ...(r.timeouts ? [`${fmt(r.timeouts)} timed out`] : []),
    ...(r.errors > r.timeouts ? [`${fmt(r.errors - r.timeouts)} connection errors`] : []),
  ].join(', ') || 'none';
/** the load's own trouble (connection errors, timeouts) and refused answers: none allowed */
export const clean = (r: LoadResult) => r.errors === 0 && r.timeouts === 0 && Object.keys(r.refused).length === 0;

export interface IngestResult {
  sections: Section[];
  collector_rps: number;
}

export async function touchIngest(capture: CapturedTouch): Promise<IngestResult> {
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  try {
    const raw = await startRaw(dir);
    let rawResult;
    try {
      rawResult = await measured(raw, () => load(raw.url, touchRequest(capture), LOAD, dir));
    } finally {
      await raw.stop();
    }

    const db = join(dir, 'sspx.db');
    const config = collectorConfig(dir, router.url);
    migrate(dir, config);
    checkpoint(db);
    const emptyBytes = sqliteBytes(db);
    const collector = await startCollector('collector', dir, config);
    let result, rss, exit;
    try {
      result = await measured(collector, () => load(collector.url, touchRequest(capture), LOAD, dir));
      rss = peakRss(collector.pid);
    } finally {
      exit = await collector.stop();
    }
    checkpoint(db);
    const bytes = sqliteBytes(db) - emptyBytes;
    const reader = sqliteReader(db);
    const check = await checkTouches(reader, result.accepted).finally(() => reader.close());
    const complete = clean(result) && clean(rawResult) && check.missing === 0 && check.repeated_tokens === 0 && exit === 0;
    const ratio = result.rps / rawResult.rps;
    const perTouch = bytes / check.stored;
    const rows: Row[] = [
      { section: S, metric: 'raw node:http (parses the same body)', value: withLatency(rawResult) },
      { section: S, metric: 'collector POST /t (SQLite, as shipped)', value: withLatency(result) },
      unless(complete, goalRow(S, 'ratio collector / raw', ratio, fmt(ratio, 2), 0.6, 'higher', '≥ 0.60')),
      { section: S, metric: 'server CPU per request: raw / collector', value: `${fmt(rawResult.cpu_us_per_request)} / ${fmt(result.cpu_us_per_request)} µs` },
      {
        section: S,
        metric: 'acknowledged touches in the file, by cid (refused or unanswered)',
        value: `${fmt(check.acknowledged - check.missing)} of ${fmt(check.acknowledged)} (${refusedText(result)})`,
        goal: 'all, none refused',
        status: complete ? 'met' : 'FAILED',
        margin: check.missing ? `${fmt(check.missing)} missing` : '',
      },
    ];
    const memory: Section = {
      name: 'memory',
      rows: [unless(complete, goalRow('memory', 'collector peak RSS (VmHWM) under ingest', rss / 1e6, `${fmt(rss / 1e6, 1)} MB`, 150, 'lower', '≤ 150 MB'))],
      data: { peak_rss_bytes: rss },
    };
    const disk: Section = {
      name: 'disk',
      rows: [unless(complete, goalRow('disk', `per stored touch, indexes included (${fmt(check.stored)} touches, checkpointed)`, perTouch, `${fmt(perTouch)} B`, 250, 'lower', '≤ 250 B'))],
      data: { bytes_added: bytes, touches: check.stored, bytes_per_touch: round(perTouch, 1) },
    };
    const strip = (r: LoadResult) => ({ ...r, accepted: r.accepted.length });
    return {
      sections: [{ name: S, rows, data: { raw: strip(rawResult), collector: strip(result), ratio: round(ratio, 3), check, collector_exit: exit } }, memory, disk],
      collector_rps: complete ? result.rps : NaN,
    };
  } finally {
    await router.close();
    cleanup();
  }
}
