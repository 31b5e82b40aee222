// Versioned migrations of the PostgreSQL store (the tables are written once, in schema.ts), applied in order under an
// advisory lock: times are BIGINT milliseconds since the epoch, JSON is JSONB, and the text columns that are sorted on
// use the "C" collation so order is byte order, as in SQLite.
import { migrations } from './schema.js';
import { TOUCH_TABLE } from './touch-texts.js';

/** touch-hashes.ts's lookupHash in SQL: the first 48 bits of the MD5, halved */
export const postgresHash = (column: string) => `(('x' || substr(md5(${column}), 1, 12))::bit(48)::bigint >> 1)`;

/** what a conversion batch's write reports when what its decisions relied on changed since its read (SQLSTATE) */
export const BATCH_CONFLICT = '40001';

/**
 * The write of a conversion batch decided from memory (batch-tx.ts), in one call, so one round trip and one
 * transaction: the rows arrive as JSON arrays of whole rows, inserted as they are. The users whose repeat window the
 * batch looked at are locked first (the advisory lock of postgres.ts's lockUser, in a sorted order), then each window
 * the batch found free is looked at again, now that no other decider of that user can commit meanwhile (a statement
 * of its own: it sees what committed while it waited) — the predicate of ingest-sql.ts's lastAttributed. A window
 * taken meanwhile fails the call with BATCH_CONFLICT, and an order taken meanwhile fails it on the dedup key's unique
 * index: nothing is written, and the store reads and decides the batch again (postgres.ts's decideBatch). The supersede is ingest-sql.ts's
 * supersedeUnattributed for every attributed order of the batch.
 */
const CONVERSION_BATCH_WRITER = `
CREATE OR REPLACE FUNCTION sspx_write_conversions(lock_space INTEGER, locks TEXT[], checks JSONB, new_touches JSONB,
  new_conversions JSONB, supersedes JSONB, new_fires JSONB, channel TEXT, payload TEXT) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  k TEXT;
BEGIN
  FOREACH k IN ARRAY locks LOOP
    PERFORM pg_advisory_xact_lock(lock_space, hashtext(k));
  END LOOP;
  IF EXISTS (SELECT 1 FROM jsonb_to_recordset(checks) AS w(pixel_id BIGINT, user_key TEXT, since BIGINT)
             JOIN conversions c ON c.pixel_id = w.pixel_id AND c.user_key = w.user_key AND c.outcome = 'attributed'
             AND c.occurred_at >= w.since) THEN
    RAISE EXCEPTION 'a conversion of a user in this batch was attributed since the batch was read' USING ERRCODE = '${BATCH_CONFLICT}';
  END IF;
  INSERT INTO ${TOUCH_TABLE} SELECT * FROM jsonb_populate_recordset(NULL::${TOUCH_TABLE}, new_touches);
  INSERT INTO conversions SELECT * FROM jsonb_populate_recordset(NULL::conversions, new_conversions);
  UPDATE conversions SET superseded_by = s.by FROM jsonb_to_recordset(supersedes) AS s(pixel_id BIGINT, order_id TEXT, by TEXT)
    WHERE conversions.pixel_id = s.pixel_id AND conversions.order_id = s.order_id
    AND conversions.outcome = 'unattributed' AND conversions.superseded_by IS NULL;
  INSERT INTO fires SELECT * FROM jsonb_populate_recordset(NULL::fires, new_fires);
  IF payload IS NOT NULL THEN
    PERFORM pg_notify(channel, payload);
  END IF;
END $$;
`;

export const POSTGRES_MIGRATIONS = migrations({
  int: 'BIGINT', real: 'DOUBLE PRECISION', json: 'JSONB', serial: 'BIGSERIAL PRIMARY KEY', sorted: ' COLLATE "C"', bool: 'BOOLEAN', false: 'false', hash: postgresHash,
  jsonText: (c) => `${c}::text`, asJson: (t) => `${t}::jsonb`,
  conversionBatchWriter: CONVERSION_BATCH_WRITER,
});

export const LATEST_POSTGRES_MIGRATION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
