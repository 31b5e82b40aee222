// The retention contract, run unchanged against SQLite and PostgreSQL (purge.test.ts): what a purge removes and
// what it must keep, with an injected clock so ages are exact.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, ManualClock, MINUTE } from '../../collector/clock.js';
import { parseConfig, type Config } from '../../collector/config.js';
import { purge, purgeCutoffs } from '../../collector/retention.js';
import type { Conversion, Fire, FireState, NewAttempt, Store, Touch } from '../../collector/store/store.js';
import { attempt, conversion, fire, touch } from '../store/rows.js';

/** noon, so day-aligned ranges start at a clean midnight */
export const NOW = Date.UTC(2026, 5, 15, 12);
const MIDNIGHT = Date.UTC(2026, 5, 15);

/** retention 10 days, transcripts 3 days; clicks attribute for 30 days, views for 1 */
export const RETENTION_CONFIG = {
  retention_days: 10,
  transcript_retention_days: 3,
  pixels: { purchase: { id: 59633, trigger_type: 'hybrid' as const, post_click_expire_mins: 30 * 1440, post_view_expire_mins: 1440 } },
};

export interface Seeder {
  store: Store;
  touch(ageMs: number, over?: Partial<Touch>): Promise<Touch>;
  /** a conversion and (unless state is null) its fire, both created `ageMs` ago, with one attempt when the state says one happened */
  conversion(ageMs: number, state: FireState | null, over?: { conversion?: Partial<Conversion>; fire?: Partial<Fire>; attempt?: Partial<NewAttempt> }): Promise<{ conversion: Conversion; fire?: Fire }>;
}

export function seeder(store: Store): Seeder {
  return {
    store,
    async touch(ageMs, over = {}) {
      const t = touch({ occurred_at: NOW - ageMs, created_at: NOW - ageMs, ...over });
      await store.insertTouches([t]);
      return t;
    },
    async conversion(ageMs, state, over = {}) {
      const at = NOW - ageMs;
      const c = conversion({ created_at: at, occurred_at: at, outcome: state ? 'attributed' : 'unattributed', ...over.conversion });
      const f = state ? fire({ conversion_id: c.id, state, created_at: at, updated_at: at, next_attempt_at: state === 'queued' ? at : null, ...over.fire }) : undefined;
      await store.transaction(async (tx) => {
        await tx.insertConversion(c);
        if (f) await tx.insertFire(f);
      });
      if (f && state && state !== 'queued') {
        const outcome = state === 'fired' ? 'fired' : state === 'held' ? 'ambiguous' : state === 'failed' ? 'failed' : 'retry';
        // the attempt row is written whoever holds the lease; the fire keeps the state it was seeded with
        await store.recordAttempt(f.id, 'seed', attempt({ started_at: at, outcome, error_class: outcome === 'fired' ? null : `class_${outcome}`, ...over.attempt }), {
          state, next_attempt_at: null, last_error: null,
        });
      }
      return { conversion: c, fire: f };
    },
  };
}

/** the totals per metric and key of a stats answer (bucket by bucket is compared separately) */
const totals = (s: Awaited<ReturnType<Store['stats']>>) => {
  const out: Record<string, number> = {};
  for (const c of s.counts) out[`${c.metric}:${c.key}`] = (out[`${c.metric}:${c.key}`] ?? 0) + c.count;
  return out;
};

