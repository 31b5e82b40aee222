// The shared store: PostgreSQL, for several collector processes at once. Semantics mirror sqlite.ts exactly;
// what differs is how concurrency is made safe: the dispatcher's claim skips rows another process holds
// (FOR UPDATE SKIP LOCKED), conversions race on a unique dedup key (ON CONFLICT DO NOTHING), deciders of one
// user serialise on an advisory lock, and a NOTIFY at commit wakes the dispatchers of every process.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { LATEST_POSTGRES_MIGRATION, POSTGRES_MIGRATIONS } from './postgres-schema.js';
import { CONVERSION_COLUMNS, FIRE_COLUMNS, INSTALL_COLUMNS, TOUCH_COLUMNS } from './schema.js';
import { listFiresSql, operatorSql, purgeArgs, type OperatorDialect } from './retention-rules.js';
import { LAST_REPORT_SQL, RECONCILE_ROWS_SQL, SAVE_REPORT_SQL, type ReconcileRow, type SavedReport } from './reconcile-sql.js';
import type {
  Attempt, AttemptNext, Conversion, Fire, FireDetail, FireFilter, FireState, IdentityKeys, Install, InstallDetail, NewAttempt, Store, Touch, TouchKind, Tx,
} from './store.js';
import {
  INSTALL_DETAIL_LIMIT, attemptEndedAt, attemptMetrics, collectStats, dailyCounts, noPurgeCounts, statsDays,
  type DailyCount, type PurgeCounts, type PurgeCutoffs, type PurgeStep, type QueueStats, type Stats,
} from './store.js';

export interface PostgresStoreOptions {
  /** tables live in this schema (created if absent); default: the connection's search_path */
  schema?: string;
  /** connections in the pool; default 10 */
  poolSize?: number;
}

type Row = Record<string, any>;
type Query = <R extends Row = Row>(text: string, values?: unknown[]) => Promise<pg.QueryResult<R>>;

/** the NOTIFY channel every process listens on; the payload says which schema and which process sent it */
const CHANNEL = 'sspx_fires';
/** advisory lock namespaces (the first key of the two-key form) */
const LOCK_MIGRATE = 0x73737001;
const LOCK_USER = 0x73737002;

const INT8_OID = 20;
const UNIQUE_VIOLATION = '23505';
/** BIGINT (times, counts, serial ids) as a JS number: every value we store is a safe integer */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** JSONB cannot hold U+0000, which a response excerpt may carry: it becomes U+FFFD rather than failing the write */
const jsonb = (v: unknown) =>
  v == null ? null : JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' && x.includes('\0') ? x.replaceAll('\0', '\uFFFD') : x));
/** BIGINT columns refuse fractions; a duration measured with performance.now() may have one */
const ms = (v: number | null | undefined) => (v == null ? null : Math.round(v));

const TOUCH_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'text', 'bigint', 'bigint', 'text'];

const placeholders = (n: number, from = 1) => Array.from({ length: n }, (_, i) => `$${i + from}`).join(', ');
const insertSql = (table: string, cols: string[], suffix = '') =>
  `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${placeholders(cols.length)}) ${suffix}`;
const valuesOf = (row: object, cols: string[]) => cols.map((c) => (row as Row)[c] ?? null);

const touchValues = (t: Touch) => valuesOf({ ...t, hints: jsonb(t.hints) }, TOUCH_COLUMNS);

