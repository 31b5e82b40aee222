// The shared store: PostgreSQL, for several collector processes at once. Semantics mirror sqlite.ts exactly;
// what differs is how concurrency is made safe: the dispatcher's claim skips rows another process holds
// (FOR UPDATE SKIP LOCKED), conversions race on a unique dedup key (ON CONFLICT DO NOTHING), deciders of one
// user serialise on an advisory lock, and a NOTIFY at commit wakes the dispatchers of every process.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Batcher } from '../batcher.js';
import { BATCH_CONFLICT, LATEST_POSTGRES_MIGRATION, POSTGRES_MIGRATIONS, postgresHash } from './postgres-schema.js';
import { storedTouch, TOUCH_STORED_COLUMNS, touchSelect } from './schema.js';
import { decideFromMemory, type BatchWrites, type Lookup, type LookupAnswer } from './batch-tx.js';
import { matchArgs, TOUCH_HASH_COLUMNS, touchByIdSql } from './touch-hashes.js';
import { TextCache, TOUCH_TABLE, TOUCH_TEXT_COLUMNS, textRef, touchTexts, type TextNeed } from './touch-texts.js';
import type { SqlDialect } from './dialect.js';
import { INGEST_SQL, latestTouchSql } from './ingest-sql.js';
import { queueSql } from './queue-sql.js';
import { listFiresSql, operatorSql } from './operator-sql.js';
import { purgeArgs, retentionSql } from './retention-rules.js';
import { LAST_REPORT_SQL, reconcileRowsSql, SAVE_REPORT_SQL, type ReconcileRow, type SavedReport } from './reconcile-sql.js';
import type {
  Attempt, AttemptNext, Conversion, Fire, FireDetail, FireFilter, FireState, IdentityKeys, Install, InstallDetail, NewAttempt, Store, Touch, TouchKind, Tx,
} from './store.js';
import type { OnAmbiguous } from '../vocabulary.js';
import {
  INSTALL_DETAIL_LIMIT, attemptEndedAt, decideInTransaction, attemptMetrics, collectStats, dailyCounts, noPurgeCounts, statsDays,
  type DailyCount, type PurgeCounts, type PurgeCutoffs, type PurgeStep, type QueueStats, type Stats,
} from './store.js';

export interface PostgresStoreOptions {
  /** tables live in this schema (created if absent); default: the connection's search_path */
  schema?: string;
  /** connections in the pool; default 10 */
  poolSize?: number;
}

type Row = Record<string, any>;
/** one attempt the dispatcher records, waiting for its batch (recordAttempt) */
interface AttemptRecord {
  fire_id: string;
  owner: string;
  attempt: NewAttempt;
  next: AttemptNext;
}
/** runs `sql`, written with @name parameters like all the store's SQL, with the values of `args` */
type Query = <R extends Row = Row>(sql: string, args?: Record<string, unknown>) => Promise<pg.QueryResult<R>>;

/** the NOTIFY channel every process listens on; the payload says which schema and which process sent it */
const CHANNEL = 'sspx_fires';
/** advisory lock namespaces (the first key of the two-key form) */
const LOCK_MIGRATE = 0x73737001;
const LOCK_USER = 0x73737002;

const INT8_OID = 20;
const UNIQUE_VIOLATION = '23505';
const DEADLOCK = '40P01';
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

/** TOUCH_STORED_COLUMNS' types: text, but for times, text references and lookup hashes */
const TOUCH_BIGINTS = new Set<string>(['occurred_at', 'created_delay', ...TOUCH_TEXT_COLUMNS.map(textRef), ...TOUCH_HASH_COLUMNS]);
const TOUCH_TYPES = TOUCH_STORED_COLUMNS.map((c) => (TOUCH_BIGINTS.has(c) ? 'bigint' : 'text'));

/**
 * Where PostgreSQL writes the shared SQL its own way: a bucket index is an integer division of bigints; rows another
 * process holds are skipped; a lease expiry and a purge's attempts run once for the set of fires locked (@ids).
 */
