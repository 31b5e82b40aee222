// Reconciliation over a store: the period's conversions and fires read once, joined with the report (classify.ts),
// then each fire Microsoft did not count gets the hops of its logged attempt, which is what Microsoft's support
// asks for. Also the last report: saved in the store, read back for the dashboard.
import type { Config } from '../config.js';
import type { OperatorQueries } from '../store/store.js';
import { reconcile, type Reconciliation } from './classify.js';
import { ReportError, type ReportRow } from './report.js';
import { DAY, utcDay } from '../clock.js';

/** our conversions are read from this long before the period: a fire retried or replayed later still joins its order */
const LOOKBACK_MS = 7 * 86_400_000;
/** and this long after: a conversion recorded just after the period's end fired for an order Microsoft counted in it */
const LOOKAHEAD_MS = 3_600_000;
/** transcripts read per reconciliation, so a broken day cannot make the page read thousands of fires */
const TRANSCRIPTS = 500;

export interface LoadedReport {
  rows: ReportRow[];
  from: number;
  to: number;
  source: string;
}

export async function reconcileStore(store: OperatorQueries, config: Config, report: LoadedReport): Promise<Reconciliation> {
  const ours = await store.reconcileRows(report.from - LOOKBACK_MS, report.to + LOOKAHEAD_MS);
  const result = reconcile({ report: report.rows, ours, from: report.from, to: report.to, source: report.source, config });
  let read = 0;
  for (const line of result.orders) {
    if (line.class !== 'fired_not_counted' || !line.ours?.fire_id || read++ >= TRANSCRIPTS) continue;
    const fire = await store.getFire(line.ours.fire_id);
    const logged = fire?.attempts.filter((a) => a.outcome === 'fired').pop();
    if (!logged) continue;
    const chain = logged.hops?.map((h) => (h.response ? String(h.response.status) : 'no answer'));
    line.facts.push(
      chain?.length
        ? `the router took it: attempt ${logged.n}, ${chain.length} hop${chain.length === 1 ? '' : 's'} (${chain.join(' → ')})`
        : `the router took it: attempt ${logged.n} answered ${logged.status ?? '?'} (its transcript was removed by retention)`,
    );
  }
  return result;
}

export async function saveReport(store: OperatorQueries, report: LoadedReport, now: number): Promise<void> {
  await store.saveReport({ source: report.source, from: report.from, to: report.to, saved_at: now, rows: JSON.stringify(report.rows) });
}

export async function lastReport(store: OperatorQueries): Promise<(LoadedReport & { saved_at: number }) | undefined> {
  const saved = await store.lastReport();
  if (!saved) return undefined;
  return { rows: JSON.parse(saved.rows) as ReportRow[], from: Number(saved.from), to: Number(saved.to), source: saved.source, saved_at: Number(saved.saved_at) };
}

/** what Microsoft answers: at most 33 days at once, of the last 90 */
export const MAX_RANGE_DAYS = 33;
export const KEPT_DAYS = 90;

/** `--since`/`--until` as typed: a UTC date (midnight) or an ISO time; Z is implied */
export function parseBound(name: string, v: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?(Z)?$/.exec(v.trim());
  const t = m ? Date.parse(`${m[1]}T${m[2] ?? '00:00'}${m[2]?.length === 5 ? ':00' : ''}Z`) : NaN;
  if (Number.isNaN(t)) throw new ReportError(`${name}: ${v} is not a UTC date or time, such as 2026-11-01 or 2026-11-01T06:00`);
  return t;
}

/** the range rules of the Report Service, checked before asking it */
export function checkFetchRange(from: number, to: number, now: number): string | undefined {
  if (to <= from) return '--until must be after --since';
  if (to - from > MAX_RANGE_DAYS * DAY) return `the Report Service answers at most ${MAX_RANGE_DAYS} days at once; ask for a shorter range`;
  if (from < now - KEPT_DAYS * DAY) return `the Report Service keeps ${KEPT_DAYS} days: --since must be after ${utcDay(now - KEPT_DAYS * DAY)}`;
  if (from >= now) return '--since is in the future';
  return undefined;
}
