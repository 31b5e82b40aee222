// Guards schema upgrades on both stores: a database populated at every older schema version is migrated to the
// latest and keeps every row (touch, conversion, fire with its attempt, install), which the store then reads and
// works on as usual; an older build (whose latest migration is below the schema's) stays ready on a newer
// schema and migrates nothing; and `sspx-relay migrate` upgrades an old SQLite file and then reports it up to date.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS } from '../../collector/store/postgres-schema.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import { SQLITE_MIGRATIONS } from '../../collector/store/sqlite-schema.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { emptyKeys, type NewAttempt, type Store } from '../../collector/store/store.js';
import { touchHashes } from '../../collector/store/touch-hashes.js';
import { markKind } from '../support/kinds.js';
import { describePg, pgQuery } from '../support/pg.js';
import { CLI_PATH } from '../support/proc.js';
import { T0, attempt, conversion, fire, install, touch } from './rows.js';

interface Kind {
  versions: number[];
  /** a new, empty store */
  open(): Store;
  /** a row written as the older build wrote it: plain SQL (today's store prepares today's columns) */
  insertRow(store: Store, table: string, row: Record<string, unknown>): Promise<void>;
  /** marks the schema as migrated by a newer build than this one */
  addNewerVersion(store: Store, version: number): Promise<void>;
}

/** a row's columns and values, JSON columns as text */
const columns = (row: Record<string, unknown>) => {
  const entries = Object.entries(row).filter(([, v]) => v !== undefined);
  return { names: entries.map(([k]) => k), values: entries.map(([, v]) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v)) };
};

