// The operators' SQL both stores run, written once behind a small dialect seam (as pg-boss's plans are): the fires
// list, the queue's numbers, what retention may remove and how it removes it, and the charts' counts. Named
// @parameters throughout; SQLite binds them by name, PostgreSQL's store numbers them (`named` in postgres.ts).
import type { FireFilter, PurgeCutoffs } from './store.js';

/** where the two stores' SQL differs for these statements */
export interface OperatorDialect {
  /** a row's bucket index: integer division of a time column by @bucket, from @from */
  bucket: (column: string) => string;
  /** appended to the purge batches' row selection: PostgreSQL leaves rows another transaction holds for the next run */
  skipLocked: string;
}

/** the cutoffs as named parameters; `touches` is the later of the two touch cutoffs, for the index range */
export const purgeArgs = (c: PurgeCutoffs) => ({
  records: c.records_before, clicks: c.clicks_before, views: c.views_before, transcripts: c.transcripts_before,
  touches: Math.max(c.clicks_before, c.views_before),
});

// What retention may remove. Never a queued or in-flight fire, nor the conversion of one, nor a touch a kept conversion names.
export const FIRE_GONE = `f.created_at < @records AND f.state NOT IN ('queued', 'in_flight')`;
export const CONVERSION_GONE = `c.created_at < @records AND NOT EXISTS (SELECT 1 FROM fires f WHERE f.conversion_id = c.id AND NOT (${FIRE_GONE}))`;
export const TOUCH_GONE = `t.occurred_at < @touches AND ((t.kind = 'click' AND t.occurred_at < @clicks) OR (t.kind = 'view' AND t.occurred_at < @views))
                    AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.touch_id = t.id AND NOT (${CONVERSION_GONE}))`;
export const TRANSCRIPT_GONE = `a.hops IS NOT NULL AND a.started_at < @transcripts AND NOT EXISTS (SELECT 1 FROM fires f WHERE f.id = a.fire_id AND ${FIRE_GONE})`;

/** counts per metric, key and bucket over [@from, @to), live rows and the rolled-up daily counts together;
 * `bucket` is the store's own integer division of a time column by @bucket */
export const statsSql = (bucket: (column: string) => string) => `
  SELECT 'touches' AS metric, kind AS key, ${bucket('occurred_at')} AS b, COUNT(*) AS count
    FROM touches WHERE occurred_at >= @from AND occurred_at < @to GROUP BY b, kind
  UNION ALL
  SELECT 'conversions', outcome, ${bucket('created_at')} AS b, COUNT(*)
    FROM conversions WHERE created_at >= @from AND created_at < @to GROUP BY b, outcome
  UNION ALL
  SELECT 'fires', state, ${bucket('created_at')} AS b, COUNT(*)
    FROM fires WHERE created_at >= @from AND created_at < @to GROUP BY b, state
  UNION ALL
  SELECT 'attempts', outcome, ${bucket('started_at')} AS b, COUNT(*)
    FROM attempts WHERE started_at >= @from AND started_at < @to GROUP BY b, outcome
  UNION ALL
  SELECT 'attempt_errors', error_class, ${bucket('started_at')} AS b, COUNT(*)
    FROM attempts WHERE started_at >= @from AND started_at < @to AND outcome <> 'fired' AND error_class IS NOT NULL GROUP BY b, error_class
  UNION ALL
  SELECT metric, key, ${bucket('day')} AS b, count FROM daily_counts WHERE day >= @from AND day < @to`;

/** the touches an install's conversions may be credited to (see InstallDetail), newest first */
const INSTALL_TOUCHES = `
  WITH i AS (SELECT i.touch_id, i.device_id, b.device_id AS bound_device, b.visitor_id AS bound_visitor
             FROM installs i LEFT JOIN touches b ON b.id = i.touch_id WHERE i.install_id = @install_id)
  SELECT * FROM touches WHERE install_id = @install_id
    OR id IN (SELECT touch_id FROM i) OR id IN (SELECT touch_id FROM conversions WHERE install_id = @install_id)
    OR device_id IN (SELECT device_id FROM i UNION SELECT bound_device FROM i)
    OR visitor_id IN (SELECT bound_visitor FROM i)
  ORDER BY occurred_at DESC, created_at DESC LIMIT @limit`;

