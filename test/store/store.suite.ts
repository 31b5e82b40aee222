// Guards the one Store contract, run unchanged against SQLite and PostgreSQL: what attribution, the dispatcher
// and the operator API rely on — window bounds, dedup under races, the claim/lease/attempt life of a fire,
// and that nothing acknowledged is lost across a restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Conversion, Fire, FireState, PurgeCounts, Store, Touch } from '../../collector/store/store.js';
import { PURGE_STEPS, emptyKeys, noPurgeCounts } from '../../collector/store/store.js';
import { T0, attempt, conversion, fire, install, touch } from './rows.js';

/** Where one store lives (a file, a schema). `open()` again after `close()` is a restart. */
export interface StoreSite {
  open(): Store;
}

const SEC = 1000;
const sortIds = (ids: string[]) => [...ids].sort();

export function storeSuite(name: string, makeStore: () => StoreSite): void {
  describe(`${name} store`, () => {
    let site: StoreSite;
    let store: Store;
    const opened: Store[] = [];
    const open = () => {
      const s = site.open();
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      site = makeStore();
      store = open();
      await store.migrate();
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    const insertTouch = (t: Touch) => store.transaction((tx) => tx.insertTouch(t));
    /** a queued fire with its conversion (and touch), in one transaction */
    const queueFire = async (over: Partial<Fire> = {}, c: Partial<Conversion> = {}) => {
      const conv = conversion(c);
      const f = fire({ conversion_id: conv.id, ...over });
      await store.transaction(async (tx) => {
        await tx.insertConversion(conv);
        await tx.insertFire(f);
      });
      return f;
    };
    const stateOf = async (id: string) => (await store.getFire(id))!.state;

    describe('migrations', () => {
      it('migrates a new store once; migrating again applies nothing', async () => {
        const fresh = makeStore().open();
        opened.push(fresh);
        expect(await fresh.migrationsCurrent()).toBe(false);
        const applied = await fresh.migrate();
        expect(applied.length).toBeGreaterThan(0);
        expect(applied).toEqual([...applied].sort((a, b) => a - b));
        expect(await fresh.migrationsCurrent()).toBe(true);
        expect(await fresh.migrate()).toEqual([]);
        expect(await fresh.migrationsCurrent()).toBe(true);
      });

      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('transactions', () => {
      it('answers what the function answers, committed', async () => {
        const t = touch();
        expect(await store.transaction(async (tx) => (await tx.insertTouch(t), 'done'))).toBe('done');
        expect(await store.touchByCid(t.cid)).toEqual(t);
      });

      it('rolls everything back on a throw and rethrows it', async () => {
        const t = touch();
        const c = conversion({ dedup_key: 'o:59633:A1' });
        await expect(
          store.transaction(async (tx) => {
            await tx.insertTouch(t);
            await tx.insertConversion(c);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await store.touchByCid(t.cid)).toBeUndefined();
        expect(await store.transaction((tx) => tx.conversionByDedupKey('o:59633:A1'))).toBeUndefined();
      });
    });

    describe('touches', () => {
      it('stores a touch byte for byte and finds it by cid and id, in and out of a transaction', async () => {
        const t = touch({ token: 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.', visitor_id: 'v1', device_id: 'idfa-1', hint_key: 'h' });
        await insertTouch(t);
        expect(await store.touchByCid(t.cid)).toEqual(t);
        expect(await store.transaction((tx) => tx.touchByCid(t.cid))).toEqual(t);
        expect(await store.transaction((tx) => tx.touchById(t.id))).toEqual(t);
        expect(await store.touchByCid('nope')).toBeUndefined();
        const bare = touch({ hints: null, site: null, ip_prefix: null, user_agent: null, url: null });
        await insertTouch(bare);
        expect(await store.touchByCid(bare.cid)).toEqual(bare);
      });

      it('inserts a group of touches all or none', async () => {
        const group = [touch(), touch({ kind: 'view', source: 'impression' }), touch()];
        await store.insertTouches(group);
        for (const t of group) expect(await store.touchByCid(t.cid)).toEqual(t);
        await store.insertTouches([]);

        const fresh = touch();
        // a touch the table refuses (an unknown kind) fails the group; its id is its click id's, 96 random bits, so
        // no unique index stands in the way of a touch to refuse
        await expect(store.insertTouches([fresh, touch({ kind: 'bogus' as Touch['kind'] })])).rejects.toThrow();
        expect(await store.touchByCid(fresh.cid)).toBeUndefined();
      });

      describe('latestTouch', () => {
        const latest = (keys: Partial<ReturnType<typeof emptyKeys>>, kind: 'click' | 'view', from: number, to: number) =>
          store.transaction((tx) => tx.latestTouch({ ...emptyKeys(), ...keys }, kind, from, to));

        it('finds touches at both window bounds and none outside them', async () => {
          const atFrom = touch({ visitor_id: 'v1', occurred_at: T0 - 60 * SEC });
          const atTo = touch({ visitor_id: 'v2', occurred_at: T0 });
          await store.insertTouches([atFrom, atTo]);
          expect((await latest({ visitor_ids: ['v1'] }, 'click', T0 - 60 * SEC, T0))?.id).toBe(atFrom.id);
          expect(await latest({ visitor_ids: ['v1'] }, 'click', T0 - 60 * SEC + 1, T0)).toBeUndefined();
          expect((await latest({ visitor_ids: ['v2'] }, 'click', T0 - 60 * SEC, T0))?.id).toBe(atTo.id);
          expect(await latest({ visitor_ids: ['v2'] }, 'click', T0 - 60 * SEC, T0 - 1)).toBeUndefined();
        });

        it('looks up by visitor, token and device, only of the asked kind, the newest winning', async () => {
          const byVisitor = touch({ visitor_id: 'v1', occurred_at: T0 - 30 * SEC });
          const byToken = touch({ token: 'tok.', occurred_at: T0 - 20 * SEC });
          const byDevice = touch({ device_id: 'idfa-1', occurred_at: T0 - 10 * SEC });
          const newerView = touch({ kind: 'view', visitor_id: 'v1', token: 'tok.', device_id: 'idfa-1', occurred_at: T0 - 5 * SEC });
          const olderVisitor = touch({ visitor_id: 'v1', occurred_at: T0 - 40 * SEC });
          await store.insertTouches([byVisitor, byToken, byDevice, newerView, olderVisitor]);
          const from = T0 - 60 * SEC;

          expect((await latest({ visitor_ids: ['v1'] }, 'click', from, T0))?.id).toBe(byVisitor.id);
          expect(await latest({ visitor_ids: ['v1'] }, 'click', from, T0)).toEqual(byVisitor);
          expect((await latest({ tokens: ['tok.'] }, 'click', from, T0))?.id).toBe(byToken.id);
          expect((await latest({ device_ids: ['idfa-1'] }, 'click', from, T0))?.id).toBe(byDevice.id);
          expect((await latest({ visitor_ids: ['v1'], tokens: ['tok.'] }, 'click', from, T0))?.id).toBe(byToken.id);
          expect((await latest({ visitor_ids: ['v1'], tokens: ['tok.'], device_ids: ['idfa-1'] }, 'click', from, T0))?.id).toBe(byDevice.id);
          expect((await latest({ visitor_ids: ['x', 'v1'], device_ids: ['y'] }, 'click', from, T0))?.id).toBe(byVisitor.id);
          expect((await latest({ visitor_ids: ['v1'] }, 'view', from, T0))?.id).toBe(newerView.id);
          expect(await latest({ visitor_ids: ['v9'], tokens: ['nope.'] }, 'click', from, T0)).toBeUndefined();
          expect(await latest({}, 'click', 0, Number.MAX_SAFE_INTEGER)).toBeUndefined();
        });

        it('breaks a tie of one key by the later recorded touch', async () => {
          const first = touch({ visitor_id: 'v1', occurred_at: T0, created_at: T0 });
          const second = touch({ visitor_id: 'v1', occurred_at: T0, created_at: T0 + 1 });
          await store.insertTouches([second, first]);
          expect((await latest({ visitor_ids: ['v1'] }, 'click', 0, Number.MAX_SAFE_INTEGER))?.id).toBe(second.id);
        });
      });
    });

    describe('conversions', () => {
      it('takes a dedup key once; the loser answers false and the first stays', async () => {
        const first = conversion({ order_id: 'A-1', dedup_key: 'o:59633:A-1' });
        const again = conversion({ order_id: 'A-1', dedup_key: 'o:59633:A-1' });
        expect(await store.transaction((tx) => tx.insertConversion(first))).toBe(true);
        expect(await store.transaction((tx) => tx.insertConversion(again))).toBe(false);
        expect(await store.transaction((tx) => tx.conversionByDedupKey('o:59633:A-1'))).toEqual(first);
        // no dedup key: no limit
        const a = conversion({ outcome: 'duplicate', duplicate_of: first.id });
        const b = conversion({ outcome: 'unattributed' });
        expect(await store.transaction(async (tx) => [await tx.insertConversion(a), await tx.insertConversion(b)])).toEqual([true, true]);
      });

      it('lets exactly one of 20 concurrent transactions take a dedup key', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, () =>
            store.transaction(async (tx) => {
              const taken = await tx.insertConversion(conversion({ dedup_key: 'u:59633:v:racer' }));
              if (taken) await tx.insertFire(fire());
              return taken;
            }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await store.countFires()).queued).toBe(1);
      });

      it('finds the latest attributed conversion of a pixel and user since a time, inclusive', async () => {
        const old = conversion({ user_key: 'v:u1', occurred_at: T0 - 10 * SEC });
        const recent = conversion({ user_key: 'v:u1', occurred_at: T0 - 5 * SEC });
        const other = conversion({ user_key: 'v:u2', occurred_at: T0 });
        const unattributed = conversion({ user_key: 'v:u1', outcome: 'unattributed', occurred_at: T0 });
        const otherPixel = conversion({ user_key: 'v:u1', pixel_id: 1, occurred_at: T0 });
        await store.transaction(async (tx) => {
          for (const c of [old, recent, other, unattributed, otherPixel]) await tx.insertConversion(c);
        });
        const last = (since: number) => store.transaction((tx) => tx.lastAttributedConversion(59633, 'v:u1', since));
        expect(await last(T0 - 60 * SEC)).toEqual(recent);
        expect(await last(T0 - 5 * SEC)).toEqual(recent);
        expect(await last(T0 - 5 * SEC + 1)).toBeUndefined();
      });

      it('serialises the deciders of one user behind lockUser', async () => {
        // each decider reads, then writes: without the lock, concurrent deciders would all see nothing
        const decided = await Promise.all(
          Array.from({ length: 10 }, () =>
            store.transaction(async (tx) => {
              await tx.lockUser(59633, 'v:locked');
              if (await tx.lastAttributedConversion(59633, 'v:locked', 0)) return false;
              await new Promise((r) => setTimeout(r, 5));
              return tx.insertConversion(conversion({ user_key: 'v:locked' }));
            }),
          ),
        );
        expect(decided.filter(Boolean)).toHaveLength(1);
        // other users are not held up by it
        await store.transaction(async (tx) => {
          await tx.lockUser(59633, 'v:a');
          await tx.lockUser(59634, 'v:a');
        });
      });
    });

    describe('fires', () => {
      it('stores a fire with its conversion and finds it by conversion', async () => {
        const f = await queueFire({ order_id: 'A-1', value: '10', other: 'x' });
        expect(await store.transaction((tx) => tx.fireByConversion(f.conversion_id))).toEqual(f);
        expect(await store.transaction((tx) => tx.fireByConversion('nope'))).toBeUndefined();
      });

      it('claims due fires oldest first, leases them, and moves them on with each attempt', async () => {
        const older = await queueFire({ next_attempt_at: T0 - 2 * SEC });
        const due = await queueFire({ next_attempt_at: T0 - SEC });
        const later = await queueFire({ next_attempt_at: T0 + 60 * SEC });
        expect(await store.nextDueAt()).toBe(T0 - 2 * SEC);

        const claimed = await store.claimFires('d1', T0, 30 * SEC, 10);
        expect(claimed.map((f) => f.id)).toEqual([older.id, due.id]);
        for (const f of claimed) {
          expect(f).toMatchObject({ state: 'in_flight', lease_owner: 'd1', lease_expires_at: T0 + 30 * SEC, updated_at: T0 });
        }
        expect(await store.claimFires('d2', T0, 30 * SEC, 10)).toEqual([]);
        expect(await store.nextDueAt()).toBe(T0 + 60 * SEC);
        expect(await store.countFires()).toEqual({ queued: 1, in_flight: 2, fired: 0, failed: 0, held: 0 });

        // a retry: back to queued, due later; then fired
        expect(await store.recordAttempt(older.id, 'd1', attempt({ outcome: 'retry', status: 503, error_class: 'http_5xx', next_attempt_at: T0 + 5 * SEC }),
          { state: 'queued', next_attempt_at: T0 + 5 * SEC, last_error: '503 Service Unavailable' })).toBe(true);
        let f = (await store.getFire(older.id))!;
        expect(f).toMatchObject({ state: 'queued', attempt_count: 1, next_attempt_at: T0 + 5 * SEC, lease_owner: null, lease_expires_at: null,
          last_outcome: 'retry', last_error: '503 Service Unavailable', fired_at: null });
        expect(await store.nextDueAt()).toBe(T0 + 5 * SEC);

        expect((await store.claimFires('d1', T0 + 5 * SEC, 30 * SEC, 10)).map((x) => x.id)).toEqual([older.id]);
        expect(await store.recordAttempt(older.id, 'd1', attempt({ started_at: T0 + 5 * SEC, duration_ms: 40 }),
          { state: 'fired', next_attempt_at: null, last_error: null })).toBe(true);
        f = (await store.getFire(older.id))!;
        expect(f).toMatchObject({ state: 'fired', attempt_count: 2, next_attempt_at: null, last_outcome: 'fired', last_error: null,
          fired_at: T0 + 5 * SEC + 40, updated_at: T0 + 5 * SEC + 40 });
        expect(f.attempts.map((a) => [a.n, a.outcome, a.owner])).toEqual([[1, 'retry', 'd1'], [2, 'fired', 'd1']]);

        // a lease someone else holds is not theirs to finish, but the attempt is still on record
        expect(await store.recordAttempt(due.id, 'd2', attempt(), { state: 'fired', next_attempt_at: null, last_error: null })).toBe(false);
        expect(await stateOf(due.id)).toBe('in_flight');
        expect((await store.getFire(due.id))!.attempts.map((a) => a.owner)).toEqual(['d2']);

        expect(await store.recordAttempt(due.id, 'd1', attempt({ outcome: 'failed', status: 400 }), { state: 'failed', next_attempt_at: null, last_error: '400' })).toBe(true);
        expect(await store.countFires()).toEqual({ queued: 1, in_flight: 0, fired: 1, failed: 1, held: 0 });
        expect((await store.getFire(later.id))!.state).toBe('queued');
      });

      it('claims at most the limit', async () => {
        for (let i = 0; i < 5; i++) await queueFire({ next_attempt_at: T0 - i });
        expect(await store.claimFires('d1', T0, SEC, 0)).toEqual([]);
        expect(await store.claimFires('d1', T0, SEC, 3)).toHaveLength(3);
        expect(await store.claimFires('d1', T0, SEC, 3)).toHaveLength(2);
        expect(await store.nextDueAt()).toBeNull();
      });

      it('turns an expired lease into a lease_expired attempt and a due fire', async () => {
        const f = await queueFire();
        await store.claimFires('d1', T0, 10 * SEC, 10);
        // not yet expired
        expect(await store.claimFires('d2', T0 + 10 * SEC - 1, 10 * SEC, 0)).toEqual([]);
        expect(await stateOf(f.id)).toBe('in_flight');
        // expired exactly at lease_expires_at; limit 0 shows the requeue on its own
        expect(await store.claimFires('d2', T0 + 10 * SEC, 10 * SEC, 0)).toEqual([]);
        const requeued = (await store.getFire(f.id))!;
        expect(requeued).toMatchObject({ state: 'queued', attempt_count: 1, next_attempt_at: T0 + 10 * SEC, lease_owner: null,
          lease_expires_at: null, last_outcome: 'lease_expired', updated_at: T0 + 10 * SEC });
        expect(requeued.last_error).toBeTruthy();
        expect(requeued.attempts).toEqual([{
          id: expect.any(Number), fire_id: f.id, n: 1, owner: 'd1', started_at: T0 + 10 * SEC, duration_ms: null,
          outcome: 'lease_expired', error_class: 'lease_expired', status: null, url: null, hops: null, next_attempt_at: T0 + 10 * SEC,
        }]);

        // and someone else claims it; the first owner's late report no longer moves it
        expect((await store.claimFires('d2', T0 + 11 * SEC, 10 * SEC, 10)).map((x) => x.id)).toEqual([f.id]);
        expect(await store.recordAttempt(f.id, 'd1', attempt(), { state: 'fired', next_attempt_at: null, last_error: null })).toBe(false);
        expect((await store.getFire(f.id))!).toMatchObject({ state: 'in_flight', lease_owner: 'd2', attempt_count: 1 });
      });

      it('expires a lease and claims the fire again in one call', async () => {
        const f = await queueFire();
        await store.claimFires('d1', T0, SEC, 10);
        const again = await store.claimFires('d2', T0 + 5 * SEC, SEC, 10);
        expect(again.map((x) => x.id)).toEqual([f.id]);
        expect(again[0]).toMatchObject({ state: 'in_flight', lease_owner: 'd2', attempt_count: 1, last_outcome: 'lease_expired' });
        expect((await store.getFire(f.id))!.attempts.map((a) => [a.n, a.outcome])).toEqual([[1, 'lease_expired']]);
      });

      // a crash leaves a fire in flight; taking it back reads its sending mark: never sent, or maybe at the router
      it.each([
        { name: 'no sending mark: due again at once, a lease_expired attempt', mark: false, on_ambiguous: 'hold' as const,
          fire: { state: 'queued', next_attempt_at: T0 + 10 * SEC, last_outcome: 'lease_expired' },
          attempt: { outcome: 'lease_expired', error_class: 'lease_expired', started_at: T0 + 10 * SEC, next_attempt_at: T0 + 10 * SEC } },
        { name: 'marked, on_ambiguous retry: due again at once, an ambiguous attempt', mark: true, on_ambiguous: 'retry' as const,
          fire: { state: 'queued', next_attempt_at: T0 + 10 * SEC, last_outcome: 'ambiguous' },
          attempt: { outcome: 'ambiguous', error_class: 'lease_expired_after_send', started_at: T0 + 2 * SEC, next_attempt_at: T0 + 10 * SEC } },
        { name: 'marked, on_ambiguous hold: held, an ambiguous attempt', mark: true, on_ambiguous: 'hold' as const,
          fire: { state: 'held', next_attempt_at: null, last_outcome: 'ambiguous' },
          attempt: { outcome: 'ambiguous', error_class: 'lease_expired_after_send', started_at: T0 + 2 * SEC, next_attempt_at: null } },
      ])('takes back an expired lease by its sending mark: $name', async ({ mark, on_ambiguous, fire: after, attempt: a }) => {
        const f = await queueFire();
        await store.claimFires('d1', T0, 10 * SEC, 10);
        if (mark) expect(await store.markSending(f.id, 'd1', T0 + 2 * SEC)).toBe(true);
        expect((await store.getFire(f.id))!.sending_at).toBe(mark ? T0 + 2 * SEC : null);
        expect(await store.claimFires('d2', T0 + 10 * SEC, 10 * SEC, 0, on_ambiguous)).toEqual([]);
        const taken = (await store.getFire(f.id))!;
        expect(taken).toMatchObject({ ...after, attempt_count: 1, lease_owner: null, lease_expires_at: null, sending_at: null });
        expect(taken.last_error).toContain(mark ? 'after its request had left' : 'had not left');
        if (after.state === 'held') expect(taken.last_error).toContain('on_ambiguous is hold');
        expect(taken.attempts).toEqual([expect.objectContaining({ n: 1, owner: 'd1', hops: null, ...a })]);
        // the old owner may not send it any more
        expect(await store.markSending(f.id, 'd1', T0 + 11 * SEC)).toBe(false);
      });

      it('marks sending only for the lease owner, and an attempt or a release clears the mark', async () => {
        const [a, b] = [await queueFire(), await queueFire()];
        await store.claimFires('d1', T0, 10 * SEC, 10);
        expect(await store.markSending(a.id, 'd2', T0 + 1)).toBe(false);
        expect(await store.markSending(a.id, 'd1', T0 + 1)).toBe(true);
        expect(await store.markSending(b.id, 'd1', T0 + 1)).toBe(true);
        expect(await store.recordAttempt(a.id, 'd1', attempt(), { state: 'queued', next_attempt_at: T0 + SEC, last_error: 'x' })).toBe(true);
        expect((await store.getFire(a.id))!.sending_at).toBeNull();
        expect(await store.releaseFires('d1', T0 + 2)).toBe(1);
        expect((await store.getFire(b.id))!).toMatchObject({ state: 'queued', sending_at: null });
      });

      it("takes back the leases a crash left at start: all of them on SQLite (one process), none on PostgreSQL (they may be another process's)", async () => {
        const [unsent, sent] = [await queueFire(), await queueFire({ next_attempt_at: T0 + 1 })];
        await store.claimFires('crashed:1:dead', T0 + 1, 600 * SEC, 10);
        expect(await store.markSending(sent.id, 'crashed:1:dead', T0 + 2)).toBe(true);
        const taken = await store.takeBackOwnLeases(T0 + 5, 'hold');
        if (store.kind === 'postgres') {
          expect(taken).toBe(0);
          expect([await stateOf(unsent.id), await stateOf(sent.id)]).toEqual(['in_flight', 'in_flight']);
          return;
        }
        expect(taken).toBe(2);
        // long before the lease would have expired (T0 + 600 s): the unsent fire is due at once
        expect((await store.getFire(unsent.id))!).toMatchObject({ state: 'queued', next_attempt_at: T0 + 5, last_outcome: 'lease_expired' });
        expect((await store.getFire(unsent.id))!.attempts.map((x) => [x.outcome, x.started_at])).toEqual([['lease_expired', T0 + 5]]);
        expect((await store.getFire(sent.id))!).toMatchObject({ state: 'held', next_attempt_at: null, last_outcome: 'ambiguous' });
        expect((await store.getFire(sent.id))!.attempts.map((x) => [x.outcome, x.started_at])).toEqual([['ambiguous', T0 + 2]]);
        expect((await store.claimFires('d2', T0 + 5, SEC, 10)).map((x) => x.id)).toEqual([unsent.id]);
      });

      it('never hands one fire to two concurrent claimers', async () => {
        const fires: Fire[] = [];
        for (let i = 0; i < 60; i++) fires.push(fire({ next_attempt_at: T0 - i }));
        await store.transaction(async (tx) => {
          for (const f of fires) await tx.insertFire(f);
        });
        const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claimFires(`d${i}`, T0, 30 * SEC, 12)));
        const ids = claims.flat().map((f) => f.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(sortIds(ids)).toEqual(sortIds(fires.map((f) => f.id)));
        for (const [i, claim] of claims.entries()) for (const f of claim) expect(f.lease_owner).toBe(`d${i}`);
      });

      it('releases an owner\'s in-flight fires, due now, with no attempt recorded', async () => {
        const mine = [await queueFire(), await queueFire()];
        await store.claimFires('d1', T0, 30 * SEC, 10);
        const theirs = await queueFire();
        await store.claimFires('d2', T0, 30 * SEC, 10);
        expect(await store.releaseFires('nobody', T0 + SEC)).toBe(0);
        expect(await store.releaseFires('d1', T0 + SEC)).toBe(2);
        for (const f of mine) {
          expect((await store.getFire(f.id))!).toMatchObject({ state: 'queued', next_attempt_at: T0 + SEC, lease_owner: null,
            lease_expires_at: null, attempt_count: 0, attempts: [] });
        }
        expect(await stateOf(theirs.id)).toBe('in_flight');
        expect(await store.nextDueAt()).toBe(T0 + SEC);
      });

      it('replays only failed and held fires', async () => {
        const states: FireState[] = ['queued', 'in_flight', 'fired', 'failed', 'held'];
        const byState = new Map<FireState, Fire>();
        for (const state of states) byState.set(state, await queueFire({ state, next_attempt_at: state === 'queued' ? T0 : null, last_error: 'x' }));
        for (const state of ['queued', 'in_flight', 'fired'] as FireState[]) {
          expect(await store.replayFire(byState.get(state)!.id, T0 + SEC)).toBeUndefined();
          expect(await stateOf(byState.get(state)!.id)).toBe(state);
        }
        for (const state of ['failed', 'held'] as FireState[]) {
          const replayed = await store.replayFire(byState.get(state)!.id, T0 + SEC);
          expect(replayed).toMatchObject({ id: byState.get(state)!.id, state: 'queued', next_attempt_at: T0 + SEC, updated_at: T0 + SEC, last_error: null });
          expect(await store.getFire(replayed!.id)).toMatchObject({ state: 'queued' });
        }
        expect(await store.replayFire('f_missing', T0)).toBeUndefined();
      });

      it('shows a fire with its attempts in order, its conversion, its touch and the reports its conversion decided', async () => {
        const t = touch({ visitor_id: 'v1' });
        const conv = conversion({ touch_id: t.id, visitor_id: 'v1', user_key: 'v:v1', order_id: 'A-1', dedup_key: 'o:59633:A-1' });
        const f = fire({ conversion_id: conv.id, order_id: 'A-1' });
        // an unattributed report of the order before it, a duplicate after it; neither another order's nor pixel's
        const early = conversion({ outcome: 'unattributed', order_id: 'A-1', created_at: T0 - 1 });
        const dup = conversion({ outcome: 'duplicate', duplicate_of: conv.id, rule: 'min_minutes_per_conv', created_at: T0 + 1 });
        const others = [conversion({ outcome: 'unattributed', order_id: 'A-2' }), conversion({ outcome: 'unattributed', order_id: 'A-1', pixel_id: 1 })];
        await store.transaction(async (tx) => {
          await tx.insertTouch(t);
          for (const c of [early, ...others, conv, dup]) await tx.insertConversion(c);
          await tx.supersedeUnattributed(59633, 'A-1', conv.id);
          await tx.insertFire(f);
        });
        const outcomes = ['retry', 'ambiguous', 'fired'] as const;
        for (const [i, outcome] of outcomes.entries()) {
          await store.claimFires('d1', T0 + i * 10 * SEC, 5 * SEC, 1);
          await store.recordAttempt(f.id, 'd1', attempt({ outcome, started_at: T0 + i * 10 * SEC }),
            { state: outcome === 'fired' ? 'fired' : 'queued', next_attempt_at: outcome === 'fired' ? null : T0 + (i + 1) * 10 * SEC, last_error: null });
        }
        const detail = (await store.getFire(f.id))!;
        expect(detail.conversion).toEqual(conv);
        expect(detail.touch).toEqual(t);
        expect(detail.linked).toEqual([{ ...early, superseded_by: conv.id }, dup]);
        expect(detail.attempts.map((a) => [a.n, a.outcome, a.started_at])).toEqual([[1, 'retry', T0], [2, 'ambiguous', T0 + 10 * SEC], [3, 'fired', T0 + 20 * SEC]]);
        const a = attempt();
        expect(detail.attempts[2]).toEqual({ ...a, id: expect.any(Number), fire_id: f.id, n: 3, owner: 'd1', started_at: T0 + 20 * SEC });

        const orphan = await queueFire();
        expect(await store.getFire(orphan.id)).toMatchObject({ conversion: { id: orphan.conversion_id }, touch: null, attempts: [] });
        const lone = fire();
        await store.transaction((tx) => tx.insertFire(lone));
        expect(await store.getFire(lone.id)).toEqual({ ...lone, conversion: null, touch: null, attempts: [], linked: [] });
        expect(await store.getFire('f_missing')).toBeUndefined();
      });

      it('lists fires newest first, filtered, page by page', async () => {
        const fires: Fire[] = [];
        for (let i = 0; i < 7; i++) {
          // pairs share a created_at, so the cursor must break ties by id
          fires.push(await queueFire({ created_at: T0 + Math.floor(i / 2) * SEC, pixel_id: i % 2 ? 1 : 2, order_id: `o${i}` }));
        }
        await store.claimFires('d1', T0, SEC, 1);
        const [firstClaimed] = await store.listFires({ state: 'in_flight' });
        await store.recordAttempt(firstClaimed.id, 'd1', attempt({ outcome: 'failed' }), { state: 'failed', next_attempt_at: null, last_error: 'x' });

        const expected = [...fires].sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? 1 : -1)).map((f) => f.id);
        expect((await store.listFires({})).map((f) => f.id)).toEqual(expected);

        const pages: string[] = [];
        let before: string | undefined;
        for (;;) {
          const page = await store.listFires({ limit: 2, before });
          if (!page.length) break;
          expect(page.length).toBeLessThanOrEqual(2);
          pages.push(...page.map((f) => f.id));
          before = page[page.length - 1].id;
        }
        expect(pages).toEqual(expected);

        expect((await store.listFires({ pixel_id: 1 })).map((f) => f.order_id).sort()).toEqual(['o1', 'o3', 'o5']);
        expect((await store.listFires({ order_id: 'o4' })).map((f) => f.id)).toEqual([fires[4].id]);
        expect((await store.listFires({ state: 'failed' })).map((f) => f.id)).toEqual([firstClaimed.id]);
        expect((await store.listFires({ last_outcome: 'failed' })).map((f) => f.id)).toEqual([firstClaimed.id]);
        expect((await store.listFires({ state: 'queued' }))).toHaveLength(6);
        // from inclusive, to exclusive
        expect((await store.listFires({ from: T0 + SEC, to: T0 + 3 * SEC })).map((f) => f.order_id).sort()).toEqual(['o2', 'o3', 'o4', 'o5']);
        expect((await store.listFires({ from: T0 + 3 * SEC })).map((f) => f.order_id)).toEqual(['o6']);
        expect(await store.listFires({ before: 'f_missing', limit: 1 })).toHaveLength(1);
      });
    });

    describe('installs', () => {
      it('binds a touch to one install only', async () => {
        const t = touch({ device_id: 'idfa-1' });
        await insertTouch(t);
        const first = install({ touch_id: t.id, flags: { referrer_mismatch: true, score: 0.5 }, device_id: 'idfa-1', confidence: 0.75 });
        expect(await store.transaction((tx) => tx.insertInstall(first))).toBe(true);
        expect(await store.transaction((tx) => tx.insertInstall(install({ touch_id: t.id })))).toBe(false);
        expect(await store.transaction((tx) => tx.insertInstall({ ...first, touch_id: null }))).toBe(false);
        expect(await store.transaction((tx) => tx.installById(first.install_id))).toEqual(first);
        expect(await store.transaction((tx) => tx.installByTouch(t.id))).toEqual(first);
        expect(await store.transaction((tx) => tx.installById('nope'))).toBeUndefined();
        // unbound installs do not collide
        const unbound = [install({ method: null, confidence: null, bound_at: null }), install({ method: null, confidence: null, bound_at: null })];
        expect(await store.transaction(async (tx) => [await tx.insertInstall(unbound[0]), await tx.insertInstall(unbound[1])])).toEqual([true, true]);
      });

      it('binds an unbound install to a touch once', async () => {
        const [t, other] = [touch(), touch()];
        await store.insertTouches([t, other]);
        const unbound = install({ touch_id: null, method: null, confidence: null, bound_at: null, created_at: T0 - SEC });
        const second = install({ touch_id: null, method: null, confidence: null, bound_at: null });
        await store.transaction(async (tx) => {
          await tx.insertInstall(unbound);
          await tx.insertInstall(second);
        });
        const binding = { ...unbound, platform: 'android', touch_id: t.id, method: 'referrer' as const, confidence: 0.9, flags: { late: true }, device_id: 'aaid-1', bound_at: T0, created_at: T0 };
        expect(await store.transaction((tx) => tx.bindInstall(binding))).toBe(true);
        // created_at is the install's, not the binding's
        expect(await store.transaction((tx) => tx.installByTouch(t.id))).toEqual({ ...binding, created_at: T0 - SEC });
        // bound already; the touch taken by another install; no such install
        expect(await store.transaction((tx) => tx.bindInstall({ ...binding, touch_id: other.id }))).toBe(false);
        expect(await store.transaction((tx) => tx.bindInstall({ ...second, touch_id: t.id, method: 'hint' }))).toBe(false);
        expect(await store.transaction((tx) => tx.bindInstall(install({ touch_id: other.id })))).toBe(false);
        expect(await store.transaction((tx) => tx.installById(second.install_id))).toEqual(second);
        expect((await store.transaction((tx) => tx.installById(unbound.install_id)))?.touch_id).toBe(t.id);
      });

      it('lets one of several concurrent binders take a touch, the others carrying on', async () => {
        const t = touch();
        await insertTouch(t);
        const installs = Array.from({ length: 6 }, () => install({ touch_id: null, method: null, confidence: null, bound_at: null }));
        await store.transaction(async (tx) => {
          for (const i of installs) await tx.insertInstall(i);
        });
        // the first binder holds its transaction open while the others try: they must wait for it, then lose
        let firstBound!: () => void;
        const bindingHeld = new Promise<void>((r) => (firstBound = r));
        const bind = (i: (typeof installs)[number], hold: boolean) => store.transaction(async (tx) => {
          const bound = await tx.bindInstall({ ...i, touch_id: t.id, method: 'token', bound_at: T0 });
          if (hold) (firstBound(), await new Promise((r) => setTimeout(r, 100)));
          // the transaction is still usable after losing
          return [bound, (await tx.installById(i.install_id))!.install_id === i.install_id];
        });
        const first = bind(installs[0], true);
        await bindingHeld;
        const results = await Promise.all([first, ...installs.slice(1).map((i) => bind(i, false))]);
        expect(results.map(([bound]) => bound)).toEqual([true, false, false, false, false, false]);
        expect(results.every(([, usable]) => usable)).toBe(true);
      });

      it('matches unbound touches by hint key in a window, newest first, at most the limit', async () => {
        const hinted = [0, 1, 2, 3].map((i) => touch({ hint_key: 'h1', occurred_at: T0 - i * SEC }));
        await store.insertTouches([...hinted, touch({ hint_key: 'h2' }), touch({ hint_key: 'h1', occurred_at: T0 - 60 * SEC })]);
        await store.transaction((tx) => tx.insertInstall(install({ touch_id: hinted[1].id })));
        const byHint = (from: number, to: number, limit: number) =>
          store.transaction((tx) => tx.touchesByHint('h1', from, to, limit)).then((ts) => ts.map((t) => t.id));
        expect(await byHint(T0 - 3 * SEC, T0, 10)).toEqual([hinted[0].id, hinted[2].id, hinted[3].id]);
        expect(await byHint(T0 - 3 * SEC, T0, 2)).toEqual([hinted[0].id, hinted[2].id]);
        expect(await byHint(T0 - 2 * SEC, T0 - SEC, 10)).toEqual([hinted[2].id]);
        expect((await store.transaction((tx) => tx.touchesByHint('h1', T0, T0, 1)))[0]).toEqual(hinted[0]);
      });
    });

    describe('secrets and hints', () => {
      it('keeps the first secret of a name', async () => {
        expect(await store.secret('hint_salt', 'first')).toBe('first');
        expect(await store.secret('hint_salt', 'second')).toBe('first');
        expect(await store.secret('other', 'x')).toBe('x');
        const raced = await Promise.all(Array.from({ length: 10 }, (_, i) => store.secret('raced', `v${i}`)));
        expect(new Set(raced).size).toBe(1);
      });

      it('forgets hint keys of touches that occurred before a time', async () => {
        const old = [touch({ hint_key: 'h', occurred_at: T0 - 2 * SEC }), touch({ hint_key: 'h', occurred_at: T0 - 1 })];
        const kept = touch({ hint_key: 'h', occurred_at: T0 });
        const unhinted = touch({ occurred_at: T0 - 5 * SEC });
        await store.insertTouches([...old, kept, unhinted]);
        expect(await store.clearHints(T0)).toBe(2);
        expect(await store.clearHints(T0)).toBe(0);
        for (const t of old) expect(await store.touchByCid(t.cid)).toEqual({ ...t, hint_key: null });
        expect(await store.touchByCid(kept.cid)).toEqual(kept);
        expect((await store.transaction((tx) => tx.touchesByHint('h', 0, T0, 10))).map((t) => t.id)).toEqual([kept.id]);
      });
    });

    describe('dashboard logouts', () => {
      it('keeps a logout until its session would have expired, across a restart', async () => {
        expect(await store.sessionRevoked('nonce-a')).toBe(false);
        await store.revokeSession('nonce-a', T0 + 10 * SEC, T0);
        await store.revokeSession('nonce-a', T0 + 10 * SEC, T0); // logging out twice is one logout
        await store.revokeSession('nonce-b', T0 + 20 * SEC, T0);
        expect(await store.sessionRevoked('nonce-a')).toBe(true);
        expect(await store.sessionRevoked('nonce-c')).toBe(false);
        await store.close();
        const reopened = open();
        expect(await reopened.sessionRevoked('nonce-a')).toBe(true);
        // the next logout forgets those past their expiry: the session's own expiry refuses it by then
        await reopened.revokeSession('nonce-c', T0 + 30 * SEC, T0 + 10 * SEC);
        expect([await reopened.sessionRevoked('nonce-a'), await reopened.sessionRevoked('nonce-b'), await reopened.sessionRevoked('nonce-c')]).toEqual([false, true, true]);
      });
    });

    describe('diagnostics', () => {
      it('accumulates counts per day, site and kind', async () => {
        await store.countDiagnostics([
          { day: '2026-01-01', site: 'https://shop.example', kind: 'unreplaced_macro', count: 2 },
          { day: '2026-01-01', site: 'https://shop.example', kind: 'unreplaced_macro', count: 1 },
          { day: '2026-01-02', site: 'https://b.example', kind: 'unreplaced_macro', count: 1 },
        ]);
        await store.countDiagnostics([
          { day: '2026-01-01', site: 'https://shop.example', kind: 'unreplaced_macro', count: 4 },
          { day: '2026-01-01', site: 'https://A.example', kind: 'unreplaced_macro', count: 1 },
          { day: '2026-01-03', site: 'https://shop.example', kind: 'other', count: 1 },
        ]);
        await store.countDiagnostics([]);
        expect(await store.diagnostics('2026-01-01', '2026-01-02')).toEqual([
          { day: '2026-01-01', site: 'https://A.example', kind: 'unreplaced_macro', count: 1 },
          { day: '2026-01-01', site: 'https://shop.example', kind: 'unreplaced_macro', count: 7 },
          { day: '2026-01-02', site: 'https://b.example', kind: 'unreplaced_macro', count: 1 },
        ]);
        expect(await store.diagnostics('2026-01-03', '2026-01-03')).toHaveLength(1);
      });

      it('loses no count to concurrent writers', async () => {
        const row = { day: '2026-01-01', site: 'https://shop.example', kind: 'unreplaced_macro', count: 1 };
        const other = { ...row, kind: 'other' };
        await Promise.all(Array.from({ length: 20 }, (_, i) => store.countDiagnostics(i % 2 ? [row, other] : [other, row])));
        expect((await store.diagnostics('2026-01-01', '2026-01-01')).map((r) => r.count)).toEqual([20, 20]);
      });
    });

    describe('operators\' numbers and retention', () => {
      const DAY = 86_400_000;
      const OLD = T0 - 100 * DAY + 5 * 3_600_000;
      const cutoffs = { records_before: T0 - 50 * DAY, clicks_before: T0 - 50 * DAY, views_before: T0 - 60 * DAY, transcripts_before: T0 - 10 * DAY };

      /** old rows that may go, old rows a queued fire keeps, and recent ones */
      const seed = async () => {
        const oldClick = touch({ occurred_at: OLD, created_at: OLD });
        const oldView = touch({ kind: 'view', source: 'impression', occurred_at: OLD, created_at: OLD });
        const keptClick = touch({ occurred_at: OLD, created_at: OLD });
        const recentClick = touch({ occurred_at: T0, created_at: T0 });
        const goneConv = conversion({ touch_id: oldClick.id, created_at: OLD, occurred_at: OLD });
        const unattributed = conversion({ outcome: 'unattributed', created_at: OLD, occurred_at: OLD });
        const keptConv = conversion({ touch_id: keptClick.id, created_at: OLD, occurred_at: OLD });
        const recentConv = conversion({ touch_id: recentClick.id, created_at: T0 - 20 * DAY, occurred_at: T0 - 20 * DAY });
        const goneFire = fire({ conversion_id: goneConv.id, created_at: OLD, next_attempt_at: OLD });
        const keptFire = fire({ conversion_id: keptConv.id, created_at: OLD, next_attempt_at: T0 + DAY });
        const recentFire = fire({ conversion_id: recentConv.id, created_at: T0 - 20 * DAY, next_attempt_at: T0 - 20 * DAY });
        await store.insertTouches([oldClick, oldView, keptClick, recentClick]);
        await store.transaction(async (tx) => {
          for (const c of [goneConv, unattributed, keptConv, recentConv]) await tx.insertConversion(c);
          for (const f of [goneFire, keptFire, recentFire]) await tx.insertFire(f);
        });
        await store.claimFires('d1', OLD, DAY, 10);
        await store.recordAttempt(goneFire.id, 'd1', attempt({ outcome: 'retry', error_class: 'timeout', started_at: OLD }), { state: 'queued', next_attempt_at: OLD + 1, last_error: 'timeout' });
        await store.claimFires('d1', OLD + 1, DAY, 10);
        await store.recordAttempt(goneFire.id, 'd1', attempt({ started_at: OLD + 1 }), { state: 'fired', next_attempt_at: null, last_error: null });
        await store.claimFires('d1', T0 - 20 * DAY, DAY, 10);
        await store.recordAttempt(recentFire.id, 'd1', attempt({ started_at: T0 - 20 * DAY }), { state: 'fired', next_attempt_at: null, last_error: null });
        return { goneFire, keptFire, recentFire, keptClick, keptConv, oldClick };
      };

      it('counts the outbox right now', async () => {
        await queueFire({ next_attempt_at: T0 - 2 * SEC });
        await queueFire({ next_attempt_at: T0 });
        await queueFire({ next_attempt_at: T0 + SEC });
        await queueFire({ next_attempt_at: T0 - 5 * SEC });
        await store.claimFires('d1', T0 - 5 * SEC, DAY, 1);
        expect(await store.queueStats(T0)).toEqual({ queued: 3, due: 2, in_flight: 1, oldest_due_at: T0 - 2 * SEC });
        expect(await store.queueStats(T0 - 10 * SEC)).toEqual({ queued: 3, due: 0, in_flight: 1, oldest_due_at: null });
      });

      it('counts rows per metric, key and bucket', async () => {
        await seed();
        const stats = await store.stats(OLD - 5 * 3_600_000, T0 + DAY, DAY);
        const count = (metric: string, key: string, at: number) => stats.counts.find((c) => c.metric === metric && c.key === key && c.at === at)?.count;
        const oldDay = OLD - 5 * 3_600_000;
        expect(count('touches', 'click', oldDay)).toBe(2);
        expect(count('touches', 'view', oldDay)).toBe(1);
        expect(count('touches', 'click', T0)).toBe(1);
        expect(count('conversions', 'attributed', oldDay)).toBe(2);
        expect(count('conversions', 'unattributed', oldDay)).toBe(1);
        expect(count('fires', 'fired', oldDay)).toBe(1);
        expect(count('fires', 'queued', oldDay)).toBe(1);
        expect(count('attempts', 'retry', oldDay)).toBe(1);
        expect(count('attempts', 'fired', oldDay)).toBe(1);
        expect(count('attempt_errors', 'timeout', oldDay)).toBe(1);
        expect(stats.counts.every((c) => c.at >= stats.from && c.at < stats.to && (c.at - stats.from) % DAY === 0)).toBe(true);
      });

      it('purges what the dry run counted, in batches, and keeps the numbers in daily counts', async () => {
        const seeded = await seed();
        const range = [T0 - 120 * DAY, T0 + DAY, DAY] as const;
        const before = await store.stats(...range);
        const counted = await store.purgeCounts(cutoffs);
        expect(counted).toEqual({ fires: 1, attempts: 2, conversions: 2, touches: 2, transcripts: 1 });

        const total = noPurgeCounts();
        for (const step of PURGE_STEPS) {
          for (;;) {
            const done = await store.purgeBatch(step, cutoffs, 1);
            for (const k of Object.keys(total) as (keyof PurgeCounts)[]) total[k] += done[k];
            if (done[step] < 1) break;
          }
        }
        expect(total).toEqual(counted);
        expect(await store.purgeCounts(cutoffs)).toEqual(noPurgeCounts());

        expect(await store.getFire(seeded.goneFire.id)).toBeUndefined();
        expect(await store.touchByCid(seeded.oldClick.cid)).toBeUndefined();
        // a queued fire keeps its conversion and touch however old
        expect(await store.getFire(seeded.keptFire.id)).toMatchObject({ conversion: seeded.keptConv, touch: seeded.keptClick });
        // a kept fire's old transcript is cleared, its attempt kept
        expect((await store.getFire(seeded.recentFire.id))!.attempts.map((a) => [a.outcome, a.hops])).toEqual([['fired', null]]);
        // the charts over the purged period do not change
        expect(await store.stats(...range)).toEqual(before);
      });
    });

    describe('onFiresQueued', () => {
      /** long enough for a notification that should not come to have come */
      const settle = () => new Promise((r) => setTimeout(r, 150));

      it('calls back after a commit that queued a fire, never after a rollback', async () => {
        let calls = 0;
        const off = store.onFiresQueued(() => calls++);

        await store.transaction((tx) => tx.insertTouch(touch()));
        await settle();
        expect(calls).toBe(0);

        const rolledBack = fire();
        await expect(store.transaction(async (tx) => {
          await tx.insertFire(rolledBack);
          expect(calls).toBe(0); // not before the commit either
          throw new Error('abort');
        })).rejects.toThrow('abort');
        await settle();
        expect(calls).toBe(0);
        expect(await store.getFire(rolledBack.id)).toBeUndefined();

        await store.transaction(async (tx) => {
          await tx.insertFire(fire());
          await tx.insertFire(fire());
        });
        expect(calls).toBe(1);
        await settle();
        expect(calls).toBe(1);

        off();
        await queueFire();
        await settle();
        expect(calls).toBe(1);
      });

      it('calls back when fires are released or replayed', async () => {
        const f = await queueFire();
        await store.claimFires('d1', T0, SEC, 10);
        let calls = 0;
        store.onFiresQueued(() => calls++);
        await store.releaseFires('d1', T0);
        expect(calls).toBe(1);
        await store.claimFires('d1', T0, SEC, 10);
        await store.recordAttempt(f.id, 'd1', attempt({ outcome: 'failed' }), { state: 'failed', next_attempt_at: null, last_error: 'x' });
        await settle();
        expect(calls).toBe(1);
        await store.replayFire(f.id, T0);
        expect(calls).toBe(2);
      });
    });

    it('keeps everything across a restart', async () => {
      const t = touch({ visitor_id: 'v1', hint_key: 'h' });
      const conv = conversion({ touch_id: t.id, dedup_key: 'o:59633:A-1', order_id: 'A-1' });
      const f = fire({ conversion_id: conv.id });
      const inst = install({ touch_id: t.id, flags: { a: [1, 2] } });
      await store.transaction(async (tx) => {
        await tx.insertTouch(t);
        await tx.insertConversion(conv);
        await tx.insertFire(f);
        await tx.insertInstall(inst);
      });
      const queued = await queueFire({ next_attempt_at: T0 + 60 * SEC });
      await store.claimFires('d1', T0, SEC, 10);
      await store.recordAttempt(f.id, 'd1', attempt(), { state: 'fired', next_attempt_at: null, last_error: null });
      await store.countDiagnostics([{ day: '2026-01-01', site: 's', kind: 'k', count: 3 }]);
      await store.secret('hint_salt', 'kept');
      const before = await store.getFire(f.id);
      await store.close();

      const reopened = open();
      expect(await reopened.migrationsCurrent()).toBe(true);
      expect(await reopened.migrate()).toEqual([]);
      expect(await reopened.getFire(f.id)).toEqual(before);
      expect(await reopened.touchByCid(t.cid)).toEqual(t);
      expect(await reopened.transaction((tx) => tx.conversionByDedupKey('o:59633:A-1'))).toEqual(conv);
      expect(await reopened.transaction((tx) => tx.insertConversion(conversion({ dedup_key: 'o:59633:A-1' })))).toBe(false);
      expect(await reopened.transaction((tx) => tx.installByTouch(t.id))).toEqual(inst);
      expect(await reopened.diagnostics('2026-01-01', '2026-01-01')).toEqual([{ day: '2026-01-01', site: 's', kind: 'k', count: 3 }]);
      expect(await reopened.secret('hint_salt', 'new')).toBe('kept');
      expect(await reopened.nextDueAt()).toBe(T0 + 60 * SEC);
      expect(await reopened.countFires()).toEqual({ queued: 1, in_flight: 0, fired: 1, failed: 0, held: 0 });
      expect((await reopened.claimFires('d2', T0 + 60 * SEC, SEC, 10)).map((x) => x.id)).toEqual([queued.id]);
    });
  });
}
