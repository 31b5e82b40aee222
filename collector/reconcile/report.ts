// Microsoft's Advertiser Attributed Conversions report, read as exported or as the Report Service returns it:
// CSV with any spelling and order of the header row (or none: then Microsoft's documented column order), quoted or
// not, comma, semicolon or tab separated; or JSON (an array of rows, or the Report Service's envelope). Each bad
// cell is refused with its line and column, never guessed.
import { normalizeDecimal } from './decimal.js';

export type ReportKind = 'click' | 'view';

/** One attributed conversion as Microsoft counted it. Times are ms, UTC. */
export interface ReportRow {
  at: number;
  pixel_id: number;
  pixel_name: string | null;
  order_id: string | null;
  /** the `other` parameter */
  external_data: string | null;
  /** post_click_or_post_view_conv */
  kind: ReportKind | null;
  imp_at: number | null;
  auction_id: string | null;
  line_item_id: string | null;
  line_item_name: string | null;
  campaign_id: string | null;
  campaign_name: string | null;
  creative_id: string | null;
  creative_name: string | null;
  /** post_click_or_post_view_revenue as the shortest decimal text; null when the report has no revenue column */
  revenue: string | null;
}

export type ReportField = keyof ReportRow;

export class ReportError extends Error {}

/** Microsoft's column names, in the documented order (also the order a header-less CSV is read in) */
export const REPORT_COLUMNS: readonly [ReportField, string][] = [
  ['at', 'datetime'],
  ['pixel_id', 'pixel_id'],
  ['pixel_name', 'pixel_name'],
  ['order_id', 'order_id'],
  ['external_data', 'external_data'],
  ['kind', 'post_click_or_post_view_conv'],
  ['imp_at', 'imp_time'],
  ['auction_id', 'auction_id'],
  ['line_item_id', 'line_item_id'],
  ['line_item_name', 'line_item_name'],
  ['campaign_id', 'campaign_id'],
  ['campaign_name', 'campaign_name'],
  ['creative_id', 'creative_id'],
  ['creative_name', 'creative_name'],
  ['revenue', 'post_click_or_post_view_revenue'],
];

/** other spellings seen in exports, in header-key form (see headerKey) */
const ALIASES: Partial<Record<ReportField, string[]>> = {
  at: ['datetime', 'conversiondatetime', 'conversiontime', 'time'],
  pixel_id: ['pixelid', 'conversionpixelid'],
  pixel_name: ['pixelname', 'conversionpixelname', 'pixel'],
  order_id: ['orderid', 'order'],
  external_data: ['externaldata', 'other'],
  kind: ['postclickpostviewconv', 'postclickpostview', 'conversiontype', 'type'],
  imp_at: ['imptime', 'impressiontime'],
  auction_id: ['auctionid'],
  line_item_id: ['lineitemid'],
  line_item_name: ['lineitemname', 'lineitem'],
  campaign_id: ['campaignid'],
  campaign_name: ['campaignname', 'campaign'],
  creative_id: ['creativeid'],
  creative_name: ['creativename', 'creative'],
  revenue: ['postclickpostviewrevenue', 'postclickpostviewrev', 'revenue', 'conversionrevenue'],
};

/** "Post Click / Post View Conv", "post_click_or_post_view_conv" → "postclickpostviewconv" */
const headerKey = (h: string) =>
  h.replace(/^\uFEFF/, '').toLowerCase().split(/[^a-z0-9]+/).filter((w) => w && w !== 'or').join('');

const FIELD_OF = new Map<string, ReportField>();
for (const [field, keys] of Object.entries(ALIASES) as [ReportField, string[]][]) for (const k of keys) FIELD_OF.set(k, field);

// ---- CSV ----

/** RFC 4180 records: quotes optional, "" inside quotes is a quote, CRLF or LF; each record with its first line */
export function csvRecords(text: string, delimiter: string): { line: number; cells: string[] }[] {
  const out: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let any = false;
  const endRecord = () => {
    cells.push(cell);
    if (any || cells.length > 1 || cell.trim()) out.push({ line: start, cells });
    cells = [];
    cell = '';
    any = false;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else {
        if (ch === '\n') line++;
        cell += ch;
      }
    } else if (ch === '"' && cell.trim() === '') {
      quoted = true;
      cell = '';
      any = true;
    } else if (ch === delimiter) {
      cells.push(cell);
      cell = '';
      any = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else cell += ch;
  }
  if (quoted) throw new ReportError(`line ${start}: a quoted cell is never closed`);
  if (cell !== '' || cells.length) endRecord();
  return out;
}

