// The embedded store: one SQLite file in WAL mode, every commit under synchronous=NORMAL (it survives a crash of the
// process). Conversions, attempts and sending marks are fsync'd too (an acknowledged conversion survives a power
// cut): their callers are answered once an fdatasync of the WAL file, run off the event loop, covers their commit
// (wal-sync.ts says why that is as durable as synchronous=FULL); touches are not (they survive a crash of the process).
// better-sqlite3 is synchronous and has one connection, so every write goes through one serial queue:
// a transaction is never interleaved with another caller's statements.
import Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Batcher } from '../batcher.js';
import { WalSync, type SyncFile } from './wal-sync.js';
import { SQLITE_HASH_FUNCTION, SQLITE_MIGRATIONS, sqliteHash } from './sqlite-schema.js';
import { lookupHash, matchArgs, touchByIdSql } from './touch-hashes.js';
import { storedTouch } from './schema.js';
import { TextCache, touchTexts, type TextNeed } from './touch-texts.js';
import type { SqlDialect } from './dialect.js';
import { INGEST_SQL, latestTouchSql } from './ingest-sql.js';
import { queueSql } from './queue-sql.js';
import { listFiresSql, operatorSql } from './operator-sql.js';
import { createPrivateFile } from './private-file.js';
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

type Row = Record<string, unknown>;

interface AttemptRecord {
  fire_id: string;
  owner: string;
  attempt: NewAttempt;
  next: AttemptNext;
}

/** SQLite has no booleans: dry_run and test come back 0 or 1, and are bound as 0 or 1 */
const fireOf = (row: unknown): Fire | undefined => (row ? { ...(row as Fire), dry_run: (row as Row).dry_run === 1, test: (row as Row).test === 1 } : undefined);
const conversionOf = (row: unknown): Conversion | undefined => (row ? { ...(row as Conversion), test: (row as Row).test === 1 } : undefined);
const bit = (v: boolean | undefined) => (v ? 1 : 0);

const json = (v: unknown) => (v == null ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : null);

function toTouch(r: Row | undefined): Touch | undefined {
  return r && ({ ...r, hints: parse(r.hints) } as Touch);
}
function toInstall(r: Row | undefined): Install | undefined {
  return r && ({ ...r, flags: parse(r.flags) } as Install);
}
function toAttempt(r: Row): Attempt {
  return { ...r, hops: parse(r.hops) } as Attempt;
}

/**
 * Where SQLite writes the shared SQL its own way: a bucket index is cast back to an integer (numbers bind as REAL);
 * no rows to skip (one writer); a lease expiry and a purge's attempts run once per fire.
 */
const SQLITE: SqlDialect = {
  bucket: (column) => `CAST((${column} - @from) / @bucket AS INTEGER)`, skipLocked: '', fireSet: (column) => `${column} = @id`,
  hash: sqliteHash, rowid: 'rowid', inRows: (subquery) => `rowid IN (${subquery})`,
};
const SHARED = { ...INGEST_SQL, ...queueSql(SQLITE), ...operatorSql(SQLITE) };

export interface SqliteStoreOptions {
  /** the fsync of the WAL file (wal-sync.ts): tests hold it to see what waits for it */
  syncWal?: SyncFile;
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  /** undefined when the file is not in WAL mode (`:memory:`): every commit is then synchronous=FULL itself */
  private readonly wal?: WalSync;
  private queue: Promise<unknown> = Promise.resolve();
  private events = new EventEmitter();
  private firesQueuedInTx = false;
  private prepared?: ReturnType<SqliteStore['prepareAll']>;
  private readonly texts = new TextCache();
  /** texts added in the open transaction: remembered at its commit, forgotten at its rollback */
  private textsInTx: [TextNeed, number][] = [];

