// 6. Growth: the same ingest and attribution with 10,000 and with 1,000,000 touches already stored (bulk-seeded into the
// file before the collector starts). Attribution looks touches up by indexed keys, so its latency must stay flat.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { CapturedTouch } from '../lib/capture.js';
import { load } from '../lib/load.js';
import { migrate, startCollector } from '../lib/proc.js';
import { fmt, type Row, type Section } from '../lib/report.js';
import { startRouter, type BenchRouter } from '../lib/router.js';
import { collectorConfig, PIXEL, percentile, QUICK, round, scratch, SERVER_KEY, SHORT_LOAD, tokenOf, touchRequest } from '../lib/setup.js';
import { seedTouches } from '../lib/sqlite.js';
import { checkTouches, sqliteReader } from '../lib/stored.js';
import { clean } from './ingest.js';

const S = 'growth';

interface AtSize {
  stored: number;
  seed_seconds: number;
  ingest_rps: number;
  ingest_p99_ms: number;
  attribution_p50_ms: number;
  attribution_p99_ms: number;
  attributed: number;
  /** acknowledged touches of the ingest load missing from the file afterwards, plus refused answers */
  missing: number;
}

/** one S2S conversion for a stored click picked at random: the round trip of attribution (and its commit), in ms */
async function convert(url: string, stored: number, order: string): Promise<{ ms: number; attributed: boolean }> {
  let n = Math.floor(Math.random() * stored);
  if (n % 10 === 9) n--; // every tenth seeded touch is a view; a click is what a purchase without views attributes to
  const sent = performance.now();
  const res = await fetch(`${url}/v1/conversions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
    body: JSON.stringify({ pixel: PIXEL, token: tokenOf(n), order_id: order }),
  });
  const body = (await res.json()) as { outcome?: string };
  return { ms: performance.now() - sent, attributed: body.outcome === 'attributed' };
}

interface Store {
  stored: number;
  seed_seconds: number;
  url: string;
  dir: string;
  stop(): Promise<unknown>;
  cleanup(): void;
}

async function seeded(stored: number, router: BenchRouter): Promise<Store> {
  const { dir, cleanup } = scratch();
  try {
    const db = join(dir, 'sspx.db');
    const config = collectorConfig(dir, router.url);
    migrate(dir, config);
    const t0 = performance.now();
    seedTouches(db, stored, Date.now());
    const seed_seconds = round((performance.now() - t0) / 1000, 1);
    const collector = await startCollector(`collector (${stored} touches)`, dir, config);
    return { stored, seed_seconds, url: collector.url, dir, stop: () => collector.stop(), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * Both stores at once, one collector each: attribution is measured turn about (a conversion to one, then to the
 * other, the order swapped every turn), so both see the same machine and disk; then each takes the ingest load.
 */
export async function growth(capture: CapturedTouch): Promise<Section> {
  const sizes = QUICK ? [10_000, 100_000] : [10_000, 1_000_000];
  const stores: Store[] = [];
  const router = await startRouter();
  try {
    for (const n of sizes) stores.push(await seeded(n, router));
    const turns = QUICK ? 50 : 200;
    const times: number[][] = stores.map(() => []);
    const attributed = stores.map(() => 0);
    for (let i = 0; i < turns; i++) {
      const order = i % 2 ? [1, 0] : [0, 1];
      for (const k of order) {
        const r = await convert(stores[k].url, stores[k].stored, `G-${i}`);
        times[k].push(r.ms);
        if (r.attributed) attributed[k]++;
      }
    }
    const results: AtSize[] = [];
    for (const [k, s] of stores.entries()) {
      const ingest = await load(s.url, touchRequest(capture), SHORT_LOAD, s.dir);
      results.push({
        stored: s.stored,
        seed_seconds: s.seed_seconds,
        ingest_rps: ingest.rps,
        ingest_p99_ms: ingest.p99_ms,
        attribution_p50_ms: round(percentile(times[k], 50), 2),
        attribution_p99_ms: round(percentile(times[k], 99), 2),
        attributed: attributed[k],
        missing: clean(ingest) ? 0 : ingest.responses,
      });
      await s.stop();
      const reader = sqliteReader(join(s.dir, 'sspx.db'));
      results[k].missing += (await checkTouches(reader, ingest.accepted).finally(() => reader.close())).missing;
    }
    const rows: Row[] = results.map((r) => ({
      section: S,
      metric: `${fmt(r.stored)} stored touches (seeded in ${fmt(r.seed_seconds, 1)} s)`,
      value: `${fmt(r.ingest_rps)} touches/s; attribution p50 ${fmt(r.attribution_p50_ms, 1)} ms, p99 ${fmt(r.attribution_p99_ms, 1)} ms`,
    }));
    const [small, big] = results;
    const growthFactor = big.attribution_p50_ms / small.attribution_p50_ms;
    const flat = growthFactor <= 1.5 && big.attributed === turns && small.attributed === turns && big.missing + small.missing === 0;
    rows.push({
      section: S,
      metric: `attribution p50 at ${fmt(big.stored)} / at ${fmt(small.stored)} (measured turn about)`,
      value: `× ${fmt(growthFactor, 2)}`,
      goal: 'flat (≤ × 1.5), all attributed and stored',
      status: flat ? 'met' : 'MISSED',
    });
    return { name: S, rows, data: { sizes: results, turns, attribution_p50_growth: round(growthFactor, 3) } };
  } finally {
    await Promise.all(stores.map((s) => s.stop()));
    for (const s of stores) s.cleanup();
    await router.close();
  }
}
