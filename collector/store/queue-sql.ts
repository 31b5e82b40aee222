// The outbox's SQL, written once for both stores (@name parameters; the differences behind dialect.ts): a queue
// change is one edit here. How each store runs these (SQLite per fire in its one writer, PostgreSQL for the set of
// rows it locked, in one transaction) stays in sqlite.ts and postgres.ts.
//
// Crash safety: an attempt commits `sending_at` (markSending) before its request is written to the socket. A fire
// whose lease is taken back (expiredLeases, by @expired_by) is settled on that mark: without it the request surely
// never left, so the fire is due again at once (a `lease_expired` attempt); with it the router may have logged it, so
// the attempt is `ambiguous` and @on_ambiguous decides: 'retry' (due again at once) or 'hold' (state held).
import type { SqlDialect } from './dialect.js';

/** why a fire is held, in its last_error (the dispatcher's timeouts after sending say it too) */
export const HELD_NOTE = "held: on_ambiguous is hold; replay it once the router's logs are checked";

/** a taken-back fire surely unsent (no mark), or retried by on_ambiguous, is due again at once */
const again = (f = '') => `${f}sending_at IS NULL OR CAST(@on_ambiguous AS TEXT) = 'retry'`;
const SENT = 'lease expired before the attempt was recorded, after its request had left: the router may have logged it';

export const queueSql = (d: SqlDialect) => ({
  /** in-flight fires whose lease ran out by @expired_by, oldest first; rows another claimer holds are left to it */
  expiredLeases: `SELECT * FROM fires WHERE state = 'in_flight' AND lease_expires_at <= @expired_by
                  ORDER BY lease_expires_at, id${d.skipLocked}`,
  /**
   * each taken-back fire's attempt, numbered after the fire's last: `lease_expired` when it was never sent (started
   * when the lease ran out, or @now if that is later), `ambiguous` when it may have been (started at its mark)
   */
  leaseExpiredAttempts: `INSERT INTO attempts (fire_id, n, owner, started_at, duration_ms, outcome, error_class, status, url, hops, next_attempt_at)
                         SELECT f.id, COALESCE((SELECT MAX(a.n) FROM attempts a WHERE a.fire_id = f.id), 0) + 1, f.lease_owner,
                                COALESCE(f.sending_at, CASE WHEN f.lease_expires_at < @now THEN f.lease_expires_at ELSE @now END), NULL,
                                CASE WHEN f.sending_at IS NULL THEN 'lease_expired' ELSE 'ambiguous' END,
                                CASE WHEN f.sending_at IS NULL THEN 'lease_expired' ELSE 'lease_expired_after_send' END, NULL, NULL, NULL,
                                CASE WHEN ${again('f.')} THEN @now END
                         FROM fires f WHERE ${d.fireSet('f.id')} ORDER BY f.lease_expires_at, f.id`,
  /** the taken-back fires are due again at @now or held, their lost attempt counted */
  requeueExpired: `UPDATE fires SET state = CASE WHEN ${again()} THEN 'queued' ELSE 'held' END, attempt_count = attempt_count + 1,
                   next_attempt_at = CASE WHEN ${again()} THEN CAST(@now AS BIGINT) END, lease_owner = NULL, lease_expires_at = NULL, sending_at = NULL,
                   last_outcome = CASE WHEN sending_at IS NULL THEN 'lease_expired' ELSE 'ambiguous' END,
                   last_error = CASE WHEN sending_at IS NULL THEN 'lease expired before the attempt was recorded; its request had not left'
                     WHEN CAST(@on_ambiguous AS TEXT) = 'retry' THEN '${SENT}' ELSE '${SENT} (${HELD_NOTE.replaceAll("'", "''")})' END,
                   updated_at = @now WHERE ${d.fireSet('id')}`,
  /** up to @limit due fires, oldest due first, leased to @owner until @expires */
  claim: `UPDATE fires SET state = 'in_flight', lease_owner = @owner, lease_expires_at = @expires, sending_at = NULL, updated_at = @now
          WHERE id IN (SELECT id FROM fires WHERE state = 'queued' AND next_attempt_at <= @now
                       ORDER BY next_attempt_at LIMIT @limit${d.skipLocked})
          RETURNING *`,
  /** the attempt's request is about to leave: committed before it does, only while @owner holds the lease */
  markSending: `UPDATE fires SET sending_at = @now WHERE id = @id AND state = 'in_flight' AND lease_owner = @owner`,
  /** one attempt, numbered after the fire's last */
  insertAttempt: `INSERT INTO attempts (fire_id, n, owner, started_at, duration_ms, outcome, error_class, status, url, hops, next_attempt_at)
                  VALUES (@fire_id, (SELECT COALESCE(MAX(n), 0) + 1 FROM attempts WHERE fire_id = @fire_id), @owner, @started_at,
                          @duration_ms, @outcome, @error_class, @status, @url, @hops, @next_attempt_at)`,
  /** the attempt moves the fire to its next state, if @owner still holds the lease */
  finishAttempt: `UPDATE fires SET state = @state, attempt_count = attempt_count + 1, next_attempt_at = @next_attempt_at,
                  lease_owner = NULL, lease_expires_at = NULL, sending_at = NULL, last_outcome = @outcome, last_error = @last_error,
                  updated_at = @now, fired_at = CASE WHEN @state = 'fired' THEN @now ELSE fired_at END, dry_run = @dry_run
                  WHERE id = @id AND state = 'in_flight' AND lease_owner = @owner`,
  /** graceful stop: @owner's in-flight fires (none of them sent) are due at @now, no attempt recorded */
  release: `UPDATE fires SET state = 'queued', next_attempt_at = @now, lease_owner = NULL, lease_expires_at = NULL, sending_at = NULL,
            updated_at = @now WHERE state = 'in_flight' AND lease_owner = @owner`,
  nextDue: `SELECT MIN(next_attempt_at) AS at FROM fires WHERE state = 'queued'`,
  /** operator replay: a failed or held fire is due at @now; a test conversion's fire never is (it is never sent) */
  replay: `UPDATE fires SET state = 'queued', next_attempt_at = @now, updated_at = @now, last_error = NULL
           WHERE id = @id AND state IN ('failed', 'held') AND NOT test RETURNING *`,
});