/** the statements both stores prepare as they are */
export const operatorSql = (d: OperatorDialect) => ({
  installById: 'SELECT * FROM installs WHERE install_id = @install_id',
  installTouches: INSTALL_TOUCHES,
  installConversions: 'SELECT * FROM conversions WHERE install_id = @install_id ORDER BY occurred_at DESC, created_at DESC LIMIT @limit',
  stats: statsSql(d.bucket),
  queue: `SELECT
    (SELECT COUNT(*) FROM fires WHERE state = 'queued') AS queued,
    (SELECT COUNT(*) FROM fires WHERE state = 'queued' AND next_attempt_at <= @now) AS due,
    (SELECT COUNT(*) FROM fires WHERE state = 'in_flight') AS in_flight,
    (SELECT MIN(next_attempt_at) FROM fires WHERE state = 'queued' AND next_attempt_at <= @now) AS oldest_due_at`,
  counts: `SELECT
    (SELECT COUNT(*) FROM fires f WHERE ${FIRE_GONE}) AS fires,
    (SELECT COUNT(*) FROM attempts a WHERE a.fire_id IN (SELECT f.id FROM fires f WHERE ${FIRE_GONE})) AS attempts,
    (SELECT COUNT(*) FROM conversions c WHERE ${CONVERSION_GONE}) AS conversions,
    (SELECT COUNT(*) FROM touches t WHERE ${TOUCH_GONE}) AS touches,
    (SELECT COUNT(*) FROM attempts a WHERE ${TRANSCRIPT_GONE}) AS transcripts`,
  deleteFires: `DELETE FROM fires WHERE id IN (SELECT f.id FROM fires f WHERE ${FIRE_GONE} ORDER BY f.created_at LIMIT @limit${d.skipLocked})
                RETURNING id, created_at, state`,
  deleteConversions: `DELETE FROM conversions WHERE id IN (SELECT c.id FROM conversions c WHERE ${CONVERSION_GONE}
                      ORDER BY c.created_at LIMIT @limit${d.skipLocked}) RETURNING created_at, outcome`,
  deleteTouches: `DELETE FROM touches WHERE id IN (SELECT t.id FROM touches t WHERE ${TOUCH_GONE}
                  ORDER BY t.occurred_at LIMIT @limit${d.skipLocked}) RETURNING occurred_at, kind`,
  clearTranscripts: `UPDATE attempts SET hops = NULL WHERE id IN (SELECT a.id FROM attempts a WHERE ${TRANSCRIPT_GONE}
                     ORDER BY a.started_at LIMIT @limit${d.skipLocked})`,
});

/** the fires list for a filter, newest first; `cursor` is the `before` fire, looked up by the store */
export function listFiresSql(filter: FireFilter, cursor?: { created_at: number; id: string }): { sql: string; args: Record<string, unknown> } {
  const where: string[] = [];
  const args: Record<string, unknown> = {};
  const match = (column: string, sql: string, value: unknown) => (where.push(sql), (args[column] = value));
  if (filter.state) match('state', 'state = @state', filter.state);
  if (filter.pixel_id != null) match('pixel_id', 'pixel_id = @pixel_id', filter.pixel_id);
  if (filter.order_id != null) match('order_id', 'order_id = @order_id', filter.order_id);
  if (filter.last_outcome) match('last_outcome', 'last_outcome = @last_outcome', filter.last_outcome);
  if (filter.from != null) match('from', 'created_at >= @from', filter.from);
  if (filter.to != null) match('to', 'created_at < @to', filter.to);
  if (cursor) {
    where.push('(created_at < @bc OR (created_at = @bc AND id < @bid))');
    Object.assign(args, { bc: cursor.created_at, bid: cursor.id });
  }
  args.limit = Math.min(filter.limit ?? 100, 1000);
  return { sql: `SELECT * FROM fires ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT @limit`, args };
}