const POSTGRES: SqlDialect = {
  bucket: (column) => `((${column} - @from::bigint) / @bucket::bigint)`,
  skipLocked: ' FOR UPDATE SKIP LOCKED',
  fireSet: (column) => `${column} = ANY(@ids::text[])`,
  hash: postgresHash,
  rowid: 'ctid',
  inRows: (subquery) => `ctid = ANY(ARRAY(${subquery}))`,
};

/** All SQL of the store: the shared statements, then PostgreSQL's own. */
const SQL = {
  ...INGEST_SQL,
  ...queueSql(POSTGRES),
  ...operatorSql(POSTGRES),
  ...retentionSql(POSTGRES),
  /** group commit: one statement whatever the number of touches (@columns: one array per touch column) */
  insertTouches: `INSERT INTO ${TOUCH_TABLE} (${TOUCH_STORED_COLUMNS.join(', ')})
                  SELECT * FROM unnest(${TOUCH_TYPES.map((t, i) => `@${TOUCH_STORED_COLUMNS[i]}::${t}[]`).join(', ')})`,
  /** touch texts (touch-texts.ts), added or marked used until their @used; their ids. Sorted, so concurrent upserts
   * take their row locks in one order */
  addTexts: `INSERT INTO touch_texts (text, last_used) SELECT * FROM unnest(@texts::text[], @used::bigint[])
             ON CONFLICT (text) DO UPDATE SET last_used = GREATEST(touch_texts.last_used, EXCLUDED.last_used) RETURNING id, text`,
  lockUser: `SELECT pg_advisory_xact_lock(${LOCK_USER}, hashtext(@user))`,
  /** a decided conversion batch, written at once (postgres-schema.ts); @locks as lockUser names them */
  writeConversions: `SELECT sspx_write_conversions(${LOCK_USER}, @locks::text[], @checks::jsonb, @touches::jsonb, @conversions::jsonb,
                     @supersedes::jsonb, @fires::jsonb, '${CHANNEL}', @payload::text)`,
  notify: `SELECT pg_notify('${CHANNEL}', @payload)`,
  /** rows arrive summed and sorted, so concurrent upserts take their row locks in one order */
  countDiagnostics: `INSERT INTO diagnostics (day, site, kind, count)
                     SELECT * FROM unnest(@days::text[], @sites::text[], @kinds::text[], @counts::bigint[])
                     ON CONFLICT (day, site, kind) DO UPDATE SET count = diagnostics.count + EXCLUDED.count`,
  /** the fires' row locks order an attempt's number after any other writer's (a lease expiry, say); @ids sorted */
  lockFires: 'SELECT id FROM fires WHERE id = ANY(@ids::text[]) ORDER BY id FOR UPDATE',
  /** queue-sql.ts's markSending for several fires at once; answers the (1-based) positions marked */
  markAllSending: `UPDATE fires SET sending_at = m.now FROM unnest(@ids::text[], @owners::text[], @nows::bigint[]) WITH ORDINALITY AS m(id, owner, now, i)
                   WHERE fires.id = m.id AND fires.state = 'in_flight' AND fires.lease_owner = m.owner RETURNING m.i`,
  /** rows arrive summed and sorted (dailyCounts), so concurrent purges take their row locks in one order */
  countDaily: `INSERT INTO daily_counts (day, metric, key, count)
               SELECT * FROM unnest(@days::bigint[], @metrics::text[], @keys::text[], @counts::bigint[])
               ON CONFLICT (day, metric, key) DO UPDATE SET count = daily_counts.count + EXCLUDED.count`,

  lockMigrations: `SELECT pg_advisory_xact_lock(${LOCK_MIGRATE}, hashtext(@schema))`,
  migrationsTable: 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
  migrationsTableExists: `SELECT to_regclass('schema_migrations') IS NOT NULL AS exists`,
  appliedVersions: 'SELECT version FROM schema_migrations',
  latestVersion: 'SELECT MAX(version) AS v FROM schema_migrations',
  recordMigration: 'INSERT INTO schema_migrations (version, applied_at) VALUES (@version, @applied_at)',
};

/** an install: JSON columns as JSONB text */
const installRow = (i: Install) => ({ ...i, flags: jsonb(i.flags) });

