// What the store holds after a run, read around the collector once it has stopped: the one place the bench knows the
// store's tables. Every acknowledged touch is looked up by its cid, every acknowledged conversion by its id, and each
// conversion's fire by its order id at the stand-in router. Nothing is tolerated missing.
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import pg from 'pg';

/** rows of one SELECT */
export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

export interface Reader {
  query: Query;
  close(): Promise<void>;
}

export function sqliteReader(path: string): Reader {
  const db = new Database(path, { readonly: true });
  return { query: async (sql) => db.prepare(sql).all() as Record<string, unknown>[], close: async () => void db.close() };
}

export async function postgresReader(url: string, schema: string): Promise<Reader> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  await client.query(`SET search_path TO "${schema}"`);
  return { query: async (sql) => (await client.query(sql)).rows, close: () => client.end() };
}

const MISSING_SHOWN = 3;

export interface TouchCheck {
  acknowledged: number;
  stored: number;
  /** acknowledged cids not in the store */
  missing: number;
  /** stored touches sharing a token: each request carried its own */
  repeated_tokens: number;
  missing_sample: string[];
}

export async function checkTouches(r: Reader, acknowledged: string[]): Promise<TouchCheck> {
  const rows = await r.query('SELECT cid, token FROM touches');
  const cids = new Set(rows.map((row) => String(row.cid)));
  const tokens = new Set(rows.map((row) => String(row.token)));
  const missing = acknowledged.filter((cid) => !cids.has(cid));
  return { acknowledged: acknowledged.length, stored: rows.length, missing: missing.length, repeated_tokens: rows.length - tokens.size, missing_sample: missing.slice(0, MISSING_SHOWN) };
}

export interface ConversionCheck {
  acknowledged: number;
  stored: number;
  /** acknowledged conversion ids not in the store */
  missing: number;
  /** stored, but not attributed (so never fired) */
  unattributed: number;
  /** attributed, but its fire is not recorded as fired */
  not_fired: number;
  /** its order id never reached the stand-in router */
  not_at_router: number;
  sample: string[];
}

/** every acknowledged conversion stored, attributed, its fire recorded as fired and seen by the router */
export async function checkConversions(r: Reader, acknowledged: string[], routerOrders: { has(order: string): boolean }): Promise<ConversionCheck> {
  const conversions = new Map((await r.query('SELECT id, order_id, outcome FROM conversions')).map((row) => [String(row.id), row]));
  const fired = new Set((await r.query(`SELECT conversion_id FROM fires WHERE state = 'fired'`)).map((row) => String(row.conversion_id)));
  const out: ConversionCheck = { acknowledged: acknowledged.length, stored: conversions.size, missing: 0, unattributed: 0, not_fired: 0, not_at_router: 0, sample: [] };
  const note = (why: string) => void (out.sample.length < MISSING_SHOWN && out.sample.push(why));
  for (const id of acknowledged) {
    const c = conversions.get(id);
    if (!c) (out.missing++, note(`${id} not stored`));
    else if (c.outcome !== 'attributed') (out.unattributed++, note(`${id} ${String(c.outcome)}`));
    else {
      if (!fired.has(id)) (out.not_fired++, note(`${id} not fired`));
      if (!routerOrders.has(String(c.order_id))) (out.not_at_router++, note(`order ${String(c.order_id)} not at the router`));
    }
  }
  return out;
}

export const conversionsComplete = (c: ConversionCheck): boolean => c.missing + c.unattributed + c.not_fired + c.not_at_router === 0;

/** bytes of the SQLite file and its WAL */
export function sqliteBytes(path: string): number {
  const size = (p: string) => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}

/** folds the WAL into the file (the collector has stopped), so the file's size is what the rows take */
export function checkpoint(path: string): void {
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
