// Retention's SQL, written once for both stores (@name parameters; the differences behind dialect.ts): what a purge
// may remove, how many rows that is, and how one batch removes them. Rolling the removed rows up into daily_counts is
// each store's own statement (one row at a time in SQLite, one unnest in PostgreSQL).
import type { SqlDialect } from './dialect.js';
import type { PurgeCutoffs } from './store.js';
import { TOUCH_TABLE, TOUCH_TEXT_COLUMNS, textRef } from './touch-texts.js';
import { touchIdSql } from './touch-hashes.js';

/** the cutoffs as named parameters; `touches` is the later of the two touch cutoffs, for the index range */
export const purgeArgs = (c: PurgeCutoffs) => ({
  records: c.records_before, clicks: c.clicks_before, views: c.views_before, transcripts: c.transcripts_before,
  touches: Math.max(c.clicks_before, c.views_before),
});

// What retention may remove. Never a queued or in-flight fire, nor the conversion of one, nor a touch a kept conversion names.
export const FIRE_GONE = `f.created_at < @records AND f.state NOT IN ('queued', 'in_flight')`;
export const CONVERSION_GONE = `c.created_at < @records AND NOT EXISTS (SELECT 1 FROM fires f WHERE f.conversion_id = c.id AND NOT (${FIRE_GONE}))`;
export const TOUCH_GONE = `t.occurred_at < @touches AND ((t.kind = 'click' AND t.occurred_at < @clicks) OR (t.kind = 'view' AND t.occurred_at < @views))
                    AND NOT EXISTS (SELECT 1 FROM conversions c WHERE c.touch_id = ${touchIdSql('t.cid')} AND NOT (${CONVERSION_GONE}))`;
export const TRANSCRIPT_GONE = `a.hops IS NOT NULL AND a.started_at < @transcripts AND NOT EXISTS (SELECT 1 FROM fires f WHERE f.id = a.fire_id AND ${FIRE_GONE})`;

export const retentionSql = (d: SqlDialect) => ({
  counts: `SELECT
    (SELECT COUNT(*) FROM fires f WHERE ${FIRE_GONE}) AS fires,
    (SELECT COUNT(*) FROM attempts a WHERE a.fire_id IN (SELECT f.id FROM fires f WHERE ${FIRE_GONE})) AS attempts,
    (SELECT COUNT(*) FROM conversions c WHERE ${CONVERSION_GONE}) AS conversions,
    (SELECT COUNT(*) FROM ${TOUCH_TABLE} t WHERE ${TOUCH_GONE}) AS touches,
    (SELECT COUNT(*) FROM attempts a WHERE ${TRANSCRIPT_GONE}) AS transcripts`,
  deleteFires: `DELETE FROM fires WHERE id IN (SELECT f.id FROM fires f WHERE ${FIRE_GONE} ORDER BY f.created_at LIMIT @limit${d.skipLocked})
                RETURNING id, created_at, state`,
  /** the deleted fires' attempts */
  deleteAttemptsOf: `DELETE FROM attempts WHERE ${d.fireSet('fire_id')} RETURNING started_at, outcome, error_class`,
  deleteConversions: `DELETE FROM conversions WHERE id IN (SELECT c.id FROM conversions c WHERE ${CONVERSION_GONE}
                      ORDER BY c.created_at LIMIT @limit${d.skipLocked}) RETURNING created_at, outcome`,
  deleteTouches: `DELETE FROM ${TOUCH_TABLE} WHERE ${d.inRows(`SELECT t.${d.rowid} FROM ${TOUCH_TABLE} t WHERE ${TOUCH_GONE}
                  ORDER BY t.occurred_at LIMIT @limit${d.skipLocked}`)} RETURNING occurred_at, kind`,
  clearTranscripts: `UPDATE attempts SET hops = NULL WHERE id IN (SELECT a.id FROM attempts a WHERE ${TRANSCRIPT_GONE}
                     ORDER BY a.started_at LIMIT @limit${d.skipLocked})`,
  /** install hint matching: touches that occurred before @before forget their hint keys */
  clearHints: `UPDATE ${TOUCH_TABLE} SET hint_key = NULL WHERE hint_key IS NOT NULL AND occurred_at < @before`,
  /**
   * once the touch purge is done: the texts no touch names any more (touch-texts.ts). One last used before the touch
   * cutoff can only be named by a touch that occurred before it, one the purge kept; those are read by occurred_at
   */
  sweepTexts: `DELETE FROM touch_texts WHERE last_used < @touches AND id NOT IN (
    ${TOUCH_TEXT_COLUMNS.map((c) => `SELECT ${textRef(c)} FROM ${TOUCH_TABLE} WHERE occurred_at < @touches AND ${textRef(c)} IS NOT NULL`).join('\n    UNION ')})`,
});
