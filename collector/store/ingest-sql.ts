// The SQL of the attribution transaction (Tx) and of ingest's writes, written once for both stores (@name parameters,
// see dialect.ts). What only one store runs stays in its file: PostgreSQL's batch inserts (unnest) and advisory lock,
// SQLite's one-row diagnostics upsert.
import { CONVERSION_COLUMNS, FIRE_COLUMNS, INSTALL_COLUMNS, TOUCH_STORED_COLUMNS, touchSelect } from './schema.js';
import { insertSql } from './dialect.js';
import { touchMatch } from './touch-hashes.js';
import { TOUCH_TABLE } from './touch-texts.js';

/**
 * The newest touch of @kind in [@from, @to] under one key (`column` = @`param`, through its hash where it has one:
 * bind touch-hashes.ts's matchArgs), then the latest recorded; `extra` lets PostgreSQL tag each key's row for its
 * one UNION of all keys.
 */
export const latestTouchSql = (column: string, param: string, extra = '') =>
  `SELECT ${touchSelect()}${extra} FROM touches WHERE ${touchMatch(column, param)} AND kind = @kind AND occurred_at BETWEEN @from AND @to
   ORDER BY occurred_at DESC, created_at DESC LIMIT 1`;

export const INGEST_SQL = {
  /** bind matchArgs('cid', 'cid', cid) */
  touchByCid: `SELECT ${touchSelect()} FROM touches WHERE ${touchMatch('cid', 'cid')}`,
  /** bind matchArgs('id', 'id', id): a touch's id is its click id's (touch-hashes.ts) */
  touchById: `SELECT ${touchSelect()} FROM touches WHERE ${touchMatch('id', 'id')}`,
  /** a touch, its texts by reference (touch-texts.ts) and its hashes (touch-hashes.ts's touchHashes) */
  insertTouch: insertSql(TOUCH_TABLE, TOUCH_STORED_COLUMNS),
  /** a re-engagement click: the install's touch of this token, once (unique install_id, token) */
  insertInstallTouch: insertSql(TOUCH_TABLE, TOUCH_STORED_COLUMNS, true),
  installTouchByToken: `SELECT ${touchSelect()} FROM touches WHERE install_id = @install_id AND token = @token`,
  conversionByDedupKey: 'SELECT * FROM conversions WHERE dedup_key = @dedup_key',
  /** the latest attributed conversion of a pixel and user since @since */
  lastAttributed: `SELECT * FROM conversions WHERE pixel_id = @pixel_id AND user_key = @user_key AND outcome = 'attributed'
                   AND occurred_at >= @since ORDER BY occurred_at DESC LIMIT 1`,
  /** a concurrent insert of the same dedup key (PostgreSQL) waits for the other transaction, then does nothing */
  insertConversion: insertSql('conversions', CONVERSION_COLUMNS, true),
  /** the order's unattributed conversions, each linked once, to the attributed one that fires it */
  supersedeUnattributed: `UPDATE conversions SET superseded_by = @by WHERE pixel_id = @pixel_id AND order_id = @order_id
                          AND outcome = 'unattributed' AND superseded_by IS NULL`,
  insertFire: insertSql('fires', FIRE_COLUMNS),
  fireByConversion: 'SELECT * FROM fires WHERE conversion_id = @conversion_id',
  installById: 'SELECT * FROM installs WHERE install_id = @install_id',
  installByTouch: 'SELECT * FROM installs WHERE touch_id = @touch_id',
  /** install_id taken, or the touch bound to another install: nothing */
  insertInstall: insertSql('installs', INSTALL_COLUMNS, true),
  /**
   * only an unbound install, and only to a touch no other install holds; a touch bound meanwhile by another
   * PostgreSQL process is caught at its savepoint
   */
  bindInstall: `UPDATE installs SET platform = @platform, touch_id = @touch_id, method = @method, confidence = @confidence,
                flags = @flags, device_id = @device_id, bound_at = @bound_at
                WHERE install_id = @install_id AND touch_id IS NULL AND NOT EXISTS (SELECT 1 FROM installs o WHERE o.touch_id = @touch_id)`,
  /** unbound touches with this hint key in [@from, @to], newest first */
  touchesByHint: `SELECT ${touchSelect('t.')} FROM touches t WHERE t.hint_key = @hint_key AND t.occurred_at BETWEEN @from AND @to
                  AND NOT EXISTS (SELECT 1 FROM installs i WHERE i.touch_id = t.id)
                  ORDER BY t.occurred_at DESC LIMIT @limit`,
  /** the first writer's secret wins, across processes */
  keepSecret: 'INSERT INTO secrets (name, value, created_at) VALUES (@name, @value, @created_at) ON CONFLICT (name) DO NOTHING',
  secret: 'SELECT value FROM secrets WHERE name = @name',
  /** a logged-out dashboard session; the revocations past their session's expiry go on each logout */
  revokeSession: 'INSERT INTO revoked_sessions (nonce, expires_at) VALUES (@nonce, @expires_at) ON CONFLICT (nonce) DO NOTHING',
  forgetExpiredRevocations: 'DELETE FROM revoked_sessions WHERE expires_at <= @now',
  sessionRevoked: 'SELECT 1 AS revoked FROM revoked_sessions WHERE nonce = @nonce',
};
