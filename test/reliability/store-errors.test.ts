// Guards fault 3, store errors during ingest: SQLite's disk full (PRAGMA max_page_count pinned at the file's size)
// and PostgreSQL unreachable (the store talks to it through a forwarder the test
// cuts). Each refused request answers 503 `store_unavailable` and leaves no row behind (no touch, conversion,
// implicit touch or fire of it, not even part of a batch); everything answered 2xx is stored; and the collector
// takes requests again by itself once the store is back, with no restart.
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import type { SqliteStore } from '../../collector/store/sqlite.js';
import { bearer, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { describePg, pgQuery } from '../support/pg.js';
import { json, send } from '../support/proc.js';
import { until } from './db.js';
import { tcpForwarder } from './support.js';

type Kind = 'script_touch' | 'server_touch' | 'view' | 'conversion';
const KINDS: Kind[] = ['script_touch', 'server_touch', 'view', 'conversion'];

interface Sample {
  kind: Kind;
  marker: string;
  status: number;
  error?: string;
}

/** one ingest request whose rows all carry `marker` (in the token, and the order_id of a conversion) */
async function ingest(url: string, kind: Kind, marker: string, pad: number): Promise<Sample> {
  const t = token(marker);
  const long = `${SITE}/landing/${'x'.repeat(pad)}?m=${marker}`;
  const common = { 'user-agent': 'Mozilla/5.0 (store errors)' };
  let res;
  if (kind === 'script_touch') {
    res = await send(url + '/t', { headers: { ...common, origin: SITE, 'content-type': 'text/plain' }, body: JSON.stringify({ t, u: long }) });
  } else if (kind === 'server_touch') {
    res = await send(url + '/v1/touches', { headers: { ...common, ...bearer(SERVER_KEY), 'content-type': 'application/json' }, body: JSON.stringify({ token: t, url: long }) });
  } else if (kind === 'view') {
    res = await send(`${url}/i?sspdata=${encodeURIComponent(t)}`, { headers: common });
  } else {
    res = await send(url + '/v1/conversions', {
      headers: { ...common, ...bearer(SERVER_KEY), 'content-type': 'application/json' },
      body: JSON.stringify({ pixel: 'purchase', token: t, order_id: marker, other: 'x'.repeat(20) }),
    });
  }
  return { kind, marker, status: res.status, error: json(res)?.error };
}

/** the markers of every stored row: touches by token, conversions and fires by order_id and token */
type Rows = { touches: string[]; conversions: string[]; fires: string[] };
const markerOf = (tok: string) => /AAA([A-Z]+-\d+)\.$/.exec(tok)?.[1] ?? tok;

function checkNoPartialRows(samples: Sample[], rows: Rows) {
  const touched = new Set(rows.touches.map(markerOf));
  const converted = new Set(rows.conversions);
  const fired = new Set(rows.fires);
  let refused = 0;
  for (const s of samples) {
    const ok = s.status >= 200 && s.status < 300;
    if (!ok) {
      refused++;
      expect(s, 'a refusal is a 503 store_unavailable').toMatchObject({ status: 503, error: 'store_unavailable' });
    }
    // acknowledged: all of it stored; refused: none of it
    expect(touched.has(s.marker), `touch of ${s.kind} ${s.marker} (status ${s.status})`).toBe(ok);
    if (s.kind === 'conversion') {
      expect(converted.has(s.marker), `conversion ${s.marker}`).toBe(ok);
      expect(fired.has(s.marker), `fire ${s.marker}`).toBe(ok);
    }
  }
  return refused;
}

/** a burst of requests of every kind, several in flight at once so that group commits mix them */
async function burst(url: string, tag: string, from: number, count: number, pad: number): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = from; i < from + count; i += 8) {
    const n = Math.min(8, from + count - i);
    out.push(...(await Promise.all(Array.from({ length: n }, (_, k) => ingest(url, KINDS[(i + k) % 4], `${tag}-${i + k}`, pad)))));
  }
  return out;
}

