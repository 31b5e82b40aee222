// The operators' numbers over a period, from the store: what the dashboard charts and `sspx-relay stats` prints.
// Periods end with the bucket holding `now`; buckets are whole UTC minutes, hours or days.
import { DAY, HOUR, MINUTE, utcDay } from '../clock.js';
import type { OperatorQueries, QueueStats } from '../store/store.js';
import { CONVERSION_OUTCOMES, FIRE_STATES, TOUCH_KINDS, type ConversionOutcome, type FireState, type TouchKind } from '../vocabulary.js';

export type Period = 'hour' | 'day' | '30d';


export const PERIODS: Record<Period, { label: string; bucket_ms: number; buckets: number }> = {
  hour: { label: 'last hour', bucket_ms: 5 * MINUTE, buckets: 12 },
  day: { label: 'last 24 hours', bucket_ms: HOUR, buckets: 24 },
  '30d': { label: 'last 30 days', bucket_ms: DAY, buckets: 30 },
};

export const isPeriod = (v: unknown): v is Period => typeof v === 'string' && Object.hasOwn(PERIODS, v);

/** the unreplaced-macro chart always spans days, long enough for a misconfigured line item to stand out */
const MACRO_DAYS: Record<Period, number> = { hour: 14, day: 14, '30d': 30 };


export interface Overview {
  period: Period;
  now: number;
  from: number;
  to: number;
  bucket_ms: number;
  /** each bucket's start */
  buckets: number[];
  touches: Record<TouchKind, number[]>;
  conversions: Record<ConversionOutcome, number[]>;
  fires: Record<FireState, number[]>;
  /** attributed / (attributed + unattributed) per bucket; duplicates count for neither; null without conversions */
  attribution: (number | null)[];
  totals: {
    touches: number;
    clicks: number;
    views: number;
    conversions: number;
    outcomes: Record<ConversionOutcome, number>;
    fires: Record<FireState, number>;
    attribution_rate: number | null;
    attempts: number;
    failed_attempts: number;
    macros: number;
  };
  /** attempts that did not fire, by error class, most frequent first */
  errors: { error_class: string; count: number }[];
  /** unreplaced macros per site over the last MACRO_DAYS days, by UTC day */
  macros: { days: string[]; sites: { site: string; counts: number[]; total: number }[] };
  queue: QueueStats & { oldest_due_age_ms: number | null };
}

export function periodRange(period: Period, now: number): { from: number; to: number; bucket_ms: number } {
  const { bucket_ms, buckets } = PERIODS[period];
  const to = Math.floor(now / bucket_ms) * bucket_ms + bucket_ms;
  return { from: to - buckets * bucket_ms, to, bucket_ms };
}

const rate = (attributed: number, unattributed: number) => (attributed + unattributed ? attributed / (attributed + unattributed) : null);

export async function loadOverview(store: OperatorQueries, period: Period, now: number): Promise<Overview> {
  const { from, to, bucket_ms } = periodRange(period, now);
  const macroTo = Math.floor(now / DAY) * DAY + DAY;
  const days = Array.from({ length: MACRO_DAYS[period] }, (_, i) => utcDay(macroTo - (MACRO_DAYS[period] - i) * DAY));
  const [stats, queue, diagnostics] = await Promise.all([
    store.stats(from, to, bucket_ms),
    store.queueStats(now),
    store.diagnostics(days[0], days[days.length - 1]),
  ]);
  const buckets = Array.from({ length: PERIODS[period].buckets }, (_, i) => from + i * bucket_ms);
  const series = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, buckets.map(() => 0)])) as Record<K, number[]>;
  const touches = series(TOUCH_KINDS);
  const conversions = series(CONVERSION_OUTCOMES);
  const fires = series(FIRE_STATES);
  const errors = new Map<string, number>();
  let attempts = 0;
  let failed = 0;
  for (const c of stats.counts) {
    const i = Math.round((c.at - from) / bucket_ms);
    if (i < 0 || i >= buckets.length) continue;
    if (c.metric === 'touches' && (c.key === 'click' || c.key === 'view')) touches[c.key][i] += c.count;
    else if (c.metric === 'conversions' && c.key in conversions) conversions[c.key as ConversionOutcome][i] += c.count;
    else if (c.metric === 'fires' && c.key in fires) fires[c.key as FireState][i] += c.count;
    else if (c.metric === 'attempts') (attempts += c.count), c.key !== 'fired' && (failed += c.count);
    else if (c.metric === 'attempt_errors') errors.set(c.key, (errors.get(c.key) ?? 0) + c.count);
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const outcomes = Object.fromEntries(CONVERSION_OUTCOMES.map((o) => [o, sum(conversions[o])])) as Record<ConversionOutcome, number>;
  const bySite = new Map<string, number[]>();
  for (const d of diagnostics) {
    if (d.kind !== 'unreplaced_macro') continue;
    const i = days.indexOf(d.day);
    if (i < 0) continue;
    const counts = bySite.get(d.site) ?? days.map(() => 0);
    counts[i] += Number(d.count);
    bySite.set(d.site, counts);
  }
  const sites = [...bySite].map(([site, counts]) => ({ site, counts, total: sum(counts) })).sort((a, b) => b.total - a.total || (a.site < b.site ? -1 : 1));
  return {
    period,
    now,
    from,
    to,
    bucket_ms,
    buckets,
    touches,
    conversions,
    fires,
    attribution: buckets.map((_, i) => rate(conversions.attributed[i], conversions.unattributed[i])),
    totals: {
      touches: sum(touches.click) + sum(touches.view),
      clicks: sum(touches.click),
      views: sum(touches.view),
      conversions: sum(Object.values(outcomes)),
      outcomes,
      fires: Object.fromEntries(FIRE_STATES.map((s) => [s, sum(fires[s])])) as Record<FireState, number>,
      attribution_rate: rate(outcomes.attributed, outcomes.unattributed),
      attempts,
      failed_attempts: failed,
      macros: sum(sites.map((s) => s.total)),
    },
    errors: [...errors].map(([error_class, count]) => ({ error_class, count })).sort((a, b) => b.count - a.count || (a.error_class < b.error_class ? -1 : 1)),
    macros: { days, sites },
    queue: { ...queue, oldest_due_age_ms: queue.oldest_due_at == null ? null : Math.max(0, now - queue.oldest_due_at) },
  };
}

/** 0.8612 → "86.1%", null → "–" */
export const percent = (r: number | null): string => (r == null ? '–' : `${(r * 100).toFixed(1)}%`);

/** 93_000 → "1 min 33 s" */
export function duration(ms: number | null): string {
  if (ms == null) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
