// Guards the PostgreSQL store: the shared store contract, then what only a store shared by several processes
// needs — migrating once when processes start together, claims that never overlap across processes, and the
// NOTIFY that wakes every process's dispatcher, also after its listening connection was cut.
import { afterEach, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import { openStore } from '../../collector/store/open.js';
import { describePg, pgQuery } from '../support/pg.js';
import { T0, fire, install, touch } from './rows.js';
import type { PixelConfig } from '../../collector/config.js';
import { decideConversion, type ConversionInput, type ConversionResult } from '../../collector/ingest/attribution.js';
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

    describe('a conversion batch', () => {
      // the shipped example's pixel; `repeat` its min_minutes_per_conv
      const pixel = (repeat: number | null = 0): PixelConfig => ({
        id: 59633, name: 'purchase', trigger_type: 'hybrid', post_click_expire_mins: 43200, post_view_expire_mins: 1440, min_minutes_per_conv: repeat, sources: ['server'], on_install: false,
      });
      const input = (over: Partial<ConversionInput>): ConversionInput => ({
        pixel: pixel(), source: 'server', order_id: null, value: '10.50', other: null, visitor_id: null, token: null, cid: null, install_id: null,
        device_id: null, occurred_at: T0, ...over,
      });
      const decide = (s: PostgresStore, inputs: ConversionInput[]) => s.decideBatch(inputs, (tx, c) => decideConversion(tx, c, T0));
      /** the statements `s` sends from now on; `before` runs ahead of each, with its text */
      const statements = (s: PostgresStore, before?: (text: string) => Promise<void>) => {
        const sent: string[] = [];
        const query = s.pool.query.bind(s.pool) as (text: string, values?: unknown[]) => Promise<unknown>;
        (s.pool as { query: unknown }).query = async (text: string, values?: unknown[]) => {
          sent.push(text);
          await before?.(text);
          return query(text, values);
        };
        return sent;
      };

      it('costs two round trips however many conversions it holds: one read, one write', async () => {
        const [a] = processes(1);
        await a.migrate();
        const clicks = Array.from({ length: 10 }, (_, i) => touch({ visitor_id: `v${i}`, occurred_at: T0 - 60_000 }));
        await a.insertTouches(clicks);
        const sent = statements(a);
        // each click converts twice with one order id: the second report of an order is its duplicate
        const results = await decide(a, clicks.flatMap((t, i) => [0, 1].map(() => input({ token: t.token, order_id: `A-${i}` }))));
        expect(sent).toHaveLength(2);
        expect(results.map((r) => r.outcome)).toEqual(clicks.flatMap(() => ['attributed', 'duplicate']));
        expect(results.map((r) => r.touch_id)).toEqual(clicks.flatMap((t) => [t.id, t.id]));
        expect(await a.countFires()).toMatchObject({ queued: 10 });
        for (const [i, r] of results.entries()) expect((await a.getFire(r.fire_id!))?.conversion?.order_id).toBe(`A-${i >> 1}`);
      });

      it("decides a conversion of an install whose bound touch is gone (purged), as a transaction decides it", async () => {
        const [a] = processes(1);
        await a.migrate();
        const gone = touch({ occurred_at: T0 - 60_000 });
        const bound = install({ touch_id: gone.id });
        expect(await a.transaction((tx) => tx.insertInstall(bound))).toBe(true);
        const [mine] = await decide(a, [input({ install_id: bound.install_id, order_id: 'I-1' })]);
        expect(mine).toMatchObject({ outcome: 'unattributed' });
      });

      // what another process commits between this batch's read and its write: the order, or the user in the repeat window
      it.each([
        { since: 'its order', theirs: { order_id: 'A-1' }, rule: 'order_id' },
        { since: 'its user in the repeat window', theirs: { pixel: pixel(null), order_id: 'B-1' }, mine: { pixel: pixel(null) }, rule: 'min_minutes_per_conv' },
      ])('is read and decided again when another process attributed $since since it was read', async ({ theirs, mine: extra, rule }) => {
        const [a, b] = processes(2);
        await a.migrate();
        const click = touch({ visitor_id: 'v1', occurred_at: T0 - 60_000 });
        await a.insertTouches([click]);
        let other: ConversionResult | undefined;
        statements(a, async (text) => {
          if (text.includes('sspx_write_conversions') && !other) [other] = await decide(b, [input({ token: click.token, ...theirs })]);
        });
        const [mine] = await decide(a, [input({ token: click.token, order_id: 'A-1', ...extra })]);
        expect(other).toMatchObject({ outcome: 'attributed' });
        expect(mine).toMatchObject({ outcome: 'duplicate', rule, conversion_id: other!.conversion_id, fire_id: other!.fire_id });
        expect(await a.countFires()).toMatchObject({ queued: 1 });
      });
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