describe('SQLite disk full', () => {
  let c: TestCollector;
  afterAll(() => c?.stop());

  it('503 store_unavailable, no partial rows, and recovery by itself when space returns', async () => {
    c = await startTestCollector();
    const db = (c.ctx.store as SqliteStore).db;
    const before = await burst(c.url, 'SQA', 0, 16, 100);
    expect(before.every((s) => s.status < 300)).toBe(true);

    // the disk is full: the file may not grow by a single page
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true })}`);
    const full: Sample[] = [];
    for (let round = 0; round < 40 && full.filter((s) => s.status === 503).length < 8; round++) {
      full.push(...(await burst(c.url, 'SQB', round * 8, 8, 1500)));
    }
    const refusedWhileFull = full.filter((s) => s.status === 503).length;
    expect(refusedWhileFull).toBeGreaterThanOrEqual(8);
    const health = await send(c.url + '/healthz');
    expect(health.status).toBe(200);

    // space returns: the same process takes writes again, no restart
    db.pragma('max_page_count = 1073741823');
    const after = await burst(c.url, 'SQC', 0, 16, 1500);
    expect(after.map((s) => s.status).every((s) => s < 300)).toBe(true);

    const rows: Rows = {
      touches: (db.prepare('SELECT token FROM touches').all() as { token: string }[]).map((r) => r.token),
      conversions: (db.prepare('SELECT order_id FROM conversions').all() as { order_id: string }[]).map((r) => r.order_id),
      fires: (db.prepare('SELECT order_id FROM fires').all() as { order_id: string }[]).map((r) => r.order_id),
    };
    const refused = checkNoPartialRows([...before, ...full, ...after], rows);
    expect(refused).toBe(refusedWhileFull);
    console.log(`[disk full] ${before.length + full.length + after.length} requests, ${full.length} while full: ${refusedWhileFull} refused 503, none partly stored`);
  });
});

describePg('PostgreSQL unreachable', (pg) => {
  const stops: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  });

  it('503 store_unavailable while cut, no partial rows, and recovery by itself when it is back', async () => {
    const pgPort = Number(new URL(pg.url).port || 5432);
    const forwarder = await tcpForwarder(pgPort, { up: true });
    stops.push(() => forwarder.close());
    const proxied = new URL(pg.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(forwarder.port);
    const schema = pg.newSchema();
    const store = new PostgresStore(proxied.href, { schema, poolSize: 4 });
    const c = await startTestCollector({}, { store });
    stops.push(() => c.stop());

    const before = await burst(c.url, 'PGA', 0, 16, 100);
    expect(before.every((s) => s.status < 300)).toBe(true);

    await forwarder.cut();
    const cut = await burst(c.url, 'PGB', 0, 16, 100);
    expect(cut.every((s) => s.status === 503 && s.error === 'store_unavailable'), JSON.stringify(cut.map((s) => s.status))).toBe(true);
    expect((await send(c.url + '/readyz')).status).toBe(503);

    await forwarder.up();
    await until('the store to answer again', async () => (await send(c.url + '/readyz')).status === 200, 15_000);
    const after = await burst(c.url, 'PGC', 0, 16, 100);
    expect(after.every((s) => s.status < 300), JSON.stringify(after.map((s) => s.status))).toBe(true);

    const q = <R extends Record<string, unknown>>(sql: string) => pgQuery<R>(pg.url, sql.replaceAll('S.', `"${schema}".`));
    const rows: Rows = {
      touches: (await q<{ token: string }>('SELECT token FROM S.touches')).map((r) => r.token),
      conversions: (await q<{ order_id: string }>('SELECT order_id FROM S.conversions')).map((r) => r.order_id),
      fires: (await q<{ order_id: string }>('SELECT order_id FROM S.fires')).map((r) => r.order_id),
    };
    checkNoPartialRows([...before, ...cut, ...after], rows);
  });
});
