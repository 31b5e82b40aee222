// 7. PostgreSQL beside SQLite: touches/s and fires/s of one process on SQLite (the rows measured above), one process
// on PostgreSQL, and three processes sharing one PostgreSQL schema, under the same total load. Each run gets a fresh
// schema, dropped afterwards. SSPX_BENCH_PG_URL names the server (default postgres://postgres@127.0.0.1:5432/test).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../collector/store/postgres.js';
import { load, type LoadResult } from '../lib/load.js';
import { startCollector, type Child } from '../lib/proc.js';
import { fmt, type Row, type Section } from '../lib/report.js';
import { collectorConfig, QUICK, scratch, SHORT_LOAD, TOUCH_REQUEST } from '../lib/setup.js';
import { PIXEL_ID, tokenOf } from '../lib/sqlite.js';
import { drainQueue } from './dispatch.js';

const S = 'PostgreSQL';
export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** one connection for the section's own statements (reachability, seeding, counting, dropping schemas) */
type Sql = (text: string, values?: unknown[]) => Promise<pg.QueryResultRow[]>;
async function connect(url: string): Promise<{ sql: Sql; end(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  return { sql: async (text, values) => (await client.query(text, values)).rows, end: () => client.end() };
}

/** a fresh schema with the collector's tables, and the store URL that points the collector at it */
async function freshSchema(url: string): Promise<{ schema: string; store: string }> {
  const schema = `sspx_bench_${randomBytes(5).toString('hex')}`;
  const store = new PostgresStore(url, { schema });
  await store.migrate();
  await store.close();
  return { schema, store: `${url}${url.includes('?') ? '&' : '?'}schema=${schema}` };
}

/** `processes` collectors on one schema; the load's connections split between them, run at once */
async function touches(url: string, sql: Sql, processes: number): Promise<{ rps: number; p99_ms: number; acknowledged: number; stored: number; errors: number }> {
  const { schema, store } = await freshSchema(url);
  const dirs = Array.from({ length: processes }, () => scratch());
  const collectors: Child[] = [];
  try {
    for (const [i, d] of dirs.entries()) collectors.push(await startCollector(`collector ${i + 1}`, d.dir, collectorConfig(d.dir, { store })));
    const share = (i: number) => Math.floor(SHORT_LOAD.connections / processes) + (i < SHORT_LOAD.connections % processes ? 1 : 0);
    const results: LoadResult[] = await Promise.all(collectors.map((c, i) => load(c.url, TOUCH_REQUEST, { ...SHORT_LOAD, connections: share(i) })));
    await Promise.all(collectors.map((c) => c.stop()));
    const stored = Number((await sql(`SELECT COUNT(*) AS n FROM "${schema}".touches`))[0].n);
    return {
      rps: results.reduce((s, r) => s + r.rps, 0),
      p99_ms: Math.max(...results.map((r) => r.p99_ms)),
      acknowledged: results.reduce((s, r) => s + r.ok + r.warmup_ok, 0),
      stored,
      errors: results.reduce((s, r) => s + r.errors + r.non2xx, 0),
    };
  } finally {
    await Promise.all(collectors.map((c) => c.stop()));
    for (const d of dirs) d.cleanup();
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

/** `n` due fires seeded in a fresh schema, drained by `processes` collectors with their dispatchers on */
async function fires(url: string, sql: Sql, processes: number, n: number): Promise<{ fires_per_s: number; fired: number; logged: number; drained: boolean }> {
  const { schema, store } = await freshSchema(url);
  const dirs = Array.from({ length: processes }, () => scratch());
  try {
    const now = Date.now() - 1000;
    await sql(
      `INSERT INTO "${schema}".fires (id, conversion_id, pixel_id, order_id, value, token, state, attempt_count, next_attempt_at, created_at, updated_at)
       SELECT 'f_seed' || i, 'c_seed' || i, ${PIXEL_ID}, 'B-' || i, '10.50', $1 || i || '.', 'queued', 0, $2, $2, $2 FROM generate_series(1, $3) AS i`,
      [tokenOf(0).slice(0, -1), now, n],
    );
    const result = await drainQueue(n, (router) =>
      Promise.all(dirs.map((d, i) => startCollector(`collector ${i + 1}`, d.dir, collectorConfig(d.dir, { store, dispatcher: true, router })))),
    );
    const fired = Number((await sql(`SELECT COUNT(*) AS n FROM "${schema}".fires WHERE state = 'fired'`))[0].n);
    return { fires_per_s: result.fires_per_s, fired, logged: result.logged, drained: result.drained };
  } finally {
    for (const d of dirs) d.cleanup();
    await sql(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  }
}

export async function postgres(sqlite: { touches_per_s: number; fires_per_s: number }): Promise<Section> {
  const url = process.env.SSPX_BENCH_PG_URL || DEFAULT_PG_URL;
  const shown = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  let db: Awaited<ReturnType<typeof connect>>;
  try {
    db = await connect(url);
    await db.sql('SELECT 1');
  } catch (err) {
    const why = `SKIPPED: PostgreSQL at ${shown} is unreachable (${(err as Error).message}); set SSPX_BENCH_PG_URL`;
    return { name: S, rows: [{ section: S, metric: 'touches/s and fires/s', value: '', goal: why, status: 'skipped' }], data: { skipped: why } };
  }
  const n = QUICK ? 3_000 : 20_000;
  let one, three;
  try {
    one = { touches: await touches(url, db.sql, 1), fires: await fires(url, db.sql, 1, n) };
    three = { touches: await touches(url, db.sql, 3), fires: await fires(url, db.sql, 3, n) };
  } finally {
    await db.end();
  }
  const committed = (t: { acknowledged: number; stored: number; errors: number }) => t.stored >= t.acknowledged && t.errors === 0;
  const rows: Row[] = [
    { section: S, metric: 'touches/s: SQLite ×1 | PostgreSQL ×1 | ×3', value: `${fmt(sqlite.touches_per_s)} | ${fmt(one.touches.rps)} | ${fmt(three.touches.rps)}` },
    { section: S, metric: 'fires/s:   SQLite ×1 | PostgreSQL ×1 | ×3', value: `${fmt(sqlite.fires_per_s)} | ${fmt(one.fires.fires_per_s)} | ${fmt(three.fires.fires_per_s)}` },
    {
      section: S,
      metric: 'PostgreSQL: touches stored ≥ acknowledged; fires fired = logged',
      value: `${fmt(one.touches.stored + three.touches.stored)} ≥ ${fmt(one.touches.acknowledged + three.touches.acknowledged)}; ${fmt(one.fires.fired + three.fires.fired)} = ${fmt(one.fires.logged + three.fires.logged)}`,
      goal: 'both',
      status: committed(one.touches) && committed(three.touches) && one.fires.fired === one.fires.logged && three.fires.fired === three.fires.logged ? 'met' : 'FAILED',
    },
  ];
  return { name: S, rows, data: { url: shown, sqlite_one_process: sqlite, postgres_one_process: one, postgres_three_processes: three } };
}