function migrationSuite(name: string, kind: () => Kind): void {
  describe(`migrations on ${name}`, () => {
    const opened: Store[] = [];
    afterAll(async () => {
      for (const s of opened) await s.close();
    });
    const open = () => {
      const s = kind().open();
      opened.push(s);
      return s;
    };
    const k = () => kind();

    const older = () => k().versions.slice(0, -1);
    it.each(older().length ? older() : [0])('upgrades a database populated at version %i to the latest, keeping every row', async (version) => {
      expect(version, 'there is an older schema version').toBeGreaterThan(0);
      const store = open();
      expect(await store.migrate(version)).toEqual(k().versions.filter((v) => v <= version));
      expect(await store.migrationsCurrent()).toBe(false);

      const t = touch({ occurred_at: T0, created_at: T0, visitor_id: 'v-before-upgrade' });
      const c = conversion({ touch_id: t.id, token: t.token });
      const f = fire({ conversion_id: c.id, token: t.token, state: 'fired', attempt_count: 1, fired_at: T0 + 5, updated_at: T0 + 5, last_outcome: 'fired' });
      const i = install({ touch_id: t.id });
      const a: NewAttempt = attempt({ started_at: T0 + 1, duration_ms: 4 });
      // before version 13 a touch's id was random, and its conversions and installs name it: they name the click
      // id's after the upgrade
      const before = version >= 13 ? t.id : 't_mintedAtRandom01';
      // install_id came with version 7, the lookup hashes with 12; from 13 a touch is written to its base table with
      // its texts, as the store writes it
      if (version >= 13) await store.insertTouches([t]);
      else await k().insertRow(store, 'touches', { ...t, id: before, install_id: undefined, ...(version >= 12 ? touchHashes(t) : {}) });
      await k().insertRow(store, 'conversions', { ...c, touch_id: before, warning: undefined, rule: undefined, superseded_by: undefined, test: undefined }); // columns of versions 6, 8 and 9
      await k().insertRow(store, 'fires', { ...f, dry_run: undefined, test: undefined, sending_at: undefined }); // dry_run came with version 4, test with 9, sending_at with 10
      await k().insertRow(store, 'installs', { ...i, touch_id: before } as unknown as Record<string, unknown>);
      await k().insertRow(store, 'attempts', { ...a, fire_id: f.id, n: 1, owner: 'old-build' });

      expect(await store.migrate()).toEqual(k().versions.filter((v) => v > version));
      expect(await store.migrationsCurrent()).toBe(true);
      const read = (await store.getFire(f.id))!;
      expect(read).toMatchObject({ ...f, dry_run: false, test: false, conversion: { ...c, warning: null, rule: null, superseded_by: null, test: false }, touch: t });
      expect(read.attempts).toEqual([expect.objectContaining({ ...a, n: 1, owner: 'old-build', fire_id: f.id })]);
      expect(await store.touchByCid(t.cid)).toEqual(t);
      // lookups by the hashes migrations 12 and 13 computed in SQL find the touch the store's own hashes would
      for (const keys of [{ tokens: [t.token] }, { visitor_ids: [t.visitor_id!] }, { touch_ids: [t.id] }]) {
        expect(await store.transaction((tx) => tx.latestTouch({ ...emptyKeys(), ...keys }, 'click', 0, T0))).toEqual(t);
      }
      expect(await store.transaction((tx) => tx.touchById(t.id))).toEqual(t);
      expect(await store.transaction((tx) => tx.installById(i.install_id))).toEqual(i);
      expect(await store.transaction((tx) => tx.installByTouch(t.id))).toEqual(i);
      expect((await store.installDetail(i.install_id))!.touches).toEqual([t]);

      // and the upgraded store works as usual: a new fire through a dry-run attempt
      const c2 = conversion({ touch_id: t.id, token: t.token });
      const f2 = fire({ conversion_id: c2.id, token: t.token, next_attempt_at: T0 });
      await store.transaction(async (tx) => {
        await tx.insertConversion(c2);
        await tx.insertFire(f2);
      });
      expect((await store.claimFires('new-build', T0, 60_000, 10)).map((x) => x.id)).toEqual([f2.id]);
      expect(await store.recordAttempt(f2.id, 'new-build', attempt({ started_at: T0 + 10 }), { state: 'fired', next_attempt_at: null, last_error: null, dry_run: true })).toBe(true);
      expect(await store.getFire(f2.id)).toMatchObject({ state: 'fired', dry_run: true });
    });

    it('version 8 frees the orders that unattributed conversions held, so their attributed conversion can fire', async () => {
      const store = open();
      await store.migrate(7);
      const held = conversion({ outcome: 'unattributed', order_id: 'A-7', dedup_key: 'o:59633:A-7' });
      const won = conversion({ order_id: 'A-8', dedup_key: 'o:59633:A-8', user_key: 'v:u8' });
      for (const c of [held, won]) await k().insertRow(store, 'conversions', { ...c, rule: undefined, superseded_by: undefined, test: undefined });
      await store.migrate();
      const attributed = conversion({ order_id: 'A-7', dedup_key: 'o:59633:A-7' });
      expect(await store.transaction((tx) => tx.insertConversion(attributed))).toBe(true);
      expect(await store.transaction((tx) => tx.conversionByDedupKey('o:59633:A-8'))).toEqual(won);
    });

    it('an older build stays ready on a newer schema and migrates nothing', async () => {
      const store = open();
      await store.migrate();
      const newer = k().versions.at(-1)! + 1;
      await k().addNewerVersion(store, newer);
      expect(await store.migrationsCurrent()).toBe(true);
      expect(await store.migrate()).toEqual([]);
    });
  });
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDb = () => {
  const dir = mkdtempSync(join(tmpdir(), 'sspx-migrations-'));
  dirs.push(dir);
  return join(dir, 'sspx.db');
};

migrationSuite('SQLite', () => ({
  versions: SQLITE_MIGRATIONS.map((m) => m.version),
  open: () => new SqliteStore(tempDb()),
  async insertRow(store, table, row) {
    const { names, values } = columns(row);
    (store as SqliteStore).db.prepare(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`).run(...values);
  },
  async addNewerVersion(store, version) {
    (store as SqliteStore).db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(version, Date.now());
  },
}));

describePg('PostgreSQL', (pg) => {
  const schemaOf = new WeakMap<Store, string>();
  migrationSuite('PostgreSQL', () => ({
    versions: POSTGRES_MIGRATIONS.map((m) => m.version),
    open() {
      const schema = pg.newSchema();
      const s = new PostgresStore(pg.url, { schema, poolSize: 2 });
      schemaOf.set(s, schema);
      return s;
    },
    async insertRow(store, table, row) {
      const { names, values } = columns(row);
      await pgQuery(pg.url, `INSERT INTO "${schemaOf.get(store)}".${table} (${names.join(', ')}) VALUES (${names.map((_, i) => `$${i + 1}`).join(', ')})`, values);
    },
    async addNewerVersion(store, version) {
      await pgQuery(pg.url, `INSERT INTO "${schemaOf.get(store)}".schema_migrations (version, applied_at) VALUES ($1, $2)`, [version, Date.now()]);
    },
  }));
});

describe('sspx-relay migrate', () => {
  it('upgrades an old SQLite file to the latest version, then says it is up to date', async () => {
    const path = tempDb();
    const old = new SqliteStore(path);
    await old.migrate(1);
    await old.close();
    const config = join(path, '..', 'sspx.config.json');
    writeFileSync(config, JSON.stringify({ store: `sqlite:${path}` }));
    markKind('child-process');
    const run = () => spawnSync(process.execPath, [CLI_PATH, 'migrate', '--config', config], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' } });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const later = SQLITE_MIGRATIONS.map((m) => m.version).filter((v) => v > 1);
    expect(first.stdout).toContain(`applied migrations ${later.join(', ')} to sqlite:${path}`);
    const second = run();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain(`sqlite:${path} is up to date`);
    const reopened = new SqliteStore(path);
    try {
      expect(await reopened.migrationsCurrent()).toBe(true);
    } finally {
      await reopened.close();
    }
  });
});
