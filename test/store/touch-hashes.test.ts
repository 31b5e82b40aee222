// Guards the hashed lookups of touches (migrations 12 and 13, collector/store/touch-hashes.ts) on both stores: a touch
// is found by its token, visitor, click id and id through a hash, and the real value is compared too, so a touch whose
// hashes equal another value's (a collision, forced here) is never taken for that value's touch; and the hash SQL
// computes (for the migration's backfill) is the one the store binds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresHash } from '../../collector/store/postgres-schema.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import { sqliteHash } from '../../collector/store/sqlite-schema.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { emptyKeys, type Store, type Touch } from '../../collector/store/store.js';
import { lookupHash, touchHashes } from '../../collector/store/touch-hashes.js';
import { TOUCH_TABLE } from '../../collector/store/touch-texts.js';
import { describePg, pgQuery } from '../support/pg.js';
import { T0, touch } from './rows.js';

interface Site {
  store: Store;
  /** runs SQL on the store's tables with positional parameters ($1, …) */
  sql(text: string, values: unknown[]): Promise<Record<string, unknown>[]>;
  /** the dialect's hash expression of a text column */
  hash: (column: string) => string;
}

function suite(name: string, open: () => Site) {
  describe(name, () => {
    const sites: Site[] = [];
    afterAll(async () => {
      for (const s of sites) await s.store.close();
    });
    const fresh = async () => {
      const site = open();
      sites.push(site);
      await site.store.migrate();
      return site;
    };
    const latest = (store: Store, keys: Partial<ReturnType<typeof emptyKeys>>) =>
      store.transaction((tx) => tx.latestTouch({ ...emptyKeys(), ...keys }, 'click', 0, Number.MAX_SAFE_INTEGER));

    it('a touch carrying another value\'s hashes is not found by that value', async () => {
      const { store, sql } = await fresh();
      const own = touch({ token: 'ams1own.', visitor_id: 'visitor-own', cid: 'cid-own-0123456789abcd', occurred_at: T0 });
      // newer, so it would win any lookup it matched
      const impostor = touch({ token: 'ams1other.', visitor_id: 'visitor-other', cid: 'cid-other-0123456789ab', occurred_at: T0 + 1000 });
      await store.insertTouches([own, impostor]);
      const hashes = touchHashes(own);
      await sql(`UPDATE ${TOUCH_TABLE} SET token_hash = $1, visitor_hash = $2, cid_hash = $3 WHERE cid = $4`, [hashes.token_hash, hashes.visitor_hash, hashes.cid_hash, impostor.cid]);

      expect(await latest(store, { tokens: [own.token] })).toEqual(own);
      expect(await latest(store, { visitor_ids: [own.visitor_id!] })).toEqual(own);
      expect(await store.touchByCid(own.cid)).toEqual(own);
      expect(await store.transaction((tx) => tx.touchByCid(own.cid))).toEqual(own);
      expect(await store.transaction((tx) => tx.touchById(own.id))).toEqual(own);
      expect(await latest(store, { touch_ids: [own.id] })).toEqual(own);
      // the impostor's own values no longer lead to it: lookups go through the hash
      expect(await latest(store, { tokens: [impostor.token] })).toBeUndefined();
      expect(await store.touchByCid(impostor.cid)).toBeUndefined();
      expect(await store.transaction((tx) => tx.touchById(impostor.id))).toBeUndefined();
    });

    it('the hash SQL computes is the one the store binds, for any text', async () => {
      const { sql, hash } = await fresh();
      for (const text of ['ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.', 'é€😀', 'a+b/c=.', '']) {
        const [row] = await sql(`SELECT ${hash('CAST($1 AS TEXT)')} AS h`, [text]);
        expect(Number(row.h), text).toBe(lookupHash(text));
      }
    });

    it('touches read back carry no hash columns', async () => {
      const { store } = await fresh();
      const t: Touch = touch({ visitor_id: 'v-read' });
      await store.insertTouches([t]);
      expect(Object.keys((await store.touchByCid(t.cid))!).sort()).toEqual(Object.keys(t).sort());
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'sspx-hashes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
suite('SQLite', () => {
  const store = new SqliteStore(join(dir, `${++n}.db`));
  return {
    store,
    sql: async (text, values) => {
      const stmt = store.db.prepare(text.replace(/\$\d+/g, '?'));
      return stmt.reader ? (stmt.all(...values) as Record<string, unknown>[]) : (stmt.run(...values), []);
    },
    hash: sqliteHash,
  };
});
describePg('PostgreSQL', (pg) =>
  suite('PostgreSQL', () => {
    const schema = pg.newSchema();
    return {
      store: new PostgresStore(pg.url, { schema, poolSize: 2 }),
      sql: (text, values) => pgQuery(pg.url, text.replace(/\b(touches|touch_rows)\b/, `"${schema}".$1`), values),
      hash: postgresHash,
    };
  }),
);