/** the separator that splits the first line into the most cells */
function sniffDelimiter(text: string): string {
  const first = text.split(/\r?\n/, 1)[0];
  let best = ',';
  let most = 0;
  for (const d of [',', ';', '\t']) {
    const n = first.split(d).length;
    if (n > most) (best = d), (most = n);
  }
  return best;
}

// ---- cells ----

const EMPTY = /^(|-|--|null|\(null\)|n\/a)$/i;
/** the UI's totals line, in whichever column it writes the word */
const TOTALS = /^(grand\s+)?totals?:?$/i;
const text = (v: string) => (EMPTY.test(v.trim()) ? null : v.trim());

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|UTC|[+-]00:?00)?$/i;
/** as Microsoft's UI shows it: 11/18/11 6:00, month first, UTC */
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{2}|\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AP]M)?)?$/i;

/** a UTC time as the report writes it; undefined when it is none of the report's formats */
export function reportTime(v: string): number | undefined {
  const s = v.trim();
  let y: number, mo: number, d: number, h: number, mi: number, sec: number;
  let m = ISO.exec(s);
  if (m) [y, mo, d, h, mi, sec] = [+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)];
  else if ((m = US.exec(s))) {
    [mo, d, y, h, mi, sec] = [+m[1], +m[2], +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)];
    if (y < 100) y += 2000;
    if (m[7]) {
      if (h < 1 || h > 12) return undefined;
      h = (h % 12) + (m[7].toUpperCase() === 'PM' ? 12 : 0);
    }
  } else return undefined;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return undefined;
  const t = Date.UTC(y, mo - 1, d, h, mi, sec);
  return new Date(t).getUTCDate() === d ? t : undefined;
}

