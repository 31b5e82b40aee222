// 6. Growth: the same ingest and attribution with 10,000 and with 1,000,000 touches already stored (bulk-seeded into the
// file before the collector starts). Attribution looks touches up by indexed keys, so its latency must stay flat.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { load } from '../lib/load.js';
import { startCollector } from '../lib/proc.js';
import { fmt, type Row, type Section } from '../lib/report.js';
import { collectorConfig, percentile, QUICK, round, scratch, SERVER_KEY, SHORT_LOAD, TOUCH_REQUEST } from '../lib/setup.js';
import { migrate, seedTouches, tokenOf } from '../lib/sqlite.js';

const S = 'growth';

interface AtSize {
  stored: number;
  seed_seconds: number;
  ingest_rps: number;
  ingest_p99_ms: number;
  attribution_p50_ms: number;
  attribution_p99_ms: number;
  attributed: number;
}

/** S2S conversions one at a time, each for a different stored click picked at random: the round trip of attribution */
async function attributionLatency(url: string, stored: number, count: number): Promise<{ p50: number; p99: number; attributed: number }> {
  const times: number[] = [];
  let attributed = 0;
  for (let i = 0; i < count; i++) {
    let n = Math.floor(Math.random() * stored);
    if (n % 10 === 9) n--; // every tenth seeded touch is a view; a click is what a purchase without views attributes to
    const sent = performance.now();
    const res = await fetch(`${url}/v1/conversions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
      body: JSON.stringify({ pixel: 'purchase', token: tokenOf(n), order_id: `G-${stored}-${i}` }),
    });
    const body = (await res.json()) as { outcome?: string };
    times.push(performance.now() - sent);
    if (body.outcome === 'attributed') attributed++;
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99), attributed };
}

async function atSize(stored: number): Promise<AtSize> {
  const { dir, cleanup } = scratch();
  try {
    const db = join(dir, 'sspx.db');
    await migrate(db);
    const t0 = performance.now();
    seedTouches(db, stored, Date.now());
    const seed_seconds = round((performance.now() - t0) / 1000, 1);
    const collector = await startCollector('collector', dir, collectorConfig(dir));
    try {
      const attribution = await attributionLatency(collector.url, stored, QUICK ? 50 : 300);
      const ingest = await load(collector.url, TOUCH_REQUEST, SHORT_LOAD);
      return {
        stored,
        seed_seconds,
        ingest_rps: ingest.rps,
        ingest_p99_ms: ingest.p99_ms,
        attribution_p50_ms: round(attribution.p50, 2),
        attribution_p99_ms: round(attribution.p99, 2),
        attributed: attribution.attributed,
      };
    } finally {
      await collector.stop();
    }
  } finally {
    cleanup();
  }
}

export async function growth(): Promise<Section> {
  const sizes = QUICK ? [10_000, 100_000] : [10_000, 1_000_000];
  const results: AtSize[] = [];
  for (const n of sizes) results.push(await atSize(n));
  const rows: Row[] = results.map((r) => ({
    section: S,
    metric: `${fmt(r.stored)} stored touches (seeded in ${fmt(r.seed_seconds, 1)} s)`,
    value: `${fmt(r.ingest_rps)} touches/s; attribution p50 ${fmt(r.attribution_p50_ms, 1)} ms, p99 ${fmt(r.attribution_p99_ms, 1)} ms`,
  }));
  const [small, big] = results;
  const growthFactor = big.attribution_p50_ms / small.attribution_p50_ms;
  const flat = growthFactor <= 1.5 && big.attributed === small.attributed;
  rows.push({
    section: S,
    metric: `attribution p50 at ${fmt(big.stored)} / at ${fmt(small.stored)}`,
    value: `× ${fmt(growthFactor, 2)}`,
    goal: 'flat (≤ × 1.5), all attributed',
    status: flat ? 'met' : 'MISSED',
  });
  return { name: S, rows, data: { sizes: results, attribution_p50_growth: round(growthFactor, 3) } };
}