/** All SQL of the store, top to bottom. */
const SQL = {
  touchByCid: 'SELECT * FROM touches WHERE cid = $1',
  touchById: 'SELECT * FROM touches WHERE id = $1',
  insertTouch: insertSql('touches', TOUCH_COLUMNS),
  /** a re-engagement click: the install's touch of this token, once */
  insertInstallTouch: insertSql('touches', TOUCH_COLUMNS, 'ON CONFLICT DO NOTHING'),
  installTouchByToken: 'SELECT * FROM touches WHERE install_id = $1 AND token = $2',
  /** group commit: one statement whatever the number of touches */
  insertTouches: `INSERT INTO touches (${TOUCH_COLUMNS.join(', ')})
                  SELECT * FROM unnest(${TOUCH_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
  conversionByDedupKey: 'SELECT * FROM conversions WHERE dedup_key = $1',
  conversionById: 'SELECT * FROM conversions WHERE id = $1',
  lastAttributed: `SELECT * FROM conversions WHERE pixel_id = $1 AND user_key = $2 AND outcome = 'attributed'
                   AND occurred_at >= $3 ORDER BY occurred_at DESC LIMIT 1`,
  lockUser: `SELECT pg_advisory_xact_lock(${LOCK_USER}, hashtext($1))`,
  /** a concurrent insert of the same dedup key waits for the other transaction, then does nothing */
  insertConversion: insertSql('conversions', CONVERSION_COLUMNS, 'ON CONFLICT DO NOTHING'),
  insertFire: insertSql('fires', FIRE_COLUMNS),
  notify: `SELECT pg_notify('${CHANNEL}', $1)`,
  fireByConversion: 'SELECT * FROM fires WHERE conversion_id = $1',
  fireById: 'SELECT * FROM fires WHERE id = $1',
  installById: 'SELECT * FROM installs WHERE install_id = $1',
  installByTouch: 'SELECT * FROM installs WHERE touch_id = $1',
  /** install_id taken, or the touch bound to another install: nothing */
  insertInstall: insertSql('installs', INSTALL_COLUMNS, 'ON CONFLICT DO NOTHING'),
  /** only an unbound install; a touch bound meanwhile by another process is caught at the savepoint */
  bindInstall: `UPDATE installs SET platform = $2, touch_id = $3, method = $4, confidence = $5, flags = $6, device_id = $7, bound_at = $8
                WHERE install_id = $1 AND touch_id IS NULL AND NOT EXISTS (SELECT 1 FROM installs o WHERE o.touch_id = $3)`,
  touchesByHint: `SELECT t.* FROM touches t WHERE t.hint_key = $1 AND t.occurred_at BETWEEN $2 AND $3
                  AND NOT EXISTS (SELECT 1 FROM installs i WHERE i.touch_id = t.id)
                  ORDER BY t.occurred_at DESC LIMIT $4`,
  keepSecret: 'INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
  secret: 'SELECT value FROM secrets WHERE name = $1',
  clearHints: 'UPDATE touches SET hint_key = NULL WHERE hint_key IS NOT NULL AND occurred_at < $1',
  /** rows arrive summed and sorted, so concurrent upserts take their row locks in one order */
  countDiagnostics: `INSERT INTO diagnostics (day, site, kind, count)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
                     ON CONFLICT (day, site, kind) DO UPDATE SET count = diagnostics.count + EXCLUDED.count`,
  diagnostics: 'SELECT day, site, kind, count FROM diagnostics WHERE day BETWEEN $1 AND $2 ORDER BY day, site, kind',

  // The dispatcher's queue. Each step locks the fire rows it changes; rows another claimer holds are skipped.
  lockExpiredLeases: `SELECT id FROM fires WHERE state = 'in_flight' AND lease_expires_at <= $1
                      ORDER BY lease_expires_at FOR UPDATE SKIP LOCKED`,
  leaseExpiredAttempts: `INSERT INTO attempts (fire_id, n, owner, started_at, duration_ms, outcome, error_class, status, url, hops, next_attempt_at)
                         SELECT f.id, COALESCE((SELECT MAX(a.n) FROM attempts a WHERE a.fire_id = f.id), 0) + 1, f.lease_owner,
                                f.lease_expires_at, NULL, 'lease_expired', 'lease_expired', NULL, NULL, NULL, $2
                         FROM fires f WHERE f.id = ANY($1::text[]) ORDER BY f.lease_expires_at, f.id`,
  requeueExpired: `UPDATE fires SET state = 'queued', attempt_count = attempt_count + 1, next_attempt_at = $2,
                   lease_owner = NULL, lease_expires_at = NULL, last_outcome = 'lease_expired',
                   last_error = 'lease expired before the attempt was recorded', updated_at = $2 WHERE id = ANY($1::text[])`,
  claim: `UPDATE fires SET state = 'in_flight', lease_owner = $1, lease_expires_at = $3, updated_at = $2
          WHERE id IN (SELECT id FROM fires WHERE state = 'queued' AND next_attempt_at <= $2
                       ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED)
          RETURNING *`,
  lockFire: 'SELECT id FROM fires WHERE id = $1 FOR UPDATE',
  insertAttempt: `INSERT INTO attempts (fire_id, n, owner, started_at, duration_ms, outcome, error_class, status, url, hops, next_attempt_at)
                  VALUES ($1, (SELECT COALESCE(MAX(n), 0) + 1 FROM attempts WHERE fire_id = $1), ${placeholders(9, 2)})`,
  finishAttempt: `UPDATE fires SET state = $3, attempt_count = attempt_count + 1, next_attempt_at = $4,
                  lease_owner = NULL, lease_expires_at = NULL, last_outcome = $5, last_error = $6,
                  updated_at = $7, fired_at = CASE WHEN $3 = 'fired' THEN $7 ELSE fired_at END, dry_run = $8
                  WHERE id = $1 AND state = 'in_flight' AND lease_owner = $2`,
  release: `UPDATE fires SET state = 'queued', next_attempt_at = $2, lease_owner = NULL, lease_expires_at = NULL,
            updated_at = $2 WHERE state = 'in_flight' AND lease_owner = $1`,
  nextDue: `SELECT MIN(next_attempt_at) AS at FROM fires WHERE state = 'queued'`,
  replay: `UPDATE fires SET state = 'queued', next_attempt_at = $2, updated_at = $2, last_error = NULL
           WHERE id = $1 AND state IN ('failed', 'held') RETURNING *`,
  attemptsOf: 'SELECT * FROM attempts WHERE fire_id = $1 ORDER BY n, id',
  countFires: 'SELECT state, COUNT(*) AS n FROM fires GROUP BY state',

  lockMigrations: `SELECT pg_advisory_xact_lock(${LOCK_MIGRATE}, hashtext($1))`,
  migrationsTable: 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
  migrationsTableExists: `SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`,
  appliedVersions: 'SELECT version FROM schema_migrations',
  latestVersion: 'SELECT MAX(version) AS v FROM schema_migrations',
  recordMigration: 'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)',
};

/**
 * The newest touch of `kind` in [from, to] under any of the keys: per key the newest (then the latest recorded),
 * across keys the newest, the earlier key (visitor, token, device, touch id, install) winning a tie — as SQLite decides.
 */
function latestTouchQuery(keys: IdentityKeys, kind: TouchKind, from: number, to: number): { text: string; values: unknown[] } | undefined {
  const values: unknown[] = [kind, from, to];
  const parts: string[] = [];
  const add = (column: string, list: string[]) => {
    for (const v of list) {
      values.push(v);
      parts.push(`(SELECT *, ${parts.length} AS ord FROM touches WHERE ${column} = $${values.length} AND kind = $1
                   AND occurred_at BETWEEN $2 AND $3 ORDER BY occurred_at DESC, created_at DESC LIMIT 1)`);
    }
  };
  add('visitor_id', keys.visitor_ids);
  add('token', keys.tokens);
  add('device_id', keys.device_ids);
  add('id', keys.touch_ids);
  add('install_id', keys.install_ids);
  if (!parts.length) return undefined;
  return { text: `SELECT * FROM (${parts.join(' UNION ALL ')}) AS newest ORDER BY occurred_at DESC, ord LIMIT 1`, values };
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  /** tells this process's own notifications from other processes' */
  readonly instanceId = randomBytes(6).toString('hex');
  private readonly schema: string | undefined;
  private readonly listeners = new Set<() => void>();
  private listener?: FiresListener;
  private closed = false;

  constructor(readonly url: string, opts: PostgresStoreOptions = {}) {
    if (opts.schema != null && !SCHEMA_NAME.test(opts.schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(opts.schema)}`);
    this.schema = opts.schema;
    const searchPath = this.schema ? `SET search_path TO "${this.schema}"` : undefined;
    this.pool = new pg.Pool({
      connectionString: url,
      max: opts.poolSize ?? 10,
      types,
      application_name: 'sspx-relay',
      connectionTimeoutMillis: 10_000,
      // every pooled connection sees only our schema, whatever options the URL carries
      onConnect: searchPath ? (client) => client.query(searchPath).then(() => undefined) : undefined,
    });
    // An idle connection dropped by the server: the pool discards it and the next query opens another.
    this.pool.on('error', () => undefined);
  }

  /** one pooled client, BEGIN … COMMIT; ROLLBACK on a throw, and a client whose ROLLBACK failed is discarded */
  private async inTransaction<T>(fn: (query: Query) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let done = false;
    let broken: Error | undefined;
    // a checked-out client has no pool listener: a connection lost now would be an uncaught 'error' that ends the
    // process. The pending query rejects anyway; remember the loss so the client is discarded, not reused.
    const onError = (err: Error) => (broken ??= err);
    client.on('error', onError);
    const query: Query = (text, values) => {
      if (done) return Promise.reject(new Error('the transaction has already finished'));
      return client.query(text, values);
    };
    try {
      await client.query('BEGIN');
      const result = await fn(query);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      done = true;
      client.off('error', onError);
      client.release(broken);
    }
  }

  private get query(): Query {
    return (text, values) => this.pool.query(text, values);
  }

  private notify(query: Query) {
    return query(SQL.notify, [`${this.schema ?? ''} ${this.instanceId}`]);
  }

  /** calls this process's listeners; one that throws does not stop the others, nor undo a commit */
  private emitFiresQueued(): void {
    for (const l of [...this.listeners]) {
      try {
        l();
      } catch (err) {
        process.emitWarning(`onFiresQueued listener threw: ${(err as Error)?.stack ?? err}`);
      }
    }
  }

  /** a notification from any process: ours were delivered in-process already */
  private onNotification(payload: string | undefined): void {
    const [schema, instance] = (payload ?? '').split(' ');
    if (schema === (this.schema ?? '') && instance !== this.instanceId) this.emitFiresQueued();
  }

  async migrate(upTo = Infinity): Promise<number[]> {
    return this.inTransaction(async (query) => {
      // several processes starting together: the first migrates, the others wait here, then find nothing to do
      await query(SQL.lockMigrations, [this.schema ?? '']);
      if (this.schema) await query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await query(SQL.migrationsTable);
      const done = new Set((await query<{ version: number }>(SQL.appliedVersions)).rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.version) || m.version > upTo) continue;
        await query(m.sql);
        await query(SQL.recordMigration, [m.version, Date.now()]);
        applied.push(m.version);
      }
      return applied;
    });
  }

  async migrationsCurrent(): Promise<boolean> {
    const exists = (await this.query<{ exists: boolean }>(SQL.migrationsTableExists)).rows[0].exists;
    if (!exists) return false;
    // at least this build's latest: during a rolling deploy an older build stays ready on a newer schema
    return ((await this.query<{ v: number | null }>(SQL.latestVersion)).rows[0].v ?? 0) >= LATEST_POSTGRES_MIGRATION;
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.listener?.stop();
    await this.pool.end();
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const queued = { fires: false };
    const result = await this.inTransaction((query) => fn(this.tx(query, queued)));
    if (queued.fires) this.emitFiresQueued();
    return result;
  }

  private tx(query: Query, queued: { fires: boolean }): Tx {
    const one = async <R extends Row>(text: string, values: unknown[]) => (await query<R>(text, values)).rows[0] as R | undefined;
    return {
      latestTouch: async (keys, kind, from, to) => {
        const q = latestTouchQuery(keys, kind, from, to);
        const row = q && (await one<Row>(q.text, q.values));
        if (!row) return undefined;
        const { ord: _ord, ...touch } = row;
        return touch as Touch;
      },
      touchByCid: (cid) => one<Touch>(SQL.touchByCid, [cid]),
      touchById: (id) => one<Touch>(SQL.touchById, [id]),
      insertTouch: async (touch) => {
        await query(SQL.insertTouch, touchValues(touch));
      },
      insertInstallTouch: async (touch) => (await query(SQL.insertInstallTouch, touchValues(touch))).rowCount === 1,
      installTouchByToken: (install_id, token) => one<Touch>(SQL.installTouchByToken, [install_id, token]),
      conversionByDedupKey: (key) => one<Conversion>(SQL.conversionByDedupKey, [key]),
      lastAttributedConversion: (pixel_id, user_key, since) => one<Conversion>(SQL.lastAttributed, [pixel_id, user_key, since]),
      lockUser: async (pixel_id, user_key) => {
        // pixel_id is numeric, so the first ':' separates the pair unambiguously
        await query(SQL.lockUser, [`${pixel_id}:${user_key}`]);
      },
      insertConversion: async (c) => (await query(SQL.insertConversion, valuesOf(c, CONVERSION_COLUMNS))).rowCount === 1,
      insertFire: async (fire) => {
        await query(SQL.insertFire, valuesOf(fire, FIRE_COLUMNS));
        // delivered to the other processes at commit, dropped on rollback; one per transaction is enough
        if (!queued.fires) await this.notify(query);
        queued.fires = true;
      },
      fireByConversion: (id) => one<Fire>(SQL.fireByConversion, [id]),
      installById: (id) => one<Install>(SQL.installById, [id]),
      installByTouch: (id) => one<Install>(SQL.installByTouch, [id]),
      insertInstall: async (i) =>
        (await query(SQL.insertInstall, valuesOf({ ...i, flags: jsonb(i.flags) }, INSTALL_COLUMNS))).rowCount === 1,
      bindInstall: async (i) => {
        // a unique violation would abort the whole transaction: the savepoint confines it to this statement
        await query('SAVEPOINT bind_install');
        try {
          const bound = (await query(SQL.bindInstall, valuesOf({ ...i, flags: jsonb(i.flags) }, INSTALL_COLUMNS.filter((c) => c !== 'created_at')))).rowCount === 1;
          await query('RELEASE SAVEPOINT bind_install');
          return bound;
        } catch (err) {
          if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
          await query('ROLLBACK TO SAVEPOINT bind_install');
          return false;
        }
      },
      touchesByHint: async (key, from, to, limit) => (await query<Touch>(SQL.touchesByHint, [key, from, to, limit])).rows,
    };
  }

  async insertTouches(touches: Touch[]): Promise<void> {
    if (!touches.length) return;
    const columns = TOUCH_COLUMNS.map(() => [] as unknown[]);
    for (const t of touches) touchValues(t).forEach((v, i) => columns[i].push(v));
    await this.query(SQL.insertTouches, columns);
  }

  async touchByCid(cid: string): Promise<Touch | undefined> {
    return (await this.query<Touch>(SQL.touchByCid, [cid])).rows[0];
  }

  async secret(name: string, fresh: string): Promise<string> {
    await this.query(SQL.keepSecret, [name, fresh, Date.now()]);
    // a statement of its own, so it sees the row of a process that won the race
    return (await this.query<{ value: string }>(SQL.secret, [name])).rows[0].value;
  }

  async clearHints(before: number): Promise<number> {
    return (await this.query(SQL.clearHints, [before])).rowCount ?? 0;
  }

  async countDiagnostics(rows: { day: string; site: string; kind: string; count: number }[]): Promise<void> {
    const sums = new Map<string, { day: string; site: string; kind: string; count: number }>();
    for (const r of rows) {
      const key = JSON.stringify([r.day, r.site, r.kind]);
      const sum = sums.get(key);
      if (sum) sum.count += r.count;
      else sums.set(key, { ...r });
    }
    if (!sums.size) return;
    const sorted = [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
    await this.query(SQL.countDiagnostics, [sorted.map((r) => r.day), sorted.map((r) => r.site), sorted.map((r) => r.kind), sorted.map((r) => r.count)]);
  }

  async diagnostics(fromDay: string, toDay: string) {
    return (await this.query<{ day: string; site: string; kind: string; count: number }>(SQL.diagnostics, [fromDay, toDay])).rows;
  }

  claimFires(owner: string, now: number, lease_ms: number, limit: number): Promise<Fire[]> {
    return this.inTransaction(async (query) => {
      const expired = (await query<{ id: string }>(SQL.lockExpiredLeases, [now])).rows.map((r) => r.id);
      if (expired.length) {
        await query(SQL.leaseExpiredAttempts, [expired, now]);
        await query(SQL.requeueExpired, [expired, now]);
      }
      const claimed = (await query<Fire>(SQL.claim, [owner, now, now + lease_ms, Math.max(0, limit)])).rows;
      // RETURNING has no order: oldest due first, as they were chosen
      return claimed.sort((a, b) => (a.next_attempt_at ?? 0) - (b.next_attempt_at ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  recordAttempt(fire_id: string, owner: string, attempt: NewAttempt, next: AttemptNext): Promise<boolean> {
    return this.inTransaction(async (query) => {
      // the fire's row lock orders this attempt's number after any other writer's (a lease expiry, say)
      await query(SQL.lockFire, [fire_id]);
      await query(SQL.insertAttempt, [
        fire_id, owner, ms(attempt.started_at), attempt.duration_ms, attempt.outcome, attempt.error_class, attempt.status,
        attempt.url, jsonb(attempt.hops), ms(attempt.next_attempt_at),
      ]);
      const finished = await query(SQL.finishAttempt, [
        fire_id, owner, next.state, ms(next.next_attempt_at), attempt.outcome, next.last_error,
        attemptEndedAt(attempt), next.dry_run === true,
      ]);
      return finished.rowCount === 1;
    });
  }

  async releaseFires(owner: string, now: number): Promise<number> {
    const released = await this.inTransaction(async (query) => {
      const n = (await query(SQL.release, [owner, now])).rowCount ?? 0;
      if (n) await this.notify(query);
      return n;
    });
    if (released) this.emitFiresQueued();
    return released;
  }

  async nextDueAt(): Promise<number | null> {
    return (await this.query<{ at: number | null }>(SQL.nextDue)).rows[0].at;
  }

  async replayFire(id: string, now: number): Promise<Fire | undefined> {
    const fire = await this.inTransaction(async (query) => {
      const row = (await query<Fire>(SQL.replay, [id, now])).rows[0];
      if (row) await this.notify(query);
      return row;
    });
    if (fire) this.emitFiresQueued();
    return fire;
  }

  async getFire(id: string): Promise<FireDetail | undefined> {
    const fire = (await this.query<Fire>(SQL.fireById, [id])).rows[0];
    if (!fire) return undefined;
    const [conversion, attempts] = await Promise.all([
      this.query<Conversion>(SQL.conversionById, [fire.conversion_id]).then((r) => r.rows[0] ?? null),
      this.query<Attempt>(SQL.attemptsOf, [id]).then((r) => r.rows),
    ]);
    const touch = conversion?.touch_id ? (await this.query<Touch>(SQL.touchById, [conversion.touch_id])).rows[0] ?? null : null;
    return { ...fire, attempts, conversion, touch };
  }

  async listFires(filter: FireFilter): Promise<Fire[]> {
    const cursor = filter.before ? (await this.query<Fire>(SQL.fireById, [filter.before])).rows[0] : undefined;
    const { sql, args } = listFiresSql(filter, cursor);
    const q = named(sql, args);
    return (await this.query<Fire>(q.text, q.values)).rows;
  }

  async installDetail(install_id: string): Promise<InstallDetail | undefined> {
    const run = <R extends Row>(text: string, args: Record<string, unknown>) => {
      const q = named(text, args);
      return this.query<R>(q.text, q.values);
    };
    const install = (await run<Install>(RETENTION_SQL.installById, { install_id })).rows[0];
    if (!install) return undefined;
    const args = { install_id, limit: INSTALL_DETAIL_LIMIT };
    const touches = (await run<Touch>(RETENTION_SQL.installTouches, args)).rows.reverse();
    const conversions = (await run<Conversion>(RETENTION_SQL.installConversions, args)).rows.reverse();
    return { install, touches, conversions };
  }

  async countFires(): Promise<Record<FireState, number>> {
    const counts: Record<FireState, number> = { queued: 0, in_flight: 0, fired: 0, failed: 0, held: 0 };
    for (const r of (await this.query<{ state: FireState; n: number }>(SQL.countFires)).rows) counts[r.state] = r.n;
    return counts;
  }

  onFiresQueued(listener: () => void): () => void {
    this.listeners.add(listener);
    if (!this.listener && !this.closed) {
      this.listener = new FiresListener(this.url, `sspx-relay listen ${this.instanceId}`, (p) => this.onNotification(p), () => this.emitFiresQueued());
    }
    return () => void this.listeners.delete(listener);
  }

  // ---- Reconciliation with Microsoft's report (collector/reconcile/); SQL in reconcile-sql.ts ----

  async reconcileRows(from: number, to: number): Promise<ReconcileRow[]> {
    const q = named(RECONCILE_ROWS_SQL, { from, to });
    return (await this.query<ReconcileRow>(q.text, q.values)).rows;
  }

  async saveReport(report: SavedReport): Promise<void> {
    await this.inTransaction(async (query) => {
      for (const sql of SAVE_REPORT_SQL) {
        const q = named(sql, { source: report.source, from: report.from, to: report.to, saved_at: report.saved_at, rows: report.rows });
        await query(q.text, q.values);
      }
    });
  }

  async lastReport(): Promise<SavedReport | undefined> {
    return (await this.query<SavedReport>(LAST_REPORT_SQL)).rows[0];
  }

  /** resolves once other processes' notifications reach this one (tests wait on it; the dispatcher need not) */
  async whenListening(): Promise<void> {
    await this.listener?.ready;
  }

  // ---- Operators' numbers and retention (the dashboard, collector/retention.ts); SQL in RETENTION_SQL below ----

  async stats(from: number, to: number, bucket_ms: number): Promise<Stats> {
    const q = named(RETENTION_SQL.stats, { from, to, bucket: bucket_ms });
    const rows = (await this.query<{ metric: string; key: string | null; b: number; count: number }>(q.text, q.values)).rows;
    return collectStats(from, to, bucket_ms, rows, await this.diagnostics(...statsDays(from, to)));
  }

  async queueStats(now: number): Promise<QueueStats> {
    const q = named(RETENTION_SQL.queue, { now });
    return (await this.query<QueueStats>(q.text, q.values)).rows[0];
  }

  async purgeCounts(cutoffs: PurgeCutoffs): Promise<PurgeCounts> {
    const q = named(RETENTION_SQL.counts, purgeArgs(cutoffs));
    return (await this.query<PurgeCounts>(q.text, q.values)).rows[0];
  }

  purgeBatch(step: PurgeStep, cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts> {
    const args = { ...purgeArgs(cutoffs), limit: Math.max(0, Math.floor(limit)) };
    return this.inTransaction(async (query) => {
      const run = async <R extends Row>(text: string, values: Record<string, unknown>) => {
        const q = named(text, values);
        return query<R>(q.text, q.values);
      };
      const done = noPurgeCounts();
      let rolled: DailyCount[] = [];
      if (step === 'fires') {
        const fires = (await run<{ id: string; created_at: number; state: string }>(RETENTION_SQL.deleteFires, args)).rows;
        const attempts = fires.length
          ? (await run<{ started_at: number; outcome: string; error_class: string | null }>(RETENTION_SQL.deleteAttemptsOf, { ids: fires.map((f) => f.id) })).rows
          : [];
        rolled = dailyCounts([...fires.map((f) => ({ metric: 'fires' as const, key: f.state, at: f.created_at })), ...attempts.flatMap(attemptMetrics)]);
        (done.fires = fires.length), (done.attempts = attempts.length);
      } else if (step === 'conversions') {
        const gone = (await run<{ created_at: number; outcome: string }>(RETENTION_SQL.deleteConversions, args)).rows;
        rolled = dailyCounts(gone.map((c) => ({ metric: 'conversions' as const, key: c.outcome, at: c.created_at })));
        done.conversions = gone.length;
      } else if (step === 'touches') {
        const gone = (await run<{ occurred_at: number; kind: string }>(RETENTION_SQL.deleteTouches, args)).rows;
        rolled = dailyCounts(gone.map((t) => ({ metric: 'touches' as const, key: t.kind, at: t.occurred_at })));
        done.touches = gone.length;
      } else {
        done.transcripts = (await run(RETENTION_SQL.clearTranscripts, args)).rowCount ?? 0;
      }
      if (rolled.length) {
        await query(RETENTION_SQL.countDaily, [rolled.map((c) => c.day), rolled.map((c) => c.metric), rolled.map((c) => c.key), rolled.map((c) => c.count)]);
      }
      return done;
    });
  }
}

/**
 * One dedicated connection LISTENing for other processes' queued fires. When it drops it reconnects with
 * backoff, then reports a possibly missed wake-up, since notifications sent meanwhile are lost.
 */
class FiresListener {
  ready: Promise<void>;
  private client?: pg.Client;
  private stopped = false;
  private wake?: () => void;

  constructor(
    private readonly url: string,
    private readonly applicationName: string,
    private readonly onNotification: (payload: string | undefined) => void,
    private readonly onReconnect: () => void,
  ) {
    this.ready = this.connect(false);
  }

  private async connect(reconnecting: boolean): Promise<void> {
    for (let delay = 100; !this.stopped; delay = Math.min(delay * 2, 5_000)) {
      const client = new pg.Client({ connectionString: this.url, application_name: this.applicationName, connectionTimeoutMillis: 10_000 });
      client.on('error', () => undefined); // the 'end' that follows reconnects
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANNEL}`);
      } catch {
        await client.end().catch(() => undefined);
        await this.sleep(delay);
        continue;
      }
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      client.on('notification', (m) => this.onNotification(m.payload));
      client.once('end', () => {
        this.client = undefined;
        if (!this.stopped) this.ready = this.connect(true);
      });
      this.client = client;
      if (reconnecting) this.onReconnect();
      return;
    }
  }

  private sleep(delay: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, delay);
      this.wake = () => (clearTimeout(timer), resolve());
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.ready;
    await this.client?.end().catch(() => undefined);
  }
}

// ---- Operators' numbers and retention: the SQL of stats(), queueStats(), purgeCounts() and purgeBatch() ----
// Written with @name parameters (as in sqlite.ts), numbered by `named` at the call.

/** `@name` → `$n`, each name numbered once, in order of first use */
function named(text: string, args: Record<string, unknown>): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const index = new Map<string, number>();
  const numbered = text.replace(/@(\w+)/g, (_m, name: string) => {
    if (!(name in args)) throw new Error(`no value for @${name}`);
    let i = index.get(name);
    if (i === undefined) index.set(name, (i = values.push(args[name])));
    return `$${i}`;
  });
  return { text: numbered, values };
}

const POSTGRES_OPERATORS: OperatorDialect = { bucket: (column) => `((${column} - @from::bigint) / @bucket::bigint)`, skipLocked: ' FOR UPDATE SKIP LOCKED' };

const RETENTION_SQL = {
  ...operatorSql(POSTGRES_OPERATORS),
  deleteAttemptsOf: 'DELETE FROM attempts WHERE fire_id = ANY(@ids::text[]) RETURNING started_at, outcome, error_class',
  /** rows arrive summed and sorted (dailyCounts), so concurrent purges take their row locks in one order */
  countDaily: `INSERT INTO daily_counts (day, metric, key, count)
               SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
               ON CONFLICT (day, metric, key) DO UPDATE SET count = daily_counts.count + EXCLUDED.count`,
};
