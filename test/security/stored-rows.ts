// After hostile input: every stored row read back and checked against what the edge promises to let through. A row
// that fails here is one the schema should have refused: a token the router could not take byte for byte, an
// order_id, value or other Microsoft would reject, an id we did not mint, a control character in stored text.
import { isToken } from '../../snippet/token.js';
import type { Config } from '../../collector/config.js';
import { ID_PATTERN, INSTALL_ID, normalizeDeviceId, ORDER_ID, OTHER, VALUE, VISITOR_ID_PATTERN } from '../../collector/fields.js';
import { landingUrl, referrerOrigin } from '../../collector/ingest/client.js';
import type { SqliteStore } from '../../collector/store/sqlite.js';
import type { Store } from '../../collector/store/store.js';
import { pgQuery } from '../support/pg.js';

type Row = Record<string, unknown>;
export interface StoredRows {
  touches: Row[];
  conversions: Row[];
  fires: Row[];
  attempts: Row[];
  installs: Row[];
  diagnostics: Row[];
}

const TABLES = ['touches', 'conversions', 'fires', 'attempts', 'installs', 'diagnostics'] as const;

/** every row of the tables ingest writes, from a SQLite store or (schema given) a PostgreSQL one */
export async function readStoredRows(store: Store, pg?: { url: string; schema: string }): Promise<StoredRows> {
  const out = {} as StoredRows;
  for (const t of TABLES) {
    out[t] = pg ? await pgQuery(pg.url, `SELECT * FROM "${pg.schema}".${t}`) : ((store as SqliteStore).db.prepare(`SELECT * FROM ${t}`).all() as Row[]);
  }
  return out;
}

/** control characters (C0, DEL, C1), and unpaired surrogates: text no store or log reader should get */
const BAD_TEXT = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const IP_PREFIX = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.0\/24|[0-9a-f]{1,4}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/48)$/;
const ROW_ID = (p: string) => new RegExp(`^${p}_[A-Za-z0-9_-]{16}$`);
const num = (v: unknown) => (typeof v === 'string' ? Number(v) : (v as number));

/** the problems found, one line each; empty when every row is one the edge may store */
export function storedRowProblems(rows: StoredRows, config: Config, now = Date.now()): string[] {
  const problems: string[] = [];
  const pixelIds = new Set(Object.values(config.pixels).map((p) => p.id));
  const sites = new Set([...config.sites.map((s) => s.origin), 'unknown', 'app']);
  const check = (table: string, row: Row, field: string, ok: boolean) => {
    if (!ok) problems.push(`${table} ${String(row.id ?? row.install_id ?? row.day)}: ${field} = ${JSON.stringify(row[field])?.slice(0, 200)}`);
  };
  const nullOr = (v: unknown, test: (x: any) => boolean) => v === null || v === undefined || test(v);
  const time = (v: unknown) => Number.isSafeInteger(num(v)) && num(v) > now - 400 * 86_400_000 && num(v) < now + 86_400_000;
  const text = (v: unknown) => typeof v !== 'string' || !BAD_TEXT.test(v);

  for (const r of rows.touches) {
    check('touch', r, 'id', ROW_ID('t').test(String(r.id)));
    check('touch', r, 'kind', r.kind === 'click' || r.kind === 'view');
    check('touch', r, 'token', isToken(r.token));
    check('touch', r, 'cid', ID_PATTERN.test(String(r.cid)));
    check('touch', r, 'visitor_id', nullOr(r.visitor_id, (v) => VISITOR_ID_PATTERN.test(v)));
    check('touch', r, 'device_id', nullOr(r.device_id, (v) => normalizeDeviceId(v) === v));
    check('touch', r, 'site', nullOr(r.site, (v) => config.sites.some((s) => s.origin === v)));
    check('touch', r, 'source', ['script', 'impression', 'server', 'conversion', 'app'].includes(String(r.source)));
    check('touch', r, 'ip_prefix', nullOr(r.ip_prefix, (v) => IP_PREFIX.test(v)));
    check('touch', r, 'user_agent', nullOr(r.user_agent, (v) => typeof v === 'string' && v.length <= 512 && text(v)));
    // only what attribution needs (issue 15): origin, path and allow-listed params; a referrer's origin
    check('touch', r, 'url', nullOr(r.url, (v) => landingUrl(v) === v));
    check('touch', r, 'referrer', nullOr(r.referrer, (v) => referrerOrigin(v) === v));
    check('touch', r, 'hints', nullOr(r.hints, (v) => {
      const h = typeof v === 'string' ? JSON.parse(v) : v;
      return typeof h === 'object' && !Array.isArray(h) && Object.values(h).every((x) => typeof x !== 'string' || (x.length <= 64 && text(x)));
    }));
    check('touch', r, 'occurred_at', time(r.occurred_at));
  }
  for (const r of rows.conversions) {
    check('conversion', r, 'id', ROW_ID('c').test(String(r.id)));
    check('conversion', r, 'pixel_id', pixelIds.has(num(r.pixel_id)));
    check('conversion', r, 'source', ['browser', 'server', 'app'].includes(String(r.source)));
    check('conversion', r, 'order_id', nullOr(r.order_id, (v) => ORDER_ID.test(v)));
    check('conversion', r, 'value', nullOr(r.value, (v) => VALUE.test(v)));
    check('conversion', r, 'other', nullOr(r.other, (v) => OTHER.test(v)));
    check('conversion', r, 'token', nullOr(r.token, isToken));
    check('conversion', r, 'visitor_id', nullOr(r.visitor_id, (v) => VISITOR_ID_PATTERN.test(v)));
    check('conversion', r, 'cid', nullOr(r.cid, (v) => ID_PATTERN.test(v)));
    check('conversion', r, 'install_id', nullOr(r.install_id, (v) => INSTALL_ID.test(v)));
    check('conversion', r, 'device_id', nullOr(r.device_id, (v) => normalizeDeviceId(v) === v));
    check('conversion', r, 'outcome', ['attributed', 'unattributed', 'duplicate'].includes(String(r.outcome)));
    check('conversion', r, 'occurred_at', time(r.occurred_at));
  }
  for (const r of rows.fires) {
    check('fire', r, 'id', ROW_ID('f').test(String(r.id)));
    check('fire', r, 'pixel_id', pixelIds.has(num(r.pixel_id)));
    check('fire', r, 'token', isToken(r.token));
    check('fire', r, 'order_id', nullOr(r.order_id, (v) => ORDER_ID.test(v)));
    check('fire', r, 'value', nullOr(r.value, (v) => VALUE.test(v)));
    check('fire', r, 'other', nullOr(r.other, (v) => OTHER.test(v)));
    check('fire', r, 'state', ['queued', 'in_flight', 'fired', 'failed', 'held'].includes(String(r.state)));
  }
  for (const r of rows.attempts) {
    check('attempt', r, 'url', nullOr(r.url, (v) => typeof v === 'string' && v.startsWith(config.router + '?id=')));
  }
  for (const r of rows.installs) {
    check('install', r, 'install_id', INSTALL_ID.test(String(r.install_id)));
    check('install', r, 'platform', /^[A-Za-z][A-Za-z0-9_.-]{0,31}$/.test(String(r.platform)));
    check('install', r, 'device_id', nullOr(r.device_id, (v) => normalizeDeviceId(v) === v));
  }
  for (const r of rows.diagnostics) {
    check('diagnostic', r, 'site', sites.has(String(r.site)));
    check('diagnostic', r, 'kind', text(r.kind));
  }
  return problems;
}
