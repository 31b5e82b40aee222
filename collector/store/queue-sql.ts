// The outbox's SQL, written once for both stores (@name parameters; the differences behind dialect.ts): a queue
// change is one edit here. How each store runs these (SQLite per fire in its one writer, PostgreSQL for the set of
// rows it locked, in one transaction) stays in sqlite.ts and postgres.ts.
import type { SqlDialect } from './dialect.js';

export const queueSql = (d: SqlDialect) => ({
  /** in-flight fires whose lease ran out at @now, oldest first; rows another claimer holds are left to it */
  expiredLeases: `SELECT * FROM fires WHERE state = 'in_flight' AND lease_expires_at <= @now
                  ORDER BY lease_expires_at, id${d.skipLocked}`,
  /** each expired fire's `lease_expired` attempt, started when the lease ran out, numbered after the fire's last */
  leaseExpiredAttempts: `INSERT INTO attempts (fire_id, n, owner, started_at, duration_ms, outcome, error_class, status, url, hops, next_attempt_at)
                         SELECT f.id, COALESCE((SELECT MAX(a.n) FROM attempts a WHERE a.fire_id = f.id), 0) + 1, f.lease_owner,
                                f.lease_expires_at, NULL, 'lease_expired', 'lease_expired', NULL, NULL, NULL, @now
                         FROM fires f WHERE ${d.fireSet('f.id')} ORDER BY f.lease_expires_at, f.id`,
  /** the expired fires are due again at @now, their expiry counted as an attempt */
  requeueExpired: `UPDATE fires SET state = 'queued', attempt_count = attempt_count + 1, next_attempt_at = @now,
                   lease_owner = NULL, lease_expires_at = NULL, last_outcome = 'lease_expired',
                   last_error = 'lease expired before the attempt was recorded', updated_at = @now WHERE ${d.fireSet('id')}`,
  /** up to @limit due fires, oldest due first, leased to @owner until @expires */
  claim: `UPDATE fires SET state = 'in_flight', lease_owner = @owner, lease_expires_at = @expires, updated_at = @now
          WHERE id IN (SELECT id FROM fires WHERE state = 'queued' AND next_attempt_at <= @now
                       ORDER BY next_attempt_at LIMIT @limit${d.skipLocked})
          RETURNING *`,
  /** one attempt, numbered after the fire's last */
  insertAttempt: `INSERT INTO attempts (fire_id, n, owner, started_at, duration_ms, outcome, error_class, status, url, hops, next_attempt_at)
                  VALUES (@fire_id, (SELECT COALESCE(MAX(n), 0) + 1 FROM attempts WHERE fire_id = @fire_id), @owner, @started_at,
                          @duration_ms, @outcome, @error_class, @status, @url, @hops, @next_attempt_at)`,
  /** the attempt moves the fire to its next state, if @owner still holds the lease */
  finishAttempt: `UPDATE fires SET state = @state, attempt_count = attempt_count + 1, next_attempt_at = @next_attempt_at,
                  lease_owner = NULL, lease_expires_at = NULL, last_outcome = @outcome, last_error = @last_error,
                  updated_at = @now, fired_at = CASE WHEN @state = 'fired' THEN @now ELSE fired_at END, dry_run = @dry_run
                  WHERE id = @id AND state = 'in_flight' AND lease_owner = @owner`,
  /** graceful stop: @owner's in-flight fires are due at @now, no attempt recorded */
  release: `UPDATE fires SET state = 'queued', next_attempt_at = @now, lease_owner = NULL, lease_expires_at = NULL,
            updated_at = @now WHERE state = 'in_flight' AND lease_owner = @owner`,
  nextDue: `SELECT MIN(next_attempt_at) AS at FROM fires WHERE state = 'queued'`,
  /** operator replay: a failed or held fire is due at @now; a test conversion's fire never is (it is never sent) */
  replay: `UPDATE fires SET state = 'queued', next_attempt_at = @now, updated_at = @now, last_error = NULL
           WHERE id = @id AND state IN ('failed', 'held') AND NOT test RETURNING *`,
});
