// 3. Conversions: a site backend's S2S POST /v1/conversions, each answered only after the commit that holds it was
// fsync'd, on the collector as shipped (dispatcher on, firing at a stand-in router that redirects once), beside the
// raw node:http server parsing the same body under the same load. Every acknowledged conversion must be in the file,
// attributed, its fire recorded as fired and its order id seen by the router: anything missing fails the rows.
import { join } from 'node:path';
import { firesSettled } from '../lib/drain.js';
import { load, type LoadResult } from '../lib/load.js';
import { migrate, startCollector, startRaw, type Child } from '../lib/proc.js';
import { fmt, goalRow, unless, type Row, type Section } from '../lib/report.js';
import { startRouter, type BenchRouter } from '../lib/router.js';
import { collectorConfig, conversionRequest, LOAD, postTouches, QUICK, round, scratch } from '../lib/setup.js';
import { checkConversions, conversionsComplete, sqliteReader, type ConversionCheck, type Reader } from '../lib/stored.js';
import { clean, measured, refusedText, withLatency } from './ingest.js';

const S = 'conversions';
/** how long the dispatcher may take, after the load, to fire what was acknowledged */
export const FIRE_DRAIN_MS = QUICK ? 20_000 : 60_000;
/** touches the conversions are attributed to, in turn */
const TOUCHES = 200;

export interface ConversionRun {
  result: LoadResult & { cpu_us_per_request: number };
  check: ConversionCheck;
  /** seconds after the load until the last fire reached the router */
  drain_s: number;
  exit: number | null;
  complete: boolean;
}

/** one collector taking the conversion load; the router counts its fires; `read` opens the store once it stopped */
export async function conversionRun(dir: string, router: BenchRouter, collector: Child, read: () => Promise<Reader>, settings = LOAD): Promise<ConversionRun> {
  let result, drain_s, exit;
  try {
    const tokens = await postTouches(collector.url, TOUCHES);
    result = await measured(collector, () => load(collector.url, conversionRequest(tokens), settings, dir));
    drain_s = await firesSettled(router, result.accepted.length, FIRE_DRAIN_MS);
  } finally {
    exit = await collector.stop();
  }
  const reader = await read();
  const check = await checkConversions(reader, result.accepted, router.loggedOrders).finally(() => reader.close());
  return { result, check, drain_s, exit, complete: clean(result) && conversionsComplete(check) && exit === 0 };
}

export const checkText = (c: ConversionCheck, r: LoadResult) =>
  `${fmt(c.acknowledged - c.missing - c.unattributed - c.not_fired - c.not_at_router)} of ${fmt(c.acknowledged)} (refused or unanswered: ${refusedText(r)})`;

export const checkMargin = (c: ConversionCheck) =>
  [[c.missing, 'missing'], [c.unattributed, 'unattributed'], [c.not_fired, 'not fired'], [c.not_at_router, 'not at router']]
    .filter(([n]) => n)
    .map(([n, what]) => `${fmt(n as number)} ${what}`)
    .join(', ');

export async function conversionIngest(): Promise<{ section: Section; collector_rps: number }> {
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  try {
    const raw = await startRaw(dir);
    let rawResult;
    try {
      rawResult = await measured(raw, () => load(raw.url, conversionRequest(['ams1-raw-baseline.']), LOAD, dir));
    } finally {
      await raw.stop();
    }
    const config = collectorConfig(dir, router.url);
    migrate(dir, config);
    const run = await conversionRun(dir, router, await startCollector('collector', dir, config), async () => sqliteReader(join(dir, 'sspx.db')));
    const complete = run.complete && clean(rawResult);
    const rps = run.result.rps;
    const ratio = rps / rawResult.rps;
    const rows: Row[] = [
      { section: S, metric: 'raw node:http (parses the same body)', value: withLatency(rawResult) },
      unless(complete, goalRow(S, 'S2S conversions, fsync\'d, dispatcher on, every one fired', rps, withLatency(run.result), 5000, 'higher', '≥ 5,000/s')),
      unless(complete, goalRow(S, 'ratio collector / raw', ratio, fmt(ratio, 3), 0.09, 'higher', '≥ 0.09')),
      {
        section: S,
        metric: `acknowledged: stored, attributed, fired, at the router by order id (last fire ${Number.isFinite(run.drain_s) ? `${fmt(run.drain_s, 1)} s after the load` : `not within ${FIRE_DRAIN_MS / 1000} s`})`,
        value: checkText(run.check, run.result),
        goal: 'all, none refused',
        status: complete ? 'met' : 'FAILED',
        margin: checkMargin(run.check),
      },
    ];
    const strip = (r: LoadResult) => ({ ...r, accepted: r.accepted.length });
    return {
      section: { name: S, rows, data: { raw: strip(rawResult), collector: strip(run.result), ratio: round(ratio, 4), check: run.check, drain_s: run.drain_s, collector_exit: run.exit } },
      collector_rps: complete ? rps : NaN,
    };
  } finally {
    await router.close();
    cleanup();
  }
}