/**
 * The newest touch of `kind` in [from, to] under any of the keys: per key the newest (then the latest recorded),
 * across keys the newest, the earlier key (visitor, token, device, touch id, install) winning a tie — as SQLite decides.
 */
function latestTouchQuery(keys: IdentityKeys, kind: TouchKind, from: number, to: number): { sql: string; args: Record<string, unknown> } | undefined {
  const args: Record<string, unknown> = { kind, from, to };
  const parts: string[] = [];
  const add = (column: string, list: string[]) => {
    for (const v of list) {
      const param = `k${parts.length}`;
      Object.assign(args, matchArgs(column, param, v));
      parts.push(`(${latestTouchSql(column, param, `, ${parts.length} AS ord`)})`);
    }
  };
  add('visitor_id', keys.visitor_ids);
  add('token', keys.tokens);
  add('device_id', keys.device_ids);
  add('id', keys.touch_ids);
  add('install_id', keys.install_ids);
  if (!parts.length) return undefined;
  return { sql: `SELECT * FROM (${parts.join(' UNION ALL ')}) AS newest ORDER BY occurred_at DESC, ord LIMIT 1`, args };
}

/** the shared statement that answers one lookup of a conversion batch (batch-tx.ts), and what its row brings along */
function lookupStatement(l: Lookup): { sql: string; args: Record<string, unknown>; brings?: 'fire' | 'touch' } {
  const any = Number.MIN_SAFE_INTEGER;
  switch (l.read) {
    case 'cid': return { sql: SQL.touchByCid, args: matchArgs('cid', 'cid', l.cid) };
    case 'touch': return { sql: SQL.touchById, args: matchArgs('id', 'id', l.id) };
    case 'latest': return { sql: latestTouchSql(l.column, 'key'), args: { ...matchArgs(l.column, 'key', l.value), kind: l.kind, from: any, to: l.to } };
    case 'dedup': return { sql: SQL.conversionByDedupKey, args: { dedup_key: l.key }, brings: 'fire' };
    case 'attributed': return { sql: SQL.lastAttributed, args: { pixel_id: l.pixel_id, user_key: l.user_key, since: any }, brings: 'fire' };
    case 'fire': return { sql: SQL.fireByConversion, args: { conversion_id: l.conversion_id } };
    case 'install': return { sql: SQL.installById, args: { install_id: l.install_id }, brings: 'touch' };
  }
}

const BRINGS = {
  fire: '(SELECT to_json(f) FROM fires f WHERE f.conversion_id = x.id)',
  // the install's touch through the click id's hash (touch-hashes.ts), as touchById finds it
  touch: `(SELECT to_json(t) FROM (SELECT ${touchSelect()} FROM touches WHERE ${touchByIdSql('', 'x.touch_id', postgresHash)}) t)`,
};

/**
 * Every lookup of a round in one statement: the lookups that share a statement (all the tokens' newest clicks, say) are
 * one LATERAL join of it over their parameters as arrays, so the server plans each statement once whatever the batch's
 * size; each row is tagged with its lookup's index and answered as JSON (numbers and booleans read back as the pooled
 * queries' rows do).
 */
function lookupsQuery(lookups: Lookup[]): { sql: string; args: Record<string, unknown>; brings: ('fire' | 'touch' | undefined)[] } {
  const groups = new Map<string, { brings?: 'fire' | 'touch'; names: string[]; rows: { i: number; args: Record<string, unknown> }[] }>();
  const brings: ('fire' | 'touch' | undefined)[] = [];
  lookups.forEach((l, i) => {
    const q = lookupStatement(l);
    brings.push(q.brings);
    let g = groups.get(q.sql);
    if (!g) groups.set(q.sql, (g = { brings: q.brings, names: Object.keys(q.args), rows: [] }));
    g.rows.push({ i, args: q.args });
  });
  const args: Record<string, unknown> = {};
  const parts = [...groups].map(([sql, g], n) => {
    const columns = ['i', ...g.names];
    const arrays = columns.map((name) => {
      const values = g.rows.map((r) => (name === 'i' ? r.i : r.args[name] ?? null));
      args[`${name}_${n}`] = values;
      const type = name === 'i' ? 'int' : values.some((v) => typeof v === 'number') ? 'bigint' : 'text';
      return `@${name}_${n}::${type}[]`;
    });
    const lateral = sql.replace(/@(\w+)/g, (_m, name: string) => `k."${name}"`);
    return `SELECT k.i, to_json(x) AS row, ${g.brings ? BRINGS[g.brings] : 'NULL::json'} AS brought
            FROM unnest(${arrays.join(', ')}) AS k(${columns.map((c) => `"${c}"`).join(', ')}) CROSS JOIN LATERAL (${lateral}) x`;
  });
  return { sql: parts.join('\nUNION ALL\n'), args, brings };
}