/** "$1,234.50", "1234.5", "EUR 12" → the decimal; undefined when it is not money */
function revenueOf(v: string): string | undefined {
  let s = v.trim().replace(/^(?:[$€£¥]|[A-Z]{3}\s?)/, '').trim();
  if (/^\d{1,3}(,\d{3})+(\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  return /^\d+(\.\d+)?$|^\.\d+$/.test(s) ? normalizeDecimal(s) : undefined;
}

function kindOf(v: string): ReportKind | undefined {
  const s = v.trim().toLowerCase();
  if (/click|^pc$/.test(s)) return 'click';
  if (/view|imp|^pv$/.test(s)) return 'view';
  return undefined;
}

/** one row from its cells by field; `where` names the line for errors */
function toRow(get: (f: ReportField) => string | undefined, where: string): ReportRow | undefined {
  const raw = (f: ReportField) => text(get(f) ?? '');
  const atText = raw('at');
  const pixelText = raw('pixel_id');
  if (atText == null && pixelText == null) return undefined; // a blank line
  const bad = (field: string, value: string | null, want: string) =>
    new ReportError(`${where}: ${field} ${value == null ? 'is empty' : `"${value.slice(0, 40)}" is not ${want}`}`);
  const at = atText == null ? undefined : reportTime(atText);
  if (at === undefined) throw bad('datetime', atText, 'a UTC time such as 2026-11-18 06:00:00');
  if (pixelText == null || !/^\d{1,12}$/.test(pixelText)) throw bad('pixel_id', pixelText, 'a pixel id');
  const kindText = raw('kind');
  const kind = kindText == null ? null : kindOf(kindText);
  if (kind === undefined) throw bad('post_click_or_post_view_conv', kindText, '"Post Click" or "Post View"');
  const impText = raw('imp_at');
  const imp_at = impText == null ? null : reportTime(impText);
  if (imp_at === undefined) throw bad('imp_time', impText, 'a UTC time');
  const revText = raw('revenue');
  const revenue = revText == null ? (get('revenue') === undefined ? null : '0') : revenueOf(revText);
  if (revenue === undefined) throw bad('post_click_or_post_view_revenue', revText, 'an amount such as 19.90');
  return {
    at,
    pixel_id: Number(pixelText),
    pixel_name: raw('pixel_name'),
    order_id: raw('order_id'),
    external_data: raw('external_data'),
    kind,
    imp_at,
    auction_id: raw('auction_id'),
    line_item_id: raw('line_item_id'),
    line_item_name: raw('line_item_name'),
    campaign_id: raw('campaign_id'),
    campaign_name: raw('campaign_name'),
    creative_id: raw('creative_id'),
    creative_name: raw('creative_name'),
    revenue,
  };
}

/** the field each header cell names; a header row is one whose cells name the datetime or pixel_id column */
function headerFields(cells: string[]): (ReportField | undefined)[] | undefined {
  const fields = cells.map((c) => FIELD_OF.get(headerKey(c)));
  if (!fields.includes('at') && !fields.includes('pixel_id')) return undefined;
  for (const need of ['at', 'pixel_id'] as const) {
    if (!fields.includes(need)) {
      const name = REPORT_COLUMNS.find(([f]) => f === need)![1];
      throw new ReportError(`the report has no ${name} column (found: ${cells.map((c) => c.trim()).join(', ')})`);
    }
  }
  return fields;
}

function fromRecords(records: { line: number; cells: string[] }[], label = 'line'): ReportRow[] {
  if (!records.length) return [];
  let fields = headerFields(records[0].cells);
  let body = records;
  if (fields) body = records.slice(1);
  else fields = REPORT_COLUMNS.map(([f]) => f); // no header: Microsoft's documented order
  const rows: ReportRow[] = [];
  for (const r of body) {
    if (r.cells.some((c) => TOTALS.test(c.trim()))) continue;
    const get = (f: ReportField) => {
      const i = fields!.indexOf(f);
      return i < 0 ? undefined : (r.cells[i] ?? '');
    };
    const row = toRow(get, `${label} ${r.line}`);
    if (row) rows.push(row);
  }
  return rows;
}

// ---- JSON ----

const ROW_KEYS = ['data', 'rows', 'report_data', 'conversions', 'results'];

/** the rows of a JSON report: an array of objects or arrays, found at the top or under a Report Service envelope */
function jsonRows(doc: unknown): ReportRow[] {
  const seen = new Set<unknown>();
  const visit = (node: unknown, depth: number): ReportRow[] | undefined => {
    if (depth > 6 || node == null || typeof node !== 'object' || seen.has(node)) return undefined;
    seen.add(node);
    if (Array.isArray(node)) return fromJsonArray(node);
    const obj = node as Record<string, unknown>;
    const response = obj.response as Record<string, unknown> | undefined;
    if (response && typeof response === 'object' && (response.error || response.error_id)) {
      throw new ReportError(`the file is a Report Service error: ${String(response.error ?? response.error_id)}`);
    }
    for (const k of ROW_KEYS) {
      const v = obj[k];
      if (typeof v === 'string' && v.includes('\n')) return parseCsv(v);
      if (Array.isArray(v)) {
        const columns = obj.columns ?? obj.header ?? obj.headers;
        if (Array.isArray(columns) && v.every(Array.isArray)) return fromJsonArray([columns, ...v]);
        return fromJsonArray(v);
      }
    }
    for (const v of Object.values(obj)) {
      const found = visit(v, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  const rows = visit(doc, 0);
  if (!rows) throw new ReportError('no report rows found in this JSON (expected an array of rows, or {"data": [...]})');
  return rows;
}

function fromJsonArray(items: unknown[]): ReportRow[] {
  if (items.every(Array.isArray)) {
    return fromRecords(items.map((cells, i) => ({ line: i + 1, cells: (cells as unknown[]).map((c) => (c == null ? '' : String(c))) })), 'row');
  }
  const rows: ReportRow[] = [];
  items.forEach((item, i) => {
    if (item == null || typeof item !== 'object' || Array.isArray(item)) throw new ReportError(`row ${i + 1}: not an object`);
    const byField = new Map<ReportField, string>();
    for (const [k, v] of Object.entries(item)) {
      const f = FIELD_OF.get(headerKey(k));
      if (f && !byField.has(f)) byField.set(f, v == null ? '' : String(v));
    }
    const row = toRow((f) => byField.get(f), `row ${i + 1}`);
    if (row) rows.push(row);
  });
  return rows;
}

// ---- entry points ----

export function parseCsv(text: string): ReportRow[] {
  const body = text.replace(/^\uFEFF/, '');
  return fromRecords(csvRecords(body, sniffDelimiter(body)));
}

/** a report file's text, CSV or JSON (told apart by its first character) */
export function parseReport(text: string): ReportRow[] {
  const body = text.replace(/^\uFEFF/, '').trimStart();
  if (body.startsWith('{') || body.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch (err) {
      throw new ReportError(`the report looks like JSON but is not valid JSON (${(err as Error).message})`);
    }
    return jsonRows(doc);
  }
  return parseCsv(body);
}

const DAY = 86_400_000;

/** the UTC days a report's rows span: [first day's midnight, the midnight after the last row) */
export function reportPeriod(rows: ReportRow[]): { from: number; to: number } | undefined {
  if (!rows.length) return undefined;
  let min = Infinity;
  let max = -Infinity;
  for (const r of rows) (min = Math.min(min, r.at)), (max = Math.max(max, r.at));
  return { from: min - (min % DAY), to: max - (max % DAY) + DAY };
}
