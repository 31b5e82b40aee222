// What reconciliation with Microsoft's report reads from a store, and the one SQL both stores run for it
// (@name parameters; PostgreSQL's store numbers them). The last report an operator reconciled is kept in the store
// too, so every collector process sharing a PostgreSQL store shows the same one on its dashboard.
import type { ConversionOutcome, ConversionSource, DuplicateRule, FireState, TouchKind } from './store.js';

/** One recorded conversion with its fire (if any) and the touch it was attributed to (if still stored). */
export interface ReconcileRow {
  conversion_id: string;
  pixel_id: number;
  order_id: string | null;
  /** the conversion's value as received */
  value: string | null;
  outcome: ConversionOutcome;
  duplicate_of: string | null;
  /** a duplicate's deciding rule (null before migration 8) */
  rule: DuplicateRule | null;
  source: ConversionSource;
  occurred_at: number;
  created_at: number;
  fire_id: string | null;
  fire_state: FireState | null;
  /** the value the fire sent (or would send) */
  fire_value: string | null;
  fired_at: number | null;
  last_error: string | null;
  touch_kind: TouchKind | null;
  touched_at: number | null;
  /** fired conversions of the same pixel and user that occurred before this one */
  earlier_fires: number;
}

/** The last report reconciled (uploaded, read from a file, or fetched), as parsed rows. */
export interface SavedReport {
  /** where it came from: a file name, "upload: NAME", "report service" */
  source: string;
  /** the period it covers, ms [from, to) */
  from: number;
  to: number;
  saved_at: number;
  /** the parsed report rows, as JSON text (collector/reconcile/report.ts reads it) */
  rows: string;
}

/** conversions created in [@from, @to), each with its fire, its touch, and how many fired before it for this user;
 * test conversions are left out: their fires never reach Microsoft, so its report never counts them. `touchOf` is the
 * condition that finds the touch `t` by the conversion's touch id (touch-hashes.ts's touchByIdSql, in the store's SQL) */
export const reconcileRowsSql = (touchOf: string) => `
  SELECT c.id AS conversion_id, c.pixel_id, c.order_id, c.value, c.outcome, c.duplicate_of, c.rule, c.source, c.occurred_at, c.created_at,
         f.id AS fire_id, f.state AS fire_state, f.value AS fire_value, f.fired_at, f.last_error,
         t.kind AS touch_kind, t.occurred_at AS touched_at,
         (SELECT COUNT(*) FROM conversions e JOIN fires ef ON ef.conversion_id = e.id
           WHERE c.user_key IS NOT NULL AND e.pixel_id = c.pixel_id AND e.user_key = c.user_key AND e.outcome = 'attributed'
             AND e.occurred_at < c.occurred_at AND ef.state = 'fired') AS earlier_fires
    FROM conversions c
    LEFT JOIN fires f ON f.conversion_id = c.id
    LEFT JOIN touches t ON ${touchOf}
   WHERE c.created_at >= @from AND c.created_at < @to AND NOT c.test
   ORDER BY c.created_at, c.id`;

/** one row is kept: saving replaces the last report */
export const SAVE_REPORT_SQL = [
  'DELETE FROM reconcile_reports',
  'INSERT INTO reconcile_reports (source, period_from, period_to, saved_at, body) VALUES (@source, @from, @to, @saved_at, @rows)',
];
export const LAST_REPORT_SQL = 'SELECT source, period_from AS "from", period_to AS "to", saved_at, body AS "rows" FROM reconcile_reports ORDER BY saved_at DESC LIMIT 1';

/** the migration both stores apply (BIGINT is SQLite's INTEGER affinity too) */
export const RECONCILE_MIGRATION_SQL = `
CREATE TABLE reconcile_reports (
  source TEXT NOT NULL,
  period_from BIGINT NOT NULL,
  period_to BIGINT NOT NULL,
  saved_at BIGINT NOT NULL,
  body TEXT NOT NULL
);`;