/** how many times a batch is read and written before it is decided in a transaction instead */
const BATCH_ATTEMPTS = 3;

/** the write failed on what the batch's read relied on (batch-tx.ts), changed by another process: read and decide again */
const batchConflict = (err: unknown) => [BATCH_CONFLICT, UNIQUE_VIOLATION, DEADLOCK].includes((err as { code?: string }).code ?? '');

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
  private readonly texts = new TextCache();

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

  /**
   * touches as their base table stores them: their texts by reference (touch-texts.ts), added first with `query`
   * (the texts added are listed in `added`, for the caller to remember once they are committed), and their hashes
   */
  private async touchRows(query: Query, touches: Touch[], added: [TextNeed, number][]): Promise<Row[]> {
    const ids = new Map<string, number>();
    const texts = touches.map(touchTexts);
    const needs = this.texts.needs(touches, texts, ids);
    if (needs.length) {
      const rows = (await query<{ id: number; text: string }>(SQL.addTexts, { texts: needs.map((n) => n.text), used: needs.map((n) => n.used) })).rows;
      for (const r of rows) ids.set(r.text, r.id);
      for (const n of needs) added.push([n, ids.get(n.text)!]);
    }
    return touches.map((t, i) => storedTouch(t, texts[i], this.texts.refs(texts[i], ids)));
  }

  private rememberTexts(added: [TextNeed, number][]): void {
    for (const [need, id] of added) this.texts.remember(need.text, id, need.used);
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
    const query: Query = (sql, args) => {
      if (done) return Promise.reject(new Error('the transaction has already finished'));
      const q = numbered(sql, args);
      return client.query(q.text, q.values);
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
    return (sql, args) => {
      const q = numbered(sql, args);
      return this.pool.query(q.text, q.values);
    };
  }

  private notify(query: Query) {
    return query(SQL.notify, { payload: `${this.schema ?? ''} ${this.instanceId}` });
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
      await query(SQL.lockMigrations, { schema: this.schema ?? '' });
      if (this.schema) await query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await query(SQL.migrationsTable);
      const done = new Set((await query<{ version: number }>(SQL.appliedVersions)).rows.map((r) => r.version));
      const applied: number[] = [];
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.version) || m.version > upTo) continue;
        await query(m.sql);
        await query(SQL.recordMigration, { version: m.version, applied_at: Date.now() });
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
    const queued = { fires: false, texts: [] as [TextNeed, number][] };
    const result = await this.inTransaction((query) => fn(this.tx(query, queued)));
    this.rememberTexts(queued.texts);
    if (queued.fires) this.emitFiresQueued();
    return result;
  }

  /**
   * Two round trips for the batch (batch-tx.ts): one read of what its decisions ask, one write of what they decided.
   * A read that depends on a row read (a click id's visitor, a repeat window's user) costs one round more; a write that
   * finds what the read relied on taken meanwhile by another process leaves nothing, and the batch is read and decided
   * again — after BATCH_ATTEMPTS, in a transaction, as SQLite decides it.
   */
  async decideBatch<I, O>(items: I[], decide: (tx: Tx, item: I) => Promise<O>): Promise<O[]> {
    // a conflict is another process's conversion committed since the read: read again, and it is seen
    for (let attempt = 0; attempt < BATCH_ATTEMPTS; attempt++) {
      const decided = await decideFromMemory(items, decide, (lookups) => this.readLookups(lookups));
      if (!decided) break;
      try {
        await this.writeConversions(decided.writes);
        if (decided.writes.fires.length) this.emitFiresQueued();
        return decided.results;
      } catch (err) {
        if (!batchConflict(err)) throw err;
      }
    }
    return decideInTransaction(this, items, decide);
  }

  private async readLookups(lookups: Lookup[]): Promise<LookupAnswer[]> {
    const { sql, args, brings } = lookupsQuery(lookups);
    // what a lookup's statement brings along (lookupStatement) is answered too, null when there is none
    const answer = (i: number, row: LookupAnswer['row'], brought: any): LookupAnswer => {
      const kind = brings[i];
      return kind ? { row, [kind]: brought } : { row };
    };
    const answers = lookups.map((_l, i) => answer(i, null, null));
    for (const r of (await this.query<{ i: number; row: any; brought: any }>(sql, args)).rows) answers[r.i] = answer(r.i, r.row, r.brought);
    return answers;
  }

  private async writeConversions(w: BatchWrites): Promise<void> {
    // the batch's new touches as their base table stores them; a text this process has not used yet is added first, by
    // a statement of its own committed whatever becomes of the batch, as insertTouches adds them
    const added: [TextNeed, number][] = [];
    const touches = w.touches.length ? await this.touchRows(this.query, w.touches, added) : [];
    this.rememberTexts(added);
    await this.query(SQL.writeConversions, {
      locks: w.locks,
      checks: JSON.stringify(w.checks),
      touches: jsonb(touches),
      conversions: jsonb(w.conversions),
      supersedes: JSON.stringify(w.supersedes),
      fires: jsonb(w.fires),
      payload: w.fires.length ? `${this.schema ?? ''} ${this.instanceId}` : null,
    });
  }

  private tx(query: Query, queued: { fires: boolean; texts: [TextNeed, number][] }): Tx {
    const one = async <R extends Row>(sql: string, args: Record<string, unknown>) => (await query<R>(sql, args)).rows[0] as R | undefined;
    return {
      latestTouch: async (keys, kind, from, to) => {
        const q = latestTouchQuery(keys, kind, from, to);
        const row = q && (await one<Row>(q.sql, q.args));
        if (!row) return undefined;
        const { ord: _ord, ...touch } = row;
        return touch as Touch;
      },
      touchByCid: (cid) => one<Touch>(SQL.touchByCid, matchArgs('cid', 'cid', cid)),
      touchById: (id) => one<Touch>(SQL.touchById, matchArgs('id', 'id', id)),
      insertTouch: async (touch) => {
        await query(SQL.insertTouch, (await this.touchRows(query, [touch], queued.texts))[0]);
      },
      insertInstallTouch: async (touch) => (await query(SQL.insertInstallTouch, (await this.touchRows(query, [touch], queued.texts))[0])).rowCount === 1,
      installTouchByToken: (install_id, token) => one<Touch>(SQL.installTouchByToken, { install_id, token }),
      conversionByDedupKey: (dedup_key) => one<Conversion>(SQL.conversionByDedupKey, { dedup_key }),
      lastAttributedConversion: (pixel_id, user_key, since) => one<Conversion>(SQL.lastAttributed, { pixel_id, user_key, since }),
      lockUser: async (pixel_id, user_key) => {
        // pixel_id is numeric, so the first ':' separates the pair unambiguously
        await query(SQL.lockUser, { user: `${pixel_id}:${user_key}` });
      },
      insertConversion: async (c) => (await query(SQL.insertConversion, { ...c })).rowCount === 1,
      supersedeUnattributed: async (pixel_id, order_id, by) => {
        await query(SQL.supersedeUnattributed, { pixel_id, order_id, by });
      },
      insertFire: async (fire) => {
        await query(SQL.insertFire, { ...fire });
        // delivered to the other processes at commit, dropped on rollback; one per transaction is enough
        if (!queued.fires) await this.notify(query);
        queued.fires = true;
      },
      fireByConversion: (conversion_id) => one<Fire>(SQL.fireByConversion, { conversion_id }),
      installById: (install_id) => one<Install>(SQL.installById, { install_id }),
      installByTouch: (touch_id) => one<Install>(SQL.installByTouch, { touch_id }),
      insertInstall: async (i) =>
        (await query(SQL.insertInstall, installRow(i))).rowCount === 1,
      bindInstall: async (i) => {
        // a unique violation would abort the whole transaction: the savepoint confines it to this statement
        await query('SAVEPOINT bind_install');
        try {
          const bound = (await query(SQL.bindInstall, installRow(i))).rowCount === 1;
          await query('RELEASE SAVEPOINT bind_install');
          return bound;
        } catch (err) {
          if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
          await query('ROLLBACK TO SAVEPOINT bind_install');
          return false;
        }
      },
      touchesByHint: async (hint_key, from, to, limit) => (await query<Touch>(SQL.touchesByHint, { hint_key, from, to, limit })).rows,
    };
  }

  async insertTouches(touches: Touch[]): Promise<void> {
    if (!touches.length) return;
    // the texts are committed by their own statement, whatever becomes of the touches
    const added: [TextNeed, number][] = [];
    const rows = await this.touchRows(this.query, touches, added);
    this.rememberTexts(added);
    await this.query(SQL.insertTouches, Object.fromEntries(TOUCH_STORED_COLUMNS.map((c) => [c, rows.map((r) => r[c] ?? null)])));
  }

  async touchByCid(cid: string): Promise<Touch | undefined> {
    return (await this.query<Touch>(SQL.touchByCid, matchArgs('cid', 'cid', cid))).rows[0];
  }

  async secret(name: string, fresh: string): Promise<string> {
    await this.query(SQL.keepSecret, { name, value: fresh, created_at: Date.now() });
    // a statement of its own, so it sees the row of a process that won the race
    return (await this.query<{ value: string }>(SQL.secret, { name })).rows[0].value;
  }

  async revokeSession(nonce: string, expires_at: number, now: number): Promise<void> {
    await this.query(SQL.forgetExpiredRevocations, { now });
    await this.query(SQL.revokeSession, { nonce, expires_at });
  }

  async sessionRevoked(nonce: string): Promise<boolean> {
    return (await this.query(SQL.sessionRevoked, { nonce })).rows.length > 0;
  }

  async clearHints(before: number): Promise<number> {
    return (await this.query(SQL.clearHints, { before })).rowCount ?? 0;
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
    await this.query(SQL.countDiagnostics, { days: sorted.map((r) => r.day), sites: sorted.map((r) => r.site), kinds: sorted.map((r) => r.kind), counts: sorted.map((r) => r.count) });
  }

  async diagnostics(fromDay: string, toDay: string) {
    return (await this.query<{ day: string; site: string; kind: string; count: number }>(SQL.diagnostics, { from: fromDay, to: toDay })).rows;
  }

  claimFires(owner: string, now: number, lease_ms: number, limit: number, on_ambiguous: OnAmbiguous = 'retry'): Promise<Fire[]> {
    return this.inTransaction(async (query) => {
      const ids = (await query<{ id: string }>(SQL.expiredLeases, { expired_by: now })).rows.map((r) => r.id);
      if (ids.length) {
        await query(SQL.leaseExpiredAttempts, { ids, now, on_ambiguous });
        await query(SQL.requeueExpired, { ids, now, on_ambiguous });
      }
      const claimed = (await query<Fire>(SQL.claim, { owner, now, expires: now + lease_ms, limit: Math.max(0, limit) })).rows;
      // RETURNING has no order: oldest due first, as they were chosen
      return claimed.sort((a, b) => (a.next_attempt_at ?? 0) - (b.next_attempt_at ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    });
  }

  /** attempts finishing together share one transaction (one commit): the dispatcher records hundreds a second */
  private readonly attempts = new Batcher<AttemptRecord, boolean>((records) =>
    this.inTransaction(async (query) => {
      // the fires' row locks, taken in one order, order each attempt's number after any other writer's (a lease expiry)
      await query(SQL.lockFires, { ids: [...new Set(records.map((r) => r.fire_id))].sort() });
      const recorded: boolean[] = [];
      for (const { fire_id, owner, attempt, next } of records) {
        await query(SQL.insertAttempt, {
          ...attempt, fire_id, owner, started_at: ms(attempt.started_at), hops: jsonb(attempt.hops), next_attempt_at: ms(attempt.next_attempt_at),
        });
        const finished = await query(SQL.finishAttempt, {
          id: fire_id, owner, state: next.state, next_attempt_at: ms(next.next_attempt_at), outcome: attempt.outcome,
          last_error: next.last_error, now: attemptEndedAt(attempt), dry_run: next.dry_run === true,
        });
        recorded.push(finished.rowCount === 1);
      }
      return recorded;
    }),
  );

  recordAttempt(fire_id: string, owner: string, attempt: NewAttempt, next: AttemptNext): Promise<boolean> {
    return this.attempts.add({ fire_id, owner, attempt, next });
  }

  /** sending marks made together: one statement (queue-sql.ts's markSending for each) */
  private readonly marks = new Batcher<{ id: string; owner: string; now: number }, boolean>(async (marks) => {
    const marked = new Set((await this.query<{ i: number }>(SQL.markAllSending, {
      ids: marks.map((m) => m.id), owners: marks.map((m) => m.owner), nows: marks.map((m) => m.now),
    })).rows.map((r) => r.i));
    return marks.map((_m, i) => marked.has(i + 1));
  });

  markSending(fire_id: string, owner: string, now: number): Promise<boolean> {
    return this.marks.add({ id: fire_id, owner, now });
  }

  /**
   * None: a lease here may be another live process's, and an owner id (host:pid:random) cannot prove that it was this
   * process's previous life (a container's pid and hostname repeat). Leases left by a crash wait for lease_seconds.
   */
  async takeBackOwnLeases(): Promise<number> {
    return 0;
  }

  async releaseFires(owner: string, now: number): Promise<number> {
    const released = await this.inTransaction(async (query) => {
      const n = (await query(SQL.release, { owner, now })).rowCount ?? 0;
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
      const row = (await query<Fire>(SQL.replay, { id, now })).rows[0];
      if (row) await this.notify(query);
      return row;
    });
    if (fire) this.emitFiresQueued();
    return fire;
  }

  async getFire(id: string): Promise<FireDetail | undefined> {
    const fire = (await this.query<Fire>(SQL.fireById, { id })).rows[0];
    if (!fire) return undefined;
    const [conversion, attempts, linked] = await Promise.all([
      this.query<Conversion>(SQL.conversionById, { id: fire.conversion_id }).then((r) => r.rows[0] ?? null),
      this.query<Attempt>(SQL.attemptsOf, { fire_id: id }).then((r) => r.rows),
      this.query<Conversion>(SQL.linkedConversions, { id: fire.conversion_id }).then((r) => r.rows),
    ]);
    const touch = conversion?.touch_id ? (await this.query<Touch>(SQL.touchById, matchArgs('id', 'id', conversion.touch_id))).rows[0] ?? null : null;
    return { ...fire, attempts, conversion, touch, linked };
  }

  async listFires(filter: FireFilter): Promise<Fire[]> {
    const cursor = filter.before ? (await this.query<Fire>(SQL.fireById, { id: filter.before })).rows[0] : undefined;
    const { sql, args } = listFiresSql(filter, cursor);
    return (await this.query<Fire>(sql, args)).rows;
  }

  async installDetail(install_id: string): Promise<InstallDetail | undefined> {
    const install = (await this.query<Install>(SQL.installById, { install_id })).rows[0];
    if (!install) return undefined;
    const args = { install_id, limit: INSTALL_DETAIL_LIMIT };
    const [touches, conversions] = await Promise.all([
      this.query<Touch>(SQL.installTouches, args).then((r) => r.rows.reverse()),
      this.query<Conversion>(SQL.installConversions, args).then((r) => r.rows.reverse()),
    ]);
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
    return (await this.query<ReconcileRow>(reconcileRowsSql(touchByIdSql('t.', 'c.touch_id', POSTGRES.hash)), { from, to })).rows;
  }

  async saveReport(report: SavedReport): Promise<void> {
    await this.inTransaction(async (query) => {
      for (const sql of SAVE_REPORT_SQL) {
        await query(sql, { source: report.source, from: report.from, to: report.to, saved_at: report.saved_at, rows: report.rows });
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

  // ---- Operators' numbers and retention (the dashboard, collector/retention.ts) ----

  async stats(from: number, to: number, bucket_ms: number): Promise<Stats> {
    const rows = (await this.query<{ metric: string; key: string | null; b: number; count: number }>(SQL.stats, { from, to, bucket: bucket_ms })).rows;
    return collectStats(from, to, bucket_ms, rows, await this.diagnostics(...statsDays(from, to)));
  }

  async queueStats(now: number): Promise<QueueStats> {
    return (await this.query<QueueStats>(SQL.queue, { now })).rows[0];
  }

  async purgeCounts(cutoffs: PurgeCutoffs): Promise<PurgeCounts> {
    return (await this.query<PurgeCounts>(SQL.counts, purgeArgs(cutoffs))).rows[0];
  }

  purgeBatch(step: PurgeStep, cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts> {
    const args = { ...purgeArgs(cutoffs), limit: Math.max(0, Math.floor(limit)) };
    return this.inTransaction(async (query) => {
      const done = noPurgeCounts();
      let rolled: DailyCount[] = [];
      if (step === 'fires') {
        const fires = (await query<{ id: string; created_at: number; state: string }>(SQL.deleteFires, args)).rows;
        const attempts = fires.length
          ? (await query<{ started_at: number; outcome: string; error_class: string | null }>(SQL.deleteAttemptsOf, { ids: fires.map((f) => f.id) })).rows
          : [];
        rolled = dailyCounts([...fires.map((f) => ({ metric: 'fires' as const, key: f.state, at: f.created_at })), ...attempts.flatMap(attemptMetrics)]);
        (done.fires = fires.length), (done.attempts = attempts.length);
      } else if (step === 'conversions') {
        const gone = (await query<{ created_at: number; outcome: string }>(SQL.deleteConversions, args)).rows;
        rolled = dailyCounts(gone.map((c) => ({ metric: 'conversions' as const, key: c.outcome, at: c.created_at })));
        done.conversions = gone.length;
      } else if (step === 'touches') {
        const gone = (await query<{ occurred_at: number; kind: string }>(SQL.deleteTouches, args)).rows;
        rolled = dailyCounts(gone.map((t) => ({ metric: 'touches' as const, key: t.kind, at: t.occurred_at })));
        done.touches = gone.length;
        if (gone.length < args.limit && (await query(SQL.sweepTexts, args)).rowCount) this.texts.forget();
      } else {
        done.transcripts = (await query(SQL.clearTranscripts, args)).rowCount ?? 0;
      }
      if (rolled.length) {
        await query(SQL.countDaily, { days: rolled.map((c) => c.day), metrics: rolled.map((c) => c.metric), keys: rolled.map((c) => c.key), counts: rolled.map((c) => c.count) });
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

/**
 * `@name` → `$n` (each name numbered once, in order of first use) and the values in that order: the store's SQL is
 * written with names, as SQLite binds them. Numbered once per text; the few texts built per call (a fires list
 * filter, a conversion's identity keys) are kept too, up to a bound.
 */
const numberedTexts = new Map<string, { text: string; names: string[] }>();
function numbered(sql: string, args: Record<string, unknown> = {}): { text: string; values?: unknown[] } {
  let n = numberedTexts.get(sql);
  if (!n) {
    const names: string[] = [];
    const text = sql.replace(/@(\w+)/g, (_m, name: string) => {
      let i = names.indexOf(name);
      if (i < 0) i = names.push(name) - 1;
      return `$${i + 1}`;
    });
    if (numberedTexts.size >= 500) numberedTexts.clear();
    numberedTexts.set(sql, (n = { text, names }));
  }
  if (!n.names.length) return { text: n.text };
  return {
    text: n.text,
    values: n.names.map((name) => {
      if (!(name in args)) throw new Error(`no value for @${name}`);
      return args[name] ?? null;
    }),
  };
}
