// The join: Microsoft's report beside our conversions and fires, by (pixel_id, order_id), each order of the period
// in one of four classes, with what we know about why; fires without an order id compared as counts per pixel and
// UTC hour; values compared as exact decimals. Pure: the store is read in load.ts.
import { findPixel, type Config, type PixelConfig } from '../config.js';
import type { ReconcileRow } from '../store/reconcile-sql.js';
import type { DuplicateRule } from '../vocabulary.js';
import { normalizeDecimal, subtractDecimal } from './decimal.js';
import type { ReportKind, ReportRow } from './report.js';
import { isoTime } from '../clock.js';

export const ORDER_CLASSES = ['matched', 'fired_not_counted', 'counted_not_fired', 'not_fired_here'] as const;
export type OrderClass = (typeof ORDER_CLASSES)[number];

/** a line's time, for JSON and tables: 2026-11-18T06:00:00Z */

export interface OurSide {
  conversion_id: string;
  fire_id: string | null;
  /** the fire's state; null when the conversion was not attributed (no fire) */
  state: ReconcileRow['fire_state'];
  outcome: ReconcileRow['outcome'];
  /** the value we fired (or would have) */
  value: string | null;
  recorded_at: string;
  fired_at: string | null;
  touch_kind: ReconcileRow['touch_kind'];
  touched_at: string | null;
}

export interface TheirSide {
  at: string;
  kind: ReportKind | null;
  revenue: string | null;
  imp_at: string | null;
  auction_id: string | null;
  line_item: { id: string | null; name: string | null };
  campaign: { id: string | null; name: string | null };
  creative: { id: string | null; name: string | null };
  /** how many report rows name this order (more than one: Microsoft counted it more than once) */
  rows: number;
}

export interface OrderLine {
  class: OrderClass;
  pixel_id: number;
  order_id: string;
  /** Microsoft's time when it counted the order, else when we fired (or recorded) it */
  at: string;
  ours: OurSide | null;
  theirs: TheirSide | null;
  /** matched only: whether Microsoft's post-click/post-view agrees with the touch we attributed */
  click_view: 'agree' | 'differ' | 'unknown' | null;
  /** matched only, when the report has revenue: our value against Microsoft's revenue, exactly */
  value: { ours: string; theirs: string; match: boolean; difference: string } | null;
  /** the likely cause (fired_not_counted, counted_not_fired) or why we did not fire (not_fired_here); null when matched */
  reason: string | null;
  /** everything else we know that bears on it */
  facts: string[];
}

export interface HourCount {
  pixel_id: number;
  /** the UTC hour's start */
  hour: string;
  ours: number;
  theirs: number;
  difference: number;
}

export interface Reconciliation {
  period: { from: string; to: string; source: string; report_rows: number; report_rows_outside_period: number };
  matched: number;
  fired_not_counted: number;
  counted_not_fired: number;
  not_fired_here: number;
  value_mismatch: number;
  click_view_differ: number;
  orders: OrderLine[];
  /** fires without an order id and report rows without one, per pixel and UTC hour */
  hours: HourCount[];
}

