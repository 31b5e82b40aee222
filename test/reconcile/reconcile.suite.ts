// Guards the reconciliation over a real store, run unchanged on SQLite and PostgreSQL: the fixture's orders each
// land in their class (matched with click/view agreement, fired-not-counted with the likely reason, counted-not-fired,
// not-fired-here with why), values are compared exactly, fires without an order id are counted per pixel and hour,
// the command prints the same as JSON and as a table, and the report it read becomes the last one saved.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import { runReconcile } from '../../collector/commands/reconcile.js';
import type { OrderLine, Reconciliation } from '../../collector/reconcile/classify.js';
import { lastReport, reconcileStore } from '../../collector/reconcile/load.js';
import { parseReport } from '../../collector/reconcile/report.js';
import type { Store } from '../../collector/store/store.js';
import { captureIo } from '../support/io.js';
import { conversion, fire } from '../store/rows.js';
import { FIXTURES, FIXTURE_CONFIG, FROM, NOW, PURCHASE, SIGNUP, TO, fixtureConfig, seedFixture, type Seeded } from './fixture.js';

export interface ReconcileSite {
  open(): Store;
  /** the store URL the command's configuration names */
  url: string;
  /** a writable directory for the configuration file */
  dir: string;
}

const byOrder = (r: Reconciliation) => Object.fromEntries(r.orders.map((o) => [`${o.pixel_id}/${o.order_id}`, o])) as Record<string, OrderLine>;

