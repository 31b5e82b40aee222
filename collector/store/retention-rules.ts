// What retention may remove, as SQL both stores run (named @parameters; PostgreSQL's store numbers them).
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