export function purgeSuite(name: string, open: () => Store): void {
  describe(`retention on ${name}`, () => {
    let store: Store;
    let seed: Seeder;
    let config: Config;
    let clock: ManualClock;
    const run = (opts: Parameters<typeof purge>[1] = {}) => purge({ config, store, clock }, opts);

    beforeEach(async () => {
      store = open();
      await store.migrate();
      seed = seeder(store);
      config = parseConfig(RETENTION_CONFIG);
      clock = new ManualClock(NOW);
    });
    afterEach(async () => {
      await store.close();
    });

    it('computes cutoffs from retention_days, transcript_retention_days and the longest pixel windows', () => {
      expect(purgeCutoffs(config, NOW)).toEqual({
        records_before: NOW - 10 * DAY,
        clicks_before: NOW - 30 * DAY, // a click attributes for 30 days, longer than retention
        views_before: NOW - 10 * DAY, // a view only for one day: retention decides
        transcripts_before: NOW - 3 * DAY,
      });
      const viewOnly = parseConfig({ ...RETENTION_CONFIG, pixels: { v: { id: 1, trigger_type: 'view', post_view_expire_mins: 43_200 } } });
      // a click is an impression too: a view pixel keeps clicks for its view window
      expect(purgeCutoffs(viewOnly, NOW)).toMatchObject({ clicks_before: NOW - 30 * DAY, views_before: NOW - 30 * DAY });
    });

    it('deletes touches past retention and past every pixel window, keeps the others', async () => {
      const old = await seed.touch(40 * DAY);
      const inClickWindow = await seed.touch(20 * DAY);
      const oldView = await seed.touch(20 * DAY, { kind: 'view' });
      const recentView = await seed.touch(5 * DAY, { kind: 'view' });
      const recent = await seed.touch(MINUTE);
      const r = await run();
      expect(r.counts.touches).toBe(2);
      expect(await store.touchByCid(old.cid)).toBeUndefined();
      expect(await store.touchByCid(oldView.cid)).toBeUndefined();
      for (const kept of [inClickWindow, recentView, recent]) expect(await store.touchByCid(kept.cid)).toEqual(kept);
    });

    it('never deletes a queued or in-flight fire, nor its conversion or touch, whatever their age', async () => {
      const t1 = await seed.touch(100 * DAY);
      const t2 = await seed.touch(100 * DAY);
      const t3 = await seed.touch(100 * DAY);
      const queued = await seed.conversion(100 * DAY, 'queued', { conversion: { touch_id: t1.id } });
      const inFlight = await seed.conversion(100 * DAY, 'in_flight', { conversion: { touch_id: t2.id }, fire: { lease_owner: 'x', lease_expires_at: NOW + MINUTE } });
      const failed = await seed.conversion(100 * DAY, 'failed', { conversion: { touch_id: t3.id } });
      const held = await seed.conversion(50 * DAY, 'held');
      const fired = await seed.conversion(20 * DAY, 'fired');
      const recent = await seed.conversion(DAY, 'failed');

      const r = await run();
      expect(r.counts).toMatchObject({ fires: 3, attempts: 3, conversions: 3, touches: 1 });
      for (const kept of [queued, inFlight]) {
        const f = (await store.getFire(kept.fire!.id))!;
        expect(f.state).toBe(kept.fire!.state);
        expect(f.conversion?.id).toBe(kept.conversion.id);
        expect(f.touch?.id).toBe(kept.conversion.touch_id);
      }
      for (const gone of [failed, held, fired]) expect(await store.getFire(gone.fire!.id)).toBeUndefined();
      expect(await store.touchByCid(t3.cid)).toBeUndefined();
      expect((await store.getFire(recent.fire!.id))!.attempts).toHaveLength(1);
      expect(await store.purgeCounts(purgeCutoffs(config, NOW))).toEqual({ fires: 0, attempts: 0, conversions: 0, touches: 0, transcripts: 0 });
    });

    it('keeps an old touch that a kept conversion names', async () => {
      const t = await seed.touch(40 * DAY);
      await seed.conversion(5 * DAY, 'fired', { conversion: { touch_id: t.id } });
      await seed.conversion(40 * DAY, null); // unattributed, no fire: it goes
      const r = await run();
      expect(r.counts).toMatchObject({ touches: 0, conversions: 1 });
      expect(await store.touchByCid(t.cid)).toEqual(t);
    });

    it('clears transcripts older than transcript_retention_days, keeping the attempt rows', async () => {
      const old = await seed.conversion(5 * DAY, 'fired');
      const fresh = await seed.conversion(2 * DAY, 'failed');
      const r = await run();
      expect(r.counts).toMatchObject({ transcripts: 1, fires: 0, attempts: 0 });
      const [a] = (await store.getFire(old.fire!.id))!.attempts;
      expect(a).toMatchObject({ outcome: 'fired', status: 200, hops: null });
      expect((await store.getFire(fresh.fire!.id))!.attempts[0].hops).toHaveLength(1);
    });

    it('rolls what it deletes up into daily counts, so stats over old periods keep their numbers', async () => {
      for (let d = 11; d <= 45; d += 3) {
        await seed.touch(d * DAY + 2 * 3600_000);
        await seed.touch(d * DAY, { kind: 'view' });
        await seed.conversion(d * DAY, d % 2 ? 'fired' : 'failed');
        await seed.conversion(d * DAY + 60_000, null);
        await seed.conversion(d * DAY + 120_000, null, { conversion: { outcome: 'duplicate' } });
      }
      await seed.conversion(DAY, 'fired');
      const from = MIDNIGHT - 60 * DAY;
      const to = MIDNIGHT + DAY;
      const before = await store.stats(from, to, DAY);
      const weeks = await store.stats(from, to, 7 * DAY);
      expect(totals(before)).toMatchObject({ 'touches:click': 12, 'touches:view': 12, 'fires:fired': 7, 'fires:failed': 6, 'conversions:duplicate': 12 });

      const r = await run();
      expect(r.counts.fires).toBe(12);
      expect(r.counts.touches).toBeGreaterThan(0);
      expect(await store.stats(from, to, DAY)).toEqual(before);
      expect(await store.stats(from, to, 7 * DAY)).toEqual(weeks);

      // a second purge finds nothing and counts nothing twice
      expect((await run()).counts).toEqual({ fires: 0, attempts: 0, conversions: 0, touches: 0, transcripts: 0 });
      expect(await store.stats(from, to, DAY)).toEqual(before);
    });

    it('a dry run counts what a purge would remove and changes nothing', async () => {
      const t = await seed.touch(40 * DAY);
      await seed.touch(40 * DAY, { kind: 'view' });
      const c = await seed.conversion(40 * DAY, 'failed', { conversion: { touch_id: (await seed.touch(40 * DAY)).id } });
      await seed.conversion(5 * DAY, 'fired');
      const from = MIDNIGHT - 60 * DAY;
      const before = await store.stats(from, MIDNIGHT + DAY, DAY);

      const dry = await run({ dryRun: true });
      expect(dry.dry_run).toBe(true);
      expect(dry.counts).toEqual({ fires: 1, attempts: 1, conversions: 1, touches: 3, transcripts: 1 });
      expect(await store.stats(from, MIDNIGHT + DAY, DAY)).toEqual(before);
      expect(await store.touchByCid(t.cid)).toEqual(t);
      expect((await store.getFire(c.fire!.id))!.attempts[0].hops).not.toBeNull();

      const real = await run();
      expect(real.counts).toEqual(dry.counts);
    });

    it('deletes in batches and reports its progress', async () => {
      for (let i = 0; i < 11; i++) await seed.touch(40 * DAY + i);
      const seen: number[] = [];
      const r = await run({ batchSize: 3, onProgress: (p) => p.step === 'touches' && seen.push(p.done) });
      expect(r.counts.touches).toBe(11);
      expect(seen).toEqual([3, 6, 9, 11]);
    });

    it('forgets install hint keys older than a day', async () => {
      const t = await seed.touch(2 * DAY, { hint_key: 'hk-old' });
      const fresh = await seed.touch(3600_000, { hint_key: 'hk-new' });
      const r = await run();
      expect(r.hints).toBe(1);
      expect((await store.touchByCid(t.cid))!.hint_key).toBeNull();
      expect((await store.touchByCid(fresh.cid))!.hint_key).toBe('hk-new');
    });
  });
}