export interface ReconcileInput {
  report: ReportRow[];
  ours: ReconcileRow[];
  from: number;
  to: number;
  source: string;
  config: Config;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** a fire this close to the period's end may not be in the report yet */
const LATE_MS = 3 * HOUR;

const keyOf = (pixel_id: number, order_id: string) => `${pixel_id}\u0000${order_id}`;
const hourOf = (t: number) => isoTime(t - (t % HOUR));
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** minutes as a person reads them: 90 → "1.5 h", 2880 → "2 d" */
export function span(mins: number): string {
  if (mins < 120) return `${Math.round(mins)} min`;
  if (mins < 2880) return `${Math.round(mins / 6) / 10} h`;
  return `${Math.round(mins / 144) / 10} d`;
}

/** the row of an order that says most about it: a fired fire, then any fire, then an attributed conversion, … */
function rank(r: ReconcileRow): number {
  if (r.fire_state === 'fired') return 0;
  if (r.fire_state) return 1;
  return r.outcome === 'attributed' ? 2 : r.outcome === 'duplicate' ? 3 : 4;
}

function ourSide(r: ReconcileRow): OurSide {
  return {
    conversion_id: r.conversion_id,
    fire_id: r.fire_id,
    state: r.fire_state,
    outcome: r.outcome,
    value: r.fire_value ?? r.value,
    recorded_at: isoTime(r.created_at),
    fired_at: r.fired_at == null ? null : isoTime(r.fired_at),
    touch_kind: r.touch_kind,
    touched_at: r.touched_at == null ? null : isoTime(r.touched_at),
  };
}

function theirSide(rows: ReportRow[]): TheirSide {
  const r = rows[0];
  return {
    at: isoTime(r.at),
    kind: r.kind,
    revenue: r.revenue,
    imp_at: r.imp_at == null ? null : isoTime(r.imp_at),
    auction_id: r.auction_id,
    line_item: { id: r.line_item_id, name: r.line_item_name },
    campaign: { id: r.campaign_id, name: r.campaign_name },
    creative: { id: r.creative_id, name: r.creative_name },
    rows: rows.length,
  };
}

/** what each duplicate rule means here; `unknown` for duplicates stored before the rule was (migration 8) */
const DUPLICATE_WHY: Record<DuplicateRule | 'unknown', string> = {
  order_id: 'its order was attributed already (order_id)',
  min_minutes_per_conv: 'the visitor converted on this pixel before, within min_minutes_per_conv',
  unknown: 'same order, or within min_minutes_per_conv',
};

/** why a recorded conversion was not fired */
function notFiredReason(r: ReconcileRow): string {
  switch (r.fire_state) {
    case 'failed':
      return `failed: ${r.last_error ?? 'the router refused it'}`;
    case 'held':
      return `held: the attempt was ambiguous; it waits for a replay${r.last_error ? ` (${r.last_error})` : ''}`;
    case 'queued':
    case 'in_flight':
      return `not fired yet (${r.fire_state.replace('_', ' ')})`;
    default:
      if (r.outcome === 'duplicate') return `duplicate${r.duplicate_of ? ` of conversion ${r.duplicate_of}` : ''}: ${DUPLICATE_WHY[r.rule ?? 'unknown']}`;
      return "unattributed: no touch of this visitor in the pixel's windows";
  }
}

/** what we know of a fire Microsoft did not count, the likeliest cause first */
function whyNotCounted(r: ReconcileRow, pixel: PixelConfig | undefined, to: number): { reason: string; facts: string[] } {
  const likely: string[] = [];
  const facts: string[] = [];
  const fired = r.fired_at ?? r.created_at;
  if (!pixel) facts.push(`pixel ${r.pixel_id} is not in the configuration: its windows are unknown`);
  if (r.touched_at == null || !r.touch_kind) {
    facts.push('no stored touch (removed by retention, or attributed through an app install)');
  } else if (pixel) {
    const ageMins = (fired - r.touched_at) / MINUTE;
    const click = r.touch_kind === 'click';
    const windowMins = click ? pixel.post_click_expire_mins : pixel.post_view_expire_mins;
    const name = click ? 'post-click' : 'post-view';
    facts.push(`token ${span(ageMins)} old when fired (${r.touch_kind}); the ${name} window is ${span(windowMins)}`);
    if (!click && pixel.trigger_type === 'click') likely.push('a post-view conversion, but the pixel counts clicks only (trigger_type click)');
    if (ageMins > windowMins) likely.push(`the token was past the pixel's ${name} window when fired`);
    else if (ageMins > windowMins * 0.9) likely.push(`the token was near the end of the ${name} window: Microsoft's clock starts at the ${click ? 'click' : 'impression'}, before our touch`);
  }
  const delay = fired - r.occurred_at;
  if (delay > HOUR) facts.push(`fired ${span(delay / MINUTE)} after the conversion occurred (retries or a late report)`);
  if (r.earlier_fires > 0) {
    const earlier = `${plural(r.earlier_fires, 'earlier fire')} for this visitor`;
    if (pixel && pixel.min_minutes_per_conv === null) likely.push(`Microsoft counts one conversion per user for this pixel (min_minutes_per_conv null): ${earlier}`);
    else facts.push(`${earlier}${pixel?.min_minutes_per_conv ? ` (min_minutes_per_conv ${pixel.min_minutes_per_conv})` : ''}`);
  }
  if (to - fired <= LATE_MS) likely.push("fired in the period's last hours: the report may not include it yet");
  const reason = likely.shift() ?? 'nothing in our records explains it: send Microsoft the fire\'s transcript (dashboard → Download evidence)';
  return { reason, facts: [...likely, ...facts] };
}

export function reconcile(input: ReconcileInput): Reconciliation {
  const { from, to, config } = input;
  const inPeriod = (t: number) => t >= from && t < to;
  const report = input.report.filter((r) => inPeriod(r.at));

  const theirs = new Map<string, ReportRow[]>();
  for (const r of report) {
    if (r.order_id == null) continue;
    const k = keyOf(r.pixel_id, r.order_id);
    const list = theirs.get(k);
    if (list) list.push(r);
    else theirs.set(k, [r]);
  }
  const ours = new Map<string, ReconcileRow[]>();
  const pixelsByOrder = new Map<string, Set<number>>();
  for (const r of input.ours) {
    if (r.order_id == null) continue;
    const k = keyOf(r.pixel_id, r.order_id);
    const list = ours.get(k);
    if (list) list.push(r);
    else ours.set(k, [r]);
    if (r.fire_state === 'fired') {
      const set = pixelsByOrder.get(r.order_id) ?? new Set();
      set.add(r.pixel_id);
      pixelsByOrder.set(r.order_id, set);
    }
  }

  const orders: OrderLine[] = [];
  for (const [k, rows] of theirs) {
    const t = theirSide(rows);
    const { pixel_id, order_id } = rows[0] as { pixel_id: number; order_id: string };
    const mine = ours.get(k)?.slice().sort((a, b) => rank(a) - rank(b));
    const facts = rows.length > 1 ? [`Microsoft lists this order ${rows.length} times`] : [];
    const line: OrderLine = { class: 'matched', pixel_id, order_id, at: t.at, ours: null, theirs: t, click_view: null, value: null, reason: null, facts };
    orders.push(line);
    if (!mine) {
      line.class = 'counted_not_fired';
      line.reason = 'never recorded here: another pixel on the page or a second integration fired it (a double count), or the conversion never reached us';
      if (!findPixel(config, pixel_id)) facts.push(`pixel ${pixel_id} is not in our configuration`);
      const elsewhere = [...(pixelsByOrder.get(order_id) ?? [])].filter((p) => p !== pixel_id);
      if (elsewhere.length) facts.push(`we fired this order id under pixel ${elsewhere.join(', ')}`);
      continue;
    }
    const best = mine[0];
    line.ours = ourSide(best);
    if (best.fire_state !== 'fired') {
      line.class = 'not_fired_here';
      line.reason = notFiredReason(best);
      for (const other of mine.slice(1)) facts.push(`also recorded: ${notFiredReason(other)}`);
      continue;
    }
    line.click_view = !t.kind || !best.touch_kind ? 'unknown' : t.kind === best.touch_kind ? 'agree' : 'differ';
    if (line.click_view === 'differ') facts.push(`Microsoft counted a post-${t.kind}; we attributed a ${best.touch_kind}`);
    if (t.revenue != null) {
      const ourValue = normalizeDecimal(best.fire_value ?? '0') ?? '0';
      const difference = subtractDecimal(t.revenue, ourValue) ?? '0';
      line.value = { ours: ourValue, theirs: t.revenue, match: difference === '0', difference };
    }
  }

  for (const [k, rows] of ours) {
    if (theirs.has(k)) continue;
    const fired = rows.filter((r) => r.fire_state === 'fired' && r.fired_at != null && inPeriod(r.fired_at));
    if (!fired.length) continue; // neither fired nor counted: the two sides agree
    const r = fired[0];
    const { reason, facts } = whyNotCounted(r, findPixel(config, r.pixel_id), to);
    if (fired.length > 1) facts.unshift(`we fired this order ${fired.length} times`);
    orders.push({
      class: 'fired_not_counted', pixel_id: r.pixel_id, order_id: r.order_id!, at: isoTime(r.fired_at!), ours: ourSide(r), theirs: null,
      click_view: null, value: null, reason, facts,
    });
  }
  orders.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order_id < b.order_id ? -1 : 1));

  const count = (c: OrderClass) => orders.filter((o) => o.class === c).length;
  return {
    period: { from: isoTime(from), to: isoTime(to), source: input.source, report_rows: report.length, report_rows_outside_period: input.report.length - report.length },
    matched: count('matched'),
    fired_not_counted: count('fired_not_counted'),
    counted_not_fired: count('counted_not_fired'),
    not_fired_here: count('not_fired_here'),
    value_mismatch: orders.filter((o) => o.value && !o.value.match).length,
    click_view_differ: orders.filter((o) => o.click_view === 'differ').length,
    orders,
    hours: hourCounts(report, input.ours, inPeriod),
  };
}

/** fires without an order id cannot be joined: their counts per pixel and UTC hour are compared instead */
function hourCounts(report: ReportRow[], ours: ReconcileRow[], inPeriod: (t: number) => boolean): HourCount[] {
  const counts = new Map<string, HourCount>();
  const at = (pixel_id: number, t: number) => {
    const hour = hourOf(t);
    const k = `${pixel_id}\u0000${hour}`;
    let c = counts.get(k);
    if (!c) counts.set(k, (c = { pixel_id, hour, ours: 0, theirs: 0, difference: 0 }));
    return c;
  };
  for (const r of report) if (r.order_id == null) at(r.pixel_id, r.at).theirs++;
  for (const r of ours) if (r.order_id == null && r.fire_state === 'fired' && r.fired_at != null && inPeriod(r.fired_at)) at(r.pixel_id, r.fired_at).ours++;
  const out = [...counts.values()].sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : a.pixel_id - b.pixel_id));
  for (const c of out) c.difference = c.theirs - c.ours;
  return out;
}