  constructor(readonly path: string, options: SqliteStoreOptions = {}) {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true });
      // the file holds tokens and visitors' ids: created for its owner only (SQLite gives its -wal and -shm the same mode)
      if (!existsSync(path)) createPrivateFile(path);
    }
    this.db = new Database(path);
    if (this.db.pragma('journal_mode = WAL', { simple: true }) === 'wal') {
      this.db.pragma('synchronous = NORMAL');
      this.wal = new WalSync(`${path}-wal`, options.syncWal);
    } else this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.function(SQLITE_HASH_FUNCTION, { deterministic: true }, (text: unknown) => lookupHash(text as string | null));
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    this.events.setMaxListeners(0);
  }

  /** statements are prepared on first use, after migrations made the tables */
  private get sql() {
    return (this.prepared ??= this.prepareAll());
  }

  private prepareAll() {
    const db = this.db;
    const latest = (column: string) => db.prepare(latestTouchSql(column, 'key'));
    return {
      latestByVisitor: latest('visitor_id'),
      latestByToken: latest('token'),
      latestByDevice: latest('device_id'),
      latestById: latest('id'),
      latestByInstall: latest('install_id'),
      insertInstallTouch: db.prepare(SHARED.insertInstallTouch),
      installTouchByToken: db.prepare(SHARED.installTouchByToken),
      touchByCid: db.prepare(SHARED.touchByCid),
      touchById: db.prepare(SHARED.touchById),
      insertTouch: db.prepare(SHARED.insertTouch),
      /** SQLite's own: a touch text, added or marked used until @used; its id */
      addText: db.prepare(`INSERT INTO touch_texts (text, last_used) VALUES (@text, @used)
                           ON CONFLICT (text) DO UPDATE SET last_used = MAX(last_used, excluded.last_used) RETURNING id`),
      conversionByDedupKey: db.prepare(SHARED.conversionByDedupKey),
      conversionById: db.prepare(SHARED.conversionById),
      linkedConversions: db.prepare(SHARED.linkedConversions),
      supersedeUnattributed: db.prepare(SHARED.supersedeUnattributed),
      lastAttributed: db.prepare(SHARED.lastAttributed),
      insertConversion: db.prepare(SHARED.insertConversion),
      insertFire: db.prepare(SHARED.insertFire),
      fireByConversion: db.prepare(SHARED.fireByConversion),
      fireById: db.prepare(SHARED.fireById),
      installById: db.prepare(SHARED.installById),
      installByTouch: db.prepare(SHARED.installByTouch),
      insertInstall: db.prepare(SHARED.insertInstall),
      bindInstall: db.prepare(SHARED.bindInstall),
      touchesByHint: db.prepare(SHARED.touchesByHint),
      keepSecret: db.prepare(SHARED.keepSecret),
      secret: db.prepare(SHARED.secret),
      revokeSession: db.prepare(SHARED.revokeSession),
      forgetExpiredRevocations: db.prepare(SHARED.forgetExpiredRevocations),
      sessionRevoked: db.prepare(SHARED.sessionRevoked),
      /** SQLite's own: one row at a time, in the caller's transaction */
      countDiagnostic: db.prepare(`INSERT INTO diagnostics (day, site, kind, count) VALUES (@day, @site, @kind, @count)
                                   ON CONFLICT (day, site, kind) DO UPDATE SET count = count + excluded.count`),
      diagnostics: db.prepare(SHARED.diagnostics),
      expiredLeases: db.prepare(SHARED.expiredLeases),
      leaseExpiredAttempt: db.prepare(SHARED.leaseExpiredAttempts),
      insertAttempt: db.prepare(SHARED.insertAttempt),
      requeueExpired: db.prepare(SHARED.requeueExpired),
      claim: db.prepare(SHARED.claim),
      markSending: db.prepare(SHARED.markSending),
      finishAttempt: db.prepare(SHARED.finishAttempt),
      release: db.prepare(SHARED.release),
      nextDue: db.prepare(SHARED.nextDue),
      replay: db.prepare(SHARED.replay),
      attemptsOf: db.prepare(SHARED.attemptsOf),
      countFires: db.prepare(SHARED.countFires),
      installTouches: db.prepare(SHARED.installTouches),
      installConversions: db.prepare(SHARED.installConversions),
    };
  }

  /** runs fn after every earlier caller's work has finished */
  private serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * A touch's insert parameters (its texts by reference, its lookup hashes), the texts it names
   * added first; inside a transaction, whose commit remembers them (rememberTexts)
   */
  private touchParams(touches: Touch[]): Record<string, unknown>[] {
    const added = new Map<string, number>();
    const texts = touches.map(touchTexts);
    for (const need of this.texts.needs(touches, texts, added)) {
      const id = (this.sql.addText.get(need) as { id: number }).id;
      added.set(need.text, id);
      this.textsInTx.push([need, id]);
    }
    return touches.map((t, i) => storedTouch(t, texts[i], this.texts.refs(texts[i], added)));
  }

  /** after a commit: the texts it added are known; after a rollback they may not exist */
  private rememberTexts(committed: boolean): void {
    if (committed) for (const [need, id] of this.textsInTx) this.texts.remember(need.text, id, need.used);
    this.textsInTx = [];
  }

  /**
   * A write that must survive a power cut: fn commits in the serial queue, and the promise resolves once the WAL's
   * fdatasync that began after that commit has ended. It begins when fn calls `committed` (right after its COMMIT),
   * else when fn returns. The queue does not wait for it: the next writer commits while the fdatasync runs, and
   * shares the next one. A write without it (touches, diagnostics, claims) survives a crash of the process, and only
   * a power cut may roll back its last moments.
   */
  private durable<T>(fn: (committed: () => void) => T | Promise<T>): Promise<T> {
    let synced: Promise<void> | undefined;
    const committed = () => void (synced ??= this.wal?.sync());
    return this.serial(async () => {
      const value = await fn(committed);
      committed();
      return value;
    }).then(async (value) => {
      await synced;
      return value;
    });
  }

  private afterCommit(): void {
    this.rememberTexts(true);
    if (this.firesQueuedInTx) {
      this.firesQueuedInTx = false;
      this.notifyFires();
    }
  }

  /** a listener's failure must not turn a committed write into a rejected promise */
  private notifyFires(): void {
    for (const listener of this.events.listeners('fires') as (() => void)[]) {
      try {
        listener();
      } catch (err) {
        process.emitWarning(`sspx: a fires-queued listener threw: ${(err as Error).message}`);
      }
    }
  }

  async migrate(upTo = Infinity): Promise<number[]> {
    return this.durable(() => {
      const done = new Set((this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version));
      const applied: number[] = [];
      for (const m of SQLITE_MIGRATIONS) {
        if (done.has(m.version) || m.version > upTo) continue;
        this.db.transaction(() => {
          this.db.exec(m.sql);
          this.db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
        })();
        applied.push(m.version);
      }
      return applied;
    });
  }

  async migrationsCurrent(): Promise<boolean> {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    // at least this build's latest: during a rolling deploy an older build stays ready on a newer schema
    return (row.v ?? 0) >= SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1].version;
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.marks.drain();
    await this.attempts.drain();
    await this.serial(() => undefined);
    await this.wal?.idle();
    if (this.db.open) this.db.close();
    await this.wal?.close();
  }

  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.durable(async (committed) => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.tx);
        this.db.exec('COMMIT');
        // the fdatasync begins before the dispatcher hears of the fires: it runs while they are claimed
        committed();
        this.afterCommit();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.firesQueuedInTx = false;
        this.rememberTexts(false);
        throw err;
      }
    });
  }

  private readonly tx: Tx = {
    latestTouch: async (keys: IdentityKeys, kind: TouchKind, from: number, to: number) => {
      let best: Row | undefined;
      const consider = (stmt: Database.Statement, values: string[], column: string) => {
        for (const v of values) {
          const r = stmt.get({ ...matchArgs(column, 'key', v), kind, from, to }) as Row | undefined;
          if (r && (!best || (r.occurred_at as number) > (best.occurred_at as number))) best = r;
        }
      };
      consider(this.sql.latestByVisitor, keys.visitor_ids, 'visitor_id');
      consider(this.sql.latestByToken, keys.tokens, 'token');
      consider(this.sql.latestByDevice, keys.device_ids, 'device_id');
      consider(this.sql.latestById, keys.touch_ids, 'id');
      consider(this.sql.latestByInstall, keys.install_ids, 'install_id');
      return toTouch(best);
    },
    touchByCid: async (cid) => toTouch(this.sql.touchByCid.get(matchArgs('cid', 'cid', cid)) as Row | undefined),
    touchById: async (id) => toTouch(this.sql.touchById.get(matchArgs('id', 'id', id)) as Row | undefined),
    insertTouch: async (touch) => {
      this.sql.insertTouch.run(this.touchParams([touch])[0]);
    },
    insertInstallTouch: async (touch) => this.sql.insertInstallTouch.run(this.touchParams([touch])[0]).changes === 1,
    installTouchByToken: async (install_id, token) => toTouch(this.sql.installTouchByToken.get({ install_id, token }) as Row | undefined),
    conversionByDedupKey: async (dedup_key) => conversionOf(this.sql.conversionByDedupKey.get({ dedup_key })),
    lastAttributedConversion: async (pixel_id, user_key, since) =>
      conversionOf(this.sql.lastAttributed.get({ pixel_id, user_key, since })),
    lockUser: async () => undefined,
    insertConversion: async (c) => this.sql.insertConversion.run({ ...c, test: bit(c.test) }).changes === 1,
    supersedeUnattributed: async (pixel_id, order_id, by) => {
      this.sql.supersedeUnattributed.run({ pixel_id, order_id, by });
    },
    insertFire: async (fire) => {
      this.sql.insertFire.run({ ...fire, test: bit(fire.test) });
      this.firesQueuedInTx = true;
    },
    fireByConversion: async (conversion_id) => fireOf(this.sql.fireByConversion.get({ conversion_id })),
    installById: async (install_id) => toInstall(this.sql.installById.get({ install_id }) as Row | undefined),
    installByTouch: async (touch_id) => toInstall(this.sql.installByTouch.get({ touch_id }) as Row | undefined),
    insertInstall: async (i) => this.sql.insertInstall.run({ ...i, flags: json(i.flags) }).changes === 1,
    bindInstall: async (i) => this.sql.bindInstall.run({ ...i, flags: json(i.flags) }).changes === 1,
    touchesByHint: async (hint_key, from, to, limit) =>
      (this.sql.touchesByHint.all({ hint_key, from, to, limit }) as Row[]).map((r) => toTouch(r)!),
  };

  /** one transaction of the one writer: its reads cost no round trip */
  decideBatch<I, O>(items: I[], decide: (tx: Tx, item: I) => Promise<O>): Promise<O[]> {
    return decideInTransaction(this, items, decide);
  }

  insertTouches(touches: Touch[]): Promise<void> {
    return this.serial(() => {
      try {
        this.db.transaction(() => {
          for (const params of this.touchParams(touches)) this.sql.insertTouch.run(params);
        })();
      } catch (err) {
        this.rememberTexts(false);
        throw err;
      }
      this.rememberTexts(true);
    });
  }

  async touchByCid(cid: string): Promise<Touch | undefined> {
    return toTouch(this.sql.touchByCid.get(matchArgs('cid', 'cid', cid)) as Row | undefined);
  }

  secret(name: string, fresh: string): Promise<string> {
    return this.durable(() => {
      this.sql.keepSecret.run({ name, value: fresh, created_at: Date.now() });
      return (this.sql.secret.get({ name }) as { value: string }).value;
    });
  }

  revokeSession(nonce: string, expires_at: number, now: number): Promise<void> {
    return this.durable(() =>
      this.db.transaction(() => {
        this.sql.forgetExpiredRevocations.run({ now });
        this.sql.revokeSession.run({ nonce, expires_at });
      })(),
    );
  }

  async sessionRevoked(nonce: string): Promise<boolean> {
    return this.sql.sessionRevoked.get({ nonce }) !== undefined;
  }

  clearHints(before: number): Promise<number> {
    return this.durable(() => this.rsql.clearHints.run({ before }).changes);
  }

  countDiagnostics(rows: { day: string; site: string; kind: string; count: number }[]): Promise<void> {
    return this.serial(() =>
      this.db.transaction(() => {
        for (const r of rows) this.sql.countDiagnostic.run({ day: r.day, site: r.site, kind: r.kind, count: r.count });
      })(),
    );
  }

  async diagnostics(fromDay: string, toDay: string) {
    return this.sql.diagnostics.all({ from: fromDay, to: toDay }) as { day: string; site: string; kind: string; count: number }[];
  }

  /**
   * Not fsync'd: a lease lost to a power cut is lost with the process that held it, and a fire's request leaves only
   * after its sending mark's fdatasync, which covers the claim (and the lease expiries it settled) before it.
   */
  claimFires(owner: string, now: number, lease_ms: number, limit: number, on_ambiguous: OnAmbiguous = 'retry'): Promise<Fire[]> {
    return this.serial(() =>
      this.db.transaction(() => {
        this.takeBack(now, now, on_ambiguous);
        return this.sql.claim.all({ owner, now, expires: now + lease_ms, limit }).map((r) => fireOf(r)!);
      })(),
    );
  }

  /** one process per file: every fire in flight at start was left by this process's previous life, dead now */
  takeBackOwnLeases(now: number, on_ambiguous: OnAmbiguous): Promise<number> {
    return this.durable(() => {
      const n = this.db.transaction(() => this.takeBack(now, Number.MAX_SAFE_INTEGER, on_ambiguous))();
      if (n) this.notifyFires();
      return n;
    });
  }

  /** in-flight fires whose lease ran out by expired_by, settled on their sending mark (queue-sql.ts); in a transaction */
  private takeBack(now: number, expired_by: number, on_ambiguous: OnAmbiguous): number {
    const ids = (this.sql.expiredLeases.all({ expired_by }) as { id: string }[]).map((r) => r.id);
    for (const id of ids) {
      this.sql.leaseExpiredAttempt.run({ id, now, on_ambiguous });
      this.sql.requeueExpired.run({ id, now, on_ambiguous });
    }
    return ids.length;
  }

  /** marks starting in the same tick share one transaction, fsync'd like the attempts: the request leaves after it */
  private readonly marks = new Batcher<{ id: string; owner: string; now: number }, boolean>((marks) =>
    this.durable(() => this.db.transaction(() => marks.map((m) => this.sql.markSending.run(m).changes === 1))()),
  );

  markSending(fire_id: string, owner: string, now: number): Promise<boolean> {
    return this.marks.add({ id: fire_id, owner, now });
  }

  /** attempts finishing in the same tick share one transaction (one fsync): the dispatcher records hundreds a second */
  private readonly attempts = new Batcher<AttemptRecord, boolean>((records) =>
    this.durable(() => this.db.transaction(() => records.map((r) => this.writeAttempt(r)))()),
  );

  recordAttempt(fire_id: string, owner: string, attempt: NewAttempt, next: AttemptRecord['next']): Promise<boolean> {
    return this.attempts.add({ fire_id, owner, attempt, next });
  }

  private writeAttempt({ fire_id, owner, attempt, next }: AttemptRecord): boolean {
    this.sql.insertAttempt.run({ ...attempt, fire_id, owner, hops: json(attempt.hops) });
    return this.sql.finishAttempt.run({
      id: fire_id, owner, state: next.state, next_attempt_at: next.next_attempt_at, outcome: attempt.outcome,
      last_error: next.last_error, now: attemptEndedAt(attempt), dry_run: next.dry_run ? 1 : 0,
    }).changes === 1;
  }

  releaseFires(owner: string, now: number): Promise<number> {
    return this.durable(() => {
      const changed = this.sql.release.run({ owner, now }).changes;
      if (changed) this.notifyFires();
      return changed;
    });
  }

  async nextDueAt(): Promise<number | null> {
    return (this.sql.nextDue.get() as { at: number | null }).at;
  }

  replayFire(id: string, now: number): Promise<Fire | undefined> {
    return this.durable(() => {
      const fire = fireOf(this.sql.replay.get({ id, now }));
      if (fire) this.notifyFires();
      return fire;
    });
  }

  async getFire(id: string): Promise<FireDetail | undefined> {
    const fire = fireOf(this.sql.fireById.get({ id }));
    if (!fire) return undefined;
    const conversion = conversionOf(this.sql.conversionById.get({ id: fire.conversion_id })) ?? null;
    const touch = conversion?.touch_id ? toTouch(this.sql.touchById.get(matchArgs('id', 'id', conversion.touch_id)) as Row | undefined) ?? null : null;
    const attempts = (this.sql.attemptsOf.all({ fire_id: id }) as Row[]).map(toAttempt);
    const linked = (this.sql.linkedConversions.all({ id: fire.conversion_id }) as Row[]).map((row) => conversionOf(row)!);
    return { ...fire, attempts, conversion, touch, linked };
  }

  async listFires(filter: FireFilter): Promise<Fire[]> {
    const cursor = filter.before ? (this.sql.fireById.get({ id: filter.before }) as Fire | undefined) : undefined;
    const { sql, args } = listFiresSql(filter, cursor);
    return this.db.prepare(sql).all(args).map((r) => fireOf(r)!);
  }

  async installDetail(install_id: string): Promise<InstallDetail | undefined> {
    const install = toInstall(this.sql.installById.get({ install_id }) as Row | undefined);
    if (!install) return undefined;
    const args = { install_id, limit: INSTALL_DETAIL_LIMIT };
    const touches = (this.sql.installTouches.all(args) as Row[]).map((r) => toTouch(r)!).reverse();
    const conversions = this.sql.installConversions.all(args).map((r) => conversionOf(r)!).reverse();
    return { install, touches, conversions };
  }

  async countFires(): Promise<Record<FireState, number>> {
    const counts: Record<FireState, number> = { queued: 0, in_flight: 0, fired: 0, failed: 0, held: 0 };
    for (const r of this.sql.countFires.all() as { state: FireState; n: number }[]) counts[r.state] = r.n;
    return counts;
  }

  onFiresQueued(listener: () => void): () => void {
    this.events.on('fires', listener);
    return () => this.events.off('fires', listener);
  }

  // ---- Operators' numbers and retention (the dashboard, collector/retention.ts) ----

  private retentionStatements?: ReturnType<typeof prepareRetention>;
  private get rsql() {
    return (this.retentionStatements ??= prepareRetention(this.db));
  }

  async stats(from: number, to: number, bucket_ms: number): Promise<Stats> {
    const rows = this.rsql.stats.all({ from, to, bucket: bucket_ms }) as { metric: string; key: string | null; b: number; count: number }[];
    return collectStats(from, to, bucket_ms, rows, await this.diagnostics(...statsDays(from, to)));
  }

  async queueStats(now: number): Promise<QueueStats> {
    return this.rsql.queue.get({ now }) as QueueStats;
  }

  async purgeCounts(cutoffs: PurgeCutoffs): Promise<PurgeCounts> {
    return this.rsql.counts.get(purgeArgs(cutoffs)) as PurgeCounts;
  }

  purgeBatch(step: PurgeStep, cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts> {
    const args = { ...purgeArgs(cutoffs), limit: Math.max(0, Math.floor(limit)) };
    const r = this.rsql;
    return this.durable(() =>
      this.db.transaction(() => {
        const done = noPurgeCounts();
        let rolled: DailyCount[] = [];
        if (step === 'fires') {
          const fires = r.deleteFires.all(args) as { id: string; created_at: number; state: string }[];
          const attempts = fires.flatMap((f) => r.deleteAttemptsOf.all({ id: f.id }) as { started_at: number; outcome: string; error_class: string | null }[]);
          rolled = dailyCounts([...fires.map((f) => ({ metric: 'fires' as const, key: f.state, at: f.created_at })), ...attempts.flatMap(attemptMetrics)]);
          (done.fires = fires.length), (done.attempts = attempts.length);
        } else if (step === 'conversions') {
          const gone = r.deleteConversions.all(args) as { created_at: number; outcome: string }[];
          rolled = dailyCounts(gone.map((c) => ({ metric: 'conversions' as const, key: c.outcome, at: c.created_at })));
          done.conversions = gone.length;
        } else if (step === 'touches') {
          const gone = r.deleteTouches.all(args) as { occurred_at: number; kind: string }[];
          rolled = dailyCounts(gone.map((t) => ({ metric: 'touches' as const, key: t.kind, at: t.occurred_at })));
          done.touches = gone.length;
          if (gone.length < args.limit && r.sweepTexts.run(args).changes) this.texts.forget();
        } else {
          done.transcripts = r.clearTranscripts.run(args).changes;
        }
        for (const c of rolled) r.countDaily.run(c);
        return done;
      })(),
    );
  }

  // ---- Reconciliation with Microsoft's report (collector/reconcile/) ----

  async reconcileRows(from: number, to: number): Promise<ReconcileRow[]> {
    return this.db.prepare(reconcileRowsSql(touchByIdSql('t.', 'c.touch_id', SQLITE.hash))).all({ from, to }) as ReconcileRow[];
  }

  saveReport(report: SavedReport): Promise<void> {
    const [clear, insert] = SAVE_REPORT_SQL.map((sql) => this.db.prepare(sql));
    return this.durable(() =>
      this.db.transaction(() => {
        clear.run();
        insert.run({ source: report.source, from: report.from, to: report.to, saved_at: report.saved_at, rows: report.rows });
      })(),
    );
  }

  async lastReport(): Promise<SavedReport | undefined> {
    return this.db.prepare(LAST_REPORT_SQL).get() as SavedReport | undefined;
  }
}

function prepareRetention(db: Database.Database) {
  const shared = { ...retentionSql(SQLITE), stats: SHARED.stats, queue: SHARED.queue };
  return {
    ...(Object.fromEntries(Object.entries(shared).map(([k, sql]) => [k, db.prepare(sql)])) as Record<keyof typeof shared, Database.Statement>),
    /** SQLite's own: one row at a time, in the purge's transaction */
    countDaily: db.prepare(`INSERT INTO daily_counts (day, metric, key, count) VALUES (@day, @metric, @key, @count)
                            ON CONFLICT (day, metric, key) DO UPDATE SET count = count + excluded.count`),
  };
}
