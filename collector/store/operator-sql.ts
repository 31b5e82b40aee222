// The operators' SQL, written once for both stores (@name parameters; the differences behind dialect.ts): the fires
// list and one fire's detail, one install's page, the fires per state, the queue's numbers and the charts' counts.
// Reconciliation's is in reconcile-sql.ts, retention's in retention-rules.ts.
import type { SqlDialect } from './dialect.js';
import { touchSelect } from './schema.js';
import { idKeySql, touchByIdSql } from './touch-hashes.js';
import type { FireFilter } from './store.js';

/** what the charts count: each metric is one table's rows in a period, keyed by a column, placed by a time column */
const STATS_COUNTS = [
  { metric: 'touches', key: 'kind', table: 'touches', time: 'occurred_at', where: '' },
  { metric: 'conversions', key: 'outcome', table: 'conversions', time: 'created_at', where: '' },
  { metric: 'fires', key: 'state', table: 'fires', time: 'created_at', where: '' },
  { metric: 'attempts', key: 'outcome', table: 'attempts', time: 'started_at', where: '' },
  { metric: 'attempt_errors', key: 'error_class', table: 'attempts', time: 'started_at', where: " AND outcome <> 'fired' AND error_class IS NOT NULL" },
];

/** counts per metric, key and bucket over [@from, @to), live rows and the rolled-up daily counts together;
 * `bucket` is the store's own integer division of a time column by @bucket */
export const statsSql = (bucket: (column: string) => string) =>
  [
    ...STATS_COUNTS.map(({ metric, key, table, time, where }) => `
  SELECT '${metric}' AS metric, ${key} AS key, ${bucket(time)} AS b, COUNT(*) AS count
    FROM ${table} WHERE ${time} >= @from AND ${time} < @to${where} GROUP BY b, ${key}`),
    `
  SELECT metric, key, ${bucket('day')} AS b, count FROM daily_counts WHERE day >= @from AND day < @to`,
  ].join('\n  UNION ALL');

/** the touches an install's conversions may be credited to (see InstallDetail), newest first; touches named by id
 * are found through their click id's hash (touch-hashes.ts) */
const installTouches = (hash: (text: string) => string) => `
  WITH i AS (SELECT i.touch_id, i.device_id, b.device_id AS bound_device, b.visitor_id AS bound_visitor,
                    b.visitor_hash AS bound_visitor_hash
             FROM installs i LEFT JOIN touches b ON ${touchByIdSql('b.', 'i.touch_id', hash)} WHERE i.install_id = @install_id),
       named AS (SELECT touch_id FROM i UNION SELECT touch_id FROM conversions WHERE install_id = @install_id)
  SELECT ${touchSelect()} FROM touches WHERE install_id = @install_id
    OR (cid_hash IN (SELECT ${hash(idKeySql('touch_id'))} FROM named) AND id IN (SELECT touch_id FROM named))
    OR device_id IN (SELECT device_id FROM i UNION SELECT bound_device FROM i)
    OR (visitor_hash IN (SELECT bound_visitor_hash FROM i) AND visitor_id IN (SELECT bound_visitor FROM i))
  ORDER BY occurred_at DESC, created_at DESC LIMIT @limit`;

export const operatorSql = (d: SqlDialect) => ({
  fireById: 'SELECT * FROM fires WHERE id = @id',
  /** one install's page (InstallDetail; the install itself by ingest-sql.ts's installById): its touches and its
   * conversions, newest first, at most @limit */
  installTouches: installTouches(d.hash),
  installConversions: 'SELECT * FROM conversions WHERE install_id = @install_id ORDER BY occurred_at DESC, created_at DESC LIMIT @limit',
  conversionById: 'SELECT * FROM conversions WHERE id = @id',
  /** the reports a conversion decided (FireDetail.linked): its duplicates and the unattributed ones it superseded */
  linkedConversions: `SELECT * FROM conversions WHERE duplicate_of = @id UNION ALL SELECT * FROM conversions WHERE superseded_by = @id
                      ORDER BY created_at, id LIMIT 100`,
  attemptsOf: 'SELECT * FROM attempts WHERE fire_id = @fire_id ORDER BY n, id',
  countFires: 'SELECT state, COUNT(*) AS n FROM fires GROUP BY state',
  diagnostics: 'SELECT day, site, kind, count FROM diagnostics WHERE day BETWEEN @from AND @to ORDER BY day, site, kind',
  stats: statsSql(d.bucket),
  /** the outbox at @now: queued fires, those due, in-flight ones, and when the oldest due one became due */
  queue: `SELECT
    (SELECT COUNT(*) FROM fires WHERE state = 'queued') AS queued,
    (SELECT COUNT(*) FROM fires WHERE state = 'queued' AND next_attempt_at <= @now) AS due,
    (SELECT COUNT(*) FROM fires WHERE state = 'in_flight') AS in_flight,
    (SELECT MIN(next_attempt_at) FROM fires WHERE state = 'queued' AND next_attempt_at <= @now) AS oldest_due_at`,
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
  // a boolean in PostgreSQL, 0 or 1 in SQLite: compared as 0 or 1 in both
  if (filter.test !== undefined) match('test', '(CASE WHEN test THEN 1 ELSE 0 END) = @test', filter.test ? 1 : 0);
  if (filter.from != null) match('from', 'created_at >= @from', filter.from);
  if (filter.to != null) match('to', 'created_at < @to', filter.to);
  if (cursor) {
    where.push('(created_at < @bc OR (created_at = @bc AND id < @bid))');
    Object.assign(args, { bc: cursor.created_at, bid: cursor.id });
  }
  args.limit = Math.min(filter.limit ?? 100, 1000);
  return { sql: `SELECT * FROM fires ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY created_at DESC, id DESC LIMIT @limit`, args };
}