export function reconcileSuite(name: string, makeSite: () => ReconcileSite): void {
  describe(`reconciliation on ${name}`, () => {
    let site: ReconcileSite;
    let store: Store;
    let seeded: Seeded;
    beforeEach(async () => {
      site = makeSite();
      store = site.open();
      await store.migrate();
      seeded = await seedFixture(store);
    });
    afterEach(() => store.close());

    const run = async (file: string) => {
      const rows = parseReport(readFileSync(join(FIXTURES, file), 'utf8'));
      return reconcileStore(store, fixtureConfig(), { rows, from: FROM, to: TO, source: file });
    };

    it('leaves test conversions out: their fires never reach Microsoft, so its report never counts them', async () => {
      const at = FROM + 3_600_000;
      for (const [order_id, value] of [['T-900', '10'], ['A-100', '99']]) {
        // a test of a new order (else fired_not_counted) and a test of a matched order with another value (else a mismatch)
        const c = conversion({ pixel_id: PURCHASE, order_id, value, user_key: null, occurred_at: at, created_at: at, test: true });
        const f = fire({ conversion_id: c.id, pixel_id: PURCHASE, order_id, value, state: 'fired', dry_run: true, test: true, created_at: at, updated_at: at, fired_at: at, attempt_count: 1 });
        await store.transaction(async (tx) => {
          await tx.insertConversion(c);
          await tx.insertFire(f);
        });
      }
      const r = await run('attributed-conversions.csv');
      expect({ m: r.matched, f: r.fired_not_counted, v: r.value_mismatch }).toEqual({ m: 4, f: 4, v: 1 });
      expect(r.orders.some((o) => o.order_id === 'T-900')).toBe(false);
      expect(byOrder(r)[`${PURCHASE}/A-100`].class).toBe('matched');
    });

    it('puts every order of the period in its class, with the counts of each', async () => {
      const r = await run('attributed-conversions.csv');
      expect({ m: r.matched, f: r.fired_not_counted, c: r.counted_not_fired, n: r.not_fired_here, v: r.value_mismatch, cv: r.click_view_differ })
        .toEqual({ m: 4, f: 4, c: 2, n: 6, v: 1, cv: 1 });
      const classes = Object.fromEntries(r.orders.map((o) => [`${o.pixel_id}/${o.order_id}`, o.class]));
      expect(classes).toEqual({
        [`${PURCHASE}/A-100`]: 'matched', [`${PURCHASE}/A-101`]: 'matched', [`${PURCHASE}/A-102`]: 'matched', [`${PURCHASE}/A-103`]: 'matched',
        [`${PURCHASE}/B-200`]: 'fired_not_counted', [`${SIGNUP}/B-201`]: 'fired_not_counted', [`${SIGNUP}/B-202`]: 'fired_not_counted', [`${PURCHASE}/B-203`]: 'fired_not_counted',
        [`${PURCHASE}/C-300`]: 'counted_not_fired', [`99999/A-100`]: 'counted_not_fired',
        [`${PURCHASE}/D-400`]: 'not_fired_here', [`${PURCHASE}/D-401`]: 'not_fired_here', [`${PURCHASE}/D-402`]: 'not_fired_here',
        [`${SIGNUP}/D-403`]: 'not_fired_here', [`${PURCHASE}/D-404`]: 'not_fired_here', [`${PURCHASE}/D-405`]: 'not_fired_here',
      });
      // neither fired nor counted (E-500), or fired outside the period (B-199): nothing to reconcile
      expect(r.orders.some((o) => o.order_id === 'E-500' || o.order_id === 'B-199')).toBe(false);
      expect(r.period).toEqual({ from: '2026-11-16T00:00:00Z', to: '2026-11-18T00:00:00Z', source: 'attributed-conversions.csv', report_rows: 16, report_rows_outside_period: 0 });
    });

    it('says for a matched order whether Microsoft’s click/view agrees, and who earned it', async () => {
      const o = byOrder(await run('attributed-conversions.csv'));
      expect(o[`${PURCHASE}/A-100`]).toMatchObject({
        click_view: 'agree',
        ours: { fire_id: seeded['A-100'].fire!.id, state: 'fired', touch_kind: 'click', value: '19.90', fired_at: '2026-11-16T09:00:40Z' },
        theirs: { at: '2026-11-16T09:00:41Z', kind: 'click', line_item: { id: '310001', name: 'Winter sale - retargeting' },
          campaign: { id: '410001', name: 'Winter sale' }, creative: { id: '510001', name: 'Banner 300x250 "blue"' }, rows: 1 },
      });
      expect(o[`${PURCHASE}/A-101`].click_view).toBe('differ');
      expect(o[`${PURCHASE}/A-101`].facts).toContain('Microsoft counted a post-click; we attributed a view');
      expect(o[`${PURCHASE}/A-103`].click_view).toBe('agree');
    });

    it('compares values as exact decimals', async () => {
      const o = byOrder(await run('attributed-conversions.csv'));
      expect(o[`${PURCHASE}/A-100`].value).toEqual({ ours: '19.9', theirs: '19.9', match: true, difference: '0' });
      expect(o[`${PURCHASE}/A-102`].value).toEqual({ ours: '10.1', theirs: '10.01', match: false, difference: '-0.09' });
      expect(o[`${PURCHASE}/A-103`].value).toEqual({ ours: '0.3', theirs: '0.3', match: true, difference: '0' });
    });

    it('lists what we know of each fire Microsoft did not count, the likely reason first', async () => {
      const o = byOrder(await run('attributed-conversions.csv'));
      const b200 = o[`${PURCHASE}/B-200`];
      expect(b200.reason).toMatch(/near the end of the post-click window/);
      expect(b200.facts).toContain('token 29.5 d old when fired (click); the post-click window is 30 d');
      expect(b200.facts).toContain('the router took it: attempt 1, 2 hops (302 → 200)');
      const b201 = o[`${SIGNUP}/B-201`];
      expect(b201.reason).toBe("the token was past the pixel's post-click window when fired");
      expect(b201.facts).toContain('token 8 d old when fired (click); the post-click window is 7 d');
      expect(b201.facts).toContain('fired 2 d after the conversion occurred (retries or a late report)');
      expect(o[`${SIGNUP}/B-202`].reason).toBe('Microsoft counts one conversion per user for this pixel (min_minutes_per_conv null): 1 earlier fire for this visitor');
      expect(o[`${PURCHASE}/B-203`].reason).toBe("fired in the period's last hours: the report may not include it yet");
    });

    it('names why we did not fire what Microsoft counted anyway', async () => {
      const o = byOrder(await run('attributed-conversions.csv'));
      expect(o[`${PURCHASE}/D-400`].reason).toBe('failed: HTTP 400 from the router: invalid sspdata');
      expect(o[`${PURCHASE}/D-401`].reason).toBe('held: the attempt was ambiguous; it waits for a replay (timed out after the request was sent)');
      expect(o[`${PURCHASE}/D-402`].reason).toBe("unattributed: no touch of this visitor in the pixel's windows");
      expect(o[`${SIGNUP}/D-403`].reason).toBe(`duplicate of conversion ${seeded['B-199'].conversion.id}: the visitor converted on this pixel before, within min_minutes_per_conv`);
      expect(o[`${PURCHASE}/D-404`].reason).toBe('not fired yet (queued)');
      expect(o[`${PURCHASE}/D-405`].reason).toBe('not fired yet (in flight)');
      expect(o[`${PURCHASE}/D-400`].ours).toMatchObject({ state: 'failed', fire_id: seeded['D-400'].fire!.id });
      expect(o[`${PURCHASE}/D-402`].ours).toMatchObject({ state: null, outcome: 'unattributed', fire_id: null });
    });

    it('flags an order counted under a pixel we do not fire (a second integration)', async () => {
      const o = byOrder(await run('attributed-conversions.csv'));
      expect(o['99999/A-100'].facts).toEqual(['pixel 99999 is not in our configuration', `we fired this order id under pixel ${PURCHASE}`]);
      expect(o[`${PURCHASE}/C-300`].facts).toEqual([]);
      expect(o[`${PURCHASE}/C-300`].reason).toMatch(/another pixel on the page or a second integration/);
    });

    it('compares fires without an order id as counts per pixel and UTC hour', async () => {
      const r = await run('attributed-conversions.csv');
      expect(r.hours).toEqual([
        { pixel_id: PURCHASE, hour: '2026-11-16T09:00:00Z', ours: 3, theirs: 2, difference: -1 },
        { pixel_id: SIGNUP, hour: '2026-11-17T13:00:00Z', ours: 1, theirs: 1, difference: 0 },
        { pixel_id: PURCHASE, hour: '2026-11-17T15:00:00Z', ours: 0, theirs: 1, difference: 1 },
      ]);
    });

    it('reads the UI export and the Report Service JSON to the same reconciliation', async () => {
      const csv = await run('attributed-conversions.csv');
      for (const file of ['attributed-conversions-ui.csv', 'attributed-conversions.json']) {
        const other = await run(file);
        expect({ ...other, period: { ...other.period, source: 'x' } }).toEqual({ ...csv, period: { ...csv.period, source: 'x' } });
      }
    });

    it('narrows a report to --since/--until, counting the rows left out', async () => {
      const config = join(site.dir, `narrow-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(config, JSON.stringify({ ...FIXTURE_CONFIG, store: site.url }));
      const io = captureIo();
      const report = join(FIXTURES, 'attributed-conversions.json');
      expect(await runReconcile({ config, report, since: '2026-11-16', until: '2026-11-17', json: true }, io, new ManualClock(NOW))).toBe(0);
      const json = JSON.parse(io.stdout()) as Reconciliation;
      expect(json.period).toMatchObject({ from: '2026-11-16T00:00:00Z', to: '2026-11-17T00:00:00Z', report_rows: 9, report_rows_outside_period: 7 });
      expect({ m: json.matched, f: json.fired_not_counted, c: json.counted_not_fired, n: json.not_fired_here }).toEqual({ m: 3, f: 1, c: 2, n: 2 });
      expect(json.orders.every((o) => o.at.startsWith('2026-11-16'))).toBe(true);
    });

    it('reconciles from the command line as JSON and as a table, and keeps the report as the last one', async () => {
      const config = join(site.dir, `reconcile-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(config, JSON.stringify({ ...FIXTURE_CONFIG, store: site.url }));
      const report = join(FIXTURES, 'attributed-conversions.csv');
      const io = captureIo();
      expect(await runReconcile({ config, report, json: true }, io, new ManualClock(NOW))).toBe(0);
      const json = JSON.parse(io.stdout());
      expect(Object.keys(json).slice(0, 7)).toEqual(['period', 'matched', 'fired_not_counted', 'counted_not_fired', 'not_fired_here', 'value_mismatch', 'click_view_differ']);
      expect(json).toMatchObject({ matched: 4, fired_not_counted: 4, counted_not_fired: 2, not_fired_here: 6, value_mismatch: 1 });
      expect(json.orders).toHaveLength(16);

      const saved = await lastReport(store);
      expect(saved).toMatchObject({ from: FROM, to: TO, source: 'attributed-conversions.csv', saved_at: NOW });
      expect(saved!.rows).toHaveLength(16);

      const table = captureIo();
      expect(await runReconcile({ config, report }, table, new ManualClock(NOW))).toBe(0);
      const text = table.stdout();
      expect(text).toContain('sspx-relay reconcile: 2026-11-16 00:00 to 2026-11-18 00:00 UTC, attributed-conversions.csv (16 report rows)');
      expect(text).toMatch(/^ {2}fired, not counted {2}4 {2}/m);
      expect(text).toMatch(/^ {2}not fired here {6}6 {2}/m);
      expect(text).toMatch(/^ {2}matched +59633 +A-102 +2026-11-16 11:00 +10\.1 ≠ 10\.01 +value differs by -0\.09; line item Winter sale, prospecting$/m);
      expect(text).toMatch(/^ {2}59633 +2026-11-16 09:00 +3 +2 +-1$/m);
      expect(text).not.toMatch(/A-100 .*matched/); // agreeing orders are only listed with --all
    });
  });
}
