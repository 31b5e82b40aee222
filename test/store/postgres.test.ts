// Guards the PostgreSQL store: the shared store contract, then what only a store shared by several processes
// needs — migrating once when processes start together, claims that never overlap across processes, and the
// NOTIFY that wakes every process's dispatcher, also after its listening connection was cut.
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import { openStore } from '../../collector/store/open.js';
import { describePg, pgQuery } from '../support/pg.js';
import { T0, fire } from './rows.js';
import { storeSuite } from './store.suite.js';

const until = async (cond: () => boolean | Promise<boolean>, ms = 5_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describePg('PostgresStore', (pg) => {
  storeSuite('postgres', () => {
    const schema = pg.newSchema();
    return { open: () => new PostgresStore(pg.url, { schema, poolSize: 8 }) };
  });

  describe('shared by several processes', () => {
    const stores: PostgresStore[] = [];
    /** `count` stores on one schema, as separate processes would have */
    const processes = (count: number, schema = pg.newSchema()) => {
      const made = Array.from({ length: count }, () => new PostgresStore(pg.url, { schema, poolSize: 4 }));
      stores.push(...made);
      return made;
    };
    afterEach(async () => {
      for (const s of stores.splice(0)) await s.close();
    });

    it('migrates once when processes start together', async () => {
      const ps = processes(5);
      const applied = await Promise.all(ps.map((s) => s.migrate()));
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
      for (const s of ps) expect(await s.migrationsCurrent()).toBe(true);
    });

    it('refuses a schema name it would have to quote', () => {
      expect(() => new PostgresStore(pg.url, { schema: 'x"; DROP TABLE fires; --' })).toThrow(/schema/);
    });

    it('never hands one fire to two processes', async () => {
      const [a, b, c] = processes(3);
      await a.migrate();
      const fires = Array.from({ length: 90 }, (_, i) => fire({ next_attempt_at: T0 - i }));
      await a.transaction(async (tx) => {
        for (const f of fires) await tx.insertFire(f);
      });
      const claims = await Promise.all(
        [a, b, c].flatMap((s, p) => Array.from({ length: 4 }, (_, i) => s.claimFires(`p${p}-d${i}`, T0, 30_000, 10))),
      );
      const ids = claims.flat().map((f) => f.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toHaveLength(90);
    });

    it('expires each lease once however many processes claim', async () => {
      const [a, b] = processes(2);
      await a.migrate();
      const fires = Array.from({ length: 20 }, () => fire());
      await a.transaction(async (tx) => {
        for (const f of fires) await tx.insertFire(f);
      });
      await a.claimFires('gone', T0, 1_000, 100);
      await Promise.all([a, b, a, b].map((s, i) => s.claimFires(`d${i}`, T0 + 5_000, 1_000, 5)));
      for (const f of fires) {
        const detail = (await b.getFire(f.id))!;
        expect(detail.attempts.map((x) => x.outcome)).toEqual(['lease_expired']);
        expect(detail.attempt_count).toBe(1);
      }
    });

    it('wakes the other processes at commit, and this one once', async () => {
      const [a, b] = processes(2);
      const [elsewhere] = processes(1);
      await Promise.all([a.migrate(), elsewhere.migrate()]);
      let aCalls = 0;
      let bCalls = 0;
      a.onFiresQueued(() => aCalls++);
      b.onFiresQueued(() => bCalls++);
      await Promise.all([a.whenListening(), b.whenListening()]);

      await a.transaction((tx) => tx.insertFire(fire()));
      await until(() => bCalls === 1);
      expect(aCalls).toBe(1);

      // a fire queued in another schema wakes nobody here; a rollback wakes nobody at all
      await elsewhere.transaction((tx) => tx.insertFire(fire()));
      await expect(a.transaction(async (tx) => {
        await tx.insertFire(fire());
        throw new Error('abort');
      })).rejects.toThrow('abort');
      await new Promise((r) => setTimeout(r, 200));
      expect([aCalls, bCalls]).toEqual([1, 1]);
    });

    it('listens again after its connection is cut', async () => {
      const [a, b] = processes(2);
      await a.migrate();
      let bCalls = 0;
      b.onFiresQueued(() => bCalls++);
      await b.whenListening();
      const listener = `sspx-relay listen ${b.instanceId}`;
      const killed = await pgQuery(pg.url, 'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [listener]);
      expect(killed).toEqual([{ ok: true }]);

      // back: it reports the wake-ups it may have missed, then hears new ones
      await until(() => bCalls === 1);
      await b.whenListening();
      await a.transaction((tx) => tx.insertFire(fire()));
      await until(() => bCalls === 2);
    });

    it('is what openStore makes of a postgres:// URL', async () => {
      const s = await openStore(pg.url);
      try {
        expect(s).toBeInstanceOf(PostgresStore);
        await s.ping();
      } finally {
        await s.close();
      }
    });

    it('answers ping with an error when the server cannot be reached', async () => {
      const s = new PostgresStore('postgres://postgres@127.0.0.1:1/test');
      try {
        await expect(s.ping()).rejects.toThrow();
      } finally {
        await s.close();
      }
    });
  });
});
