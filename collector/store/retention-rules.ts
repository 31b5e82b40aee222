// The operators' SQL both stores run: what retention may remove, and the charts' counts (named @parameters;
// PostgreSQL's store numbers them).
import type { PurgeCutoffs } from './store.js';

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
