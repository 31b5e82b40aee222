// Guards issue 14, items 1, 2, 3 and 7, on SQLite and on PostgreSQL, over real HTTP with an injected clock: counting as
// Microsoft counts.
// 1. The order-id rule only blocks a second *attributed* conversion: an unattributed one (an anonymous thank-you page)
//    never takes the order; the later attributed one fires and supersedes it (linked both ways: superseded_by on the
//    row, `linked` on the fire). An order fires once, concurrent arrivals included (two collectors on PostgreSQL).
// 2. Windows of 0, null or no key mean Microsoft's maxima (90 days after a click, 30 after an impression).
// 3. min_minutes_per_conv applies per visitor, order id or not; a duplicate's answer names the rule that decided it,
//    and so does the dashboard.
// 7. A click is also an impression: a view pixel counts clicks in its view window; a hybrid's click in its click
//    window wins over a newer view, else the latest impression of either kind in the view window.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firePage } from '../../collector/admin/pages.js';
import { MINUTE } from '../../collector/clock.js';
import { describePixel, parseConfig } from '../../collector/config.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import type { Store } from '../../collector/store/store.js';
import { ADMIN_KEY, BASE_CONFIG, bearer, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { fetchDocumented } from '../support/openapi.js';
import { describePg } from '../support/pg.js';
import { spawnCollector } from '../support/proc.js';

const VIEW_MINS = 10;
const DAY_MINS = 1440;
const pixels = {
  // item 1: no repeat rule in the way
  orders: { id: 8101, trigger_type: 'hybrid', min_minutes_per_conv: 0 },
  // item 2: every way of asking for the maximum windows
  w_zero: { id: 8201, trigger_type: 'hybrid', post_click_expire_mins: 0, post_view_expire_mins: 0, min_minutes_per_conv: 0 },
  w_null: { id: 8202, trigger_type: 'hybrid', post_click_expire_mins: null, post_view_expire_mins: null, min_minutes_per_conv: 0 },
  w_missing: { id: 8203, trigger_type: 'hybrid', min_minutes_per_conv: 0 },
  // item 3
  once: { id: 8301, trigger_type: 'hybrid', min_minutes_per_conv: null },
  every: { id: 8302, trigger_type: 'hybrid', min_minutes_per_conv: 0 },
  thirty: { id: 8303, trigger_type: 'hybrid', min_minutes_per_conv: 30 },
  // item 7
  view_px: { id: 8701, trigger_type: 'view', post_click_expire_mins: 60, post_view_expire_mins: VIEW_MINS, min_minutes_per_conv: 0 },
  hybrid_px: { id: 8702, trigger_type: 'hybrid', post_click_expire_mins: 60, post_view_expire_mins: VIEW_MINS, min_minutes_per_conv: 0 },
  wide_view: { id: 8703, trigger_type: 'hybrid', post_click_expire_mins: 10, post_view_expire_mins: 60, min_minutes_per_conv: 0 },
} as const;
type PixelName = keyof typeof pixels;

interface Answer {
  outcome: string;
  conversion_id: string;
  fire_id: string | null;
  rule: string | null;
}

/**
 * The suite on one store. `sibling` opens a second store on the same database, for a second collector that races the
 * first (PostgreSQL); without it (SQLite: one writer) the racing requests share one collector.
 */
function suite(name: string, store?: () => Store, sibling?: () => Store) {
  describe(`counted as Microsoft counts (${name})`, () => {
    let c: TestCollector;
    let c2: TestCollector;
    beforeAll(async () => {
      c = await startTestCollector({ pixels: pixels as never }, { store: store?.() });
      c2 = sibling ? await startTestCollector({ pixels: pixels as never }, { store: sibling(), clock: c.clock }) : c;
    });
    afterAll(async () => {
      if (c2 !== c) await c2?.stop();
      await c?.stop();
    });

    let n = 0;
    const fresh = (what: string) => `${what}-${name.slice(0, 2)}-${++n}`;

    async function touch(visitor_id: string, kind: 'click' | 'view', at?: number) {
      const res = await post(c.url + '/v1/touches', { token: token(fresh(kind)), kind, visitor_id, occurred_at: at }, bearer(SERVER_KEY));
      expect(res.status, res.text).toBe(200);
      return res.json.touch_id as string;
    }

    async function convert(body: Record<string, unknown>, to: TestCollector = c): Promise<Answer> {
      const res = await post(to.url + '/v1/conversions', body, bearer(SERVER_KEY));
      expect(res.status, res.text).toBe(200);
      return res.json;
    }

    /** the thank-you page of a visitor whose cookie the collector never saw: nothing identifies it */
    async function anonymousPage(body: Record<string, unknown>): Promise<Answer> {
      const res = await post(c.url + '/c', body, { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' });
      expect(res.status, res.text).toBe(200);
      return res.json;
    }

    const fire = async (id: string | null) => (id ? (await c.ctx.store.getFire(id))! : undefined);

    describe('item 1: an unattributed conversion never takes the order id', () => {
      // each report of one order, in turn: `attributed` carries a fresh token (its own click), `unattributed` a
      // visitor nothing was recorded for, `page` is POST /c with no cookie and no cid (the case)
      type Report = 'attributed' | 'unattributed' | 'page';
      const cases: { name: string; reports: Report[]; outcomes: string[]; rules: (string | null)[] }[] = [
        { name: 'an anonymous thank-you page, then the backend with the token', reports: ['page', 'attributed'], outcomes: ['unattributed', 'attributed'], rules: [null, null] },
        { name: 'two unattributed reports, then an attributed one', reports: ['unattributed', 'page', 'attributed'], outcomes: ['unattributed', 'unattributed', 'attributed'], rules: [null, null, null] },
        { name: 'unattributed, attributed, attributed again', reports: ['unattributed', 'attributed', 'attributed'], outcomes: ['unattributed', 'attributed', 'duplicate'], rules: [null, null, 'order_id'] },
        { name: 'attributed twice', reports: ['attributed', 'attributed'], outcomes: ['attributed', 'duplicate'], rules: [null, 'order_id'] },
        { name: 'attributed, then an unattributed report', reports: ['attributed', 'page'], outcomes: ['attributed', 'duplicate'], rules: [null, 'order_id'] },
        { name: 'only unattributed reports', reports: ['unattributed', 'page'], outcomes: ['unattributed', 'unattributed'], rules: [null, null] },
      ];
      it.each(cases)('$name', async ({ reports, outcomes, rules }) => {
        const order_id = fresh('A');
        const answers: Answer[] = [];
        for (const r of reports) {
          const base = { pixel: 'orders', order_id };
          if (r === 'page') answers.push(await anonymousPage(base));
          else answers.push(await convert(r === 'attributed' ? { ...base, token: token(fresh('t')) } : { ...base, visitor_id: fresh('nobody') }));
        }
        expect(answers.map((a) => a.outcome)).toEqual(outcomes);
        expect(answers.map((a) => a.rule)).toEqual(rules);

        const fires = await c.ctx.store.listFires({ order_id });
        const winner = answers.find((a) => a.outcome === 'attributed');
        expect(fires.map((f) => f.conversion_id)).toEqual(winner ? [winner.conversion_id] : []);
        if (!winner) return;
        // a duplicate answers with the conversion and fire it duplicates
        for (const a of answers.filter((x) => x.outcome === 'duplicate')) expect([a.conversion_id, a.fire_id]).toEqual([winner.conversion_id, winner.fire_id]);
        // the unattributed reports before it are linked to it; the duplicates after it name it and their rule
        const before = answers.slice(0, answers.indexOf(winner)).map((a) => a.conversion_id);
        const linked = (await fire(winner.fire_id))!.linked;
        // (received at one clock reading, so in no particular order)
        const superseded = linked.filter((l) => l.outcome === 'unattributed').map((l) => [l.id, l.superseded_by]).sort();
        expect(superseded).toEqual(before.map((id) => [id, winner.conversion_id]).sort());
        expect(linked.filter((l) => l.outcome === 'duplicate').map((l) => [l.duplicate_of, l.rule])).toEqual(rules.filter(Boolean).map((r) => [winner.conversion_id, r]));
      });

      it('GET /v1/fires/:id and the dashboard show what the fire superseded', async () => {
        const order_id = fresh('A');
        const early = await anonymousPage({ pixel: 'orders', order_id });
        const won = await convert({ pixel: 'orders', order_id, token: token(fresh('t')) });
        const res = await fetchDocumented(`${c.url}/v1/fires/${won.fire_id}`, { headers: bearer(ADMIN_KEY) });
        const body = await res.json();
        expect(body.linked).toEqual([expect.objectContaining({ id: early.conversion_id, outcome: 'unattributed', superseded_by: won.conversion_id })]);
        const page = firePage({ fire: (await fire(won.fire_id))!, config: c.ctx.config, csrf: 'x', back: '' }).value;
        expect(page).toContain(`<tr data-conversion="${early.conversion_id}">`);
        expect(page).toContain(`superseded by <code>${won.conversion_id}</code>`);
      });

      it('concurrent arrivals of one order fire it once', async () => {
        const order_id = fresh('R');
        const bodies = [
          ...Array.from({ length: 4 }, () => ({ pixel: 'orders', order_id, token: token(fresh('t')) })),
          ...Array.from({ length: 3 }, () => ({ pixel: 'orders', order_id, visitor_id: fresh('nobody') })),
        ];
        const answers = await Promise.all(bodies.map((b, i) => convert(b, i % 2 ? c2 : c)));
        const attributed = answers.slice(0, 4);
        const winners = attributed.filter((a) => a.outcome === 'attributed');
        expect(winners).toHaveLength(1);
        for (const a of attributed.filter((x) => x !== winners[0])) expect(a).toEqual({ ...winners[0], outcome: 'duplicate', rule: 'order_id' });
        // an unattributed report never blocks: before the winner it stays unattributed, after it it is a duplicate
        for (const a of answers.slice(4)) expect(['unattributed', 'duplicate']).toContain(a.outcome);
        expect((await c.ctx.store.listFires({ order_id })).map((f) => f.id)).toEqual([winners[0].fire_id]);
      });
    });

    describe('item 2: windows of 0, null or no key are the maxima', () => {
      const MAX = { click: 129_600, view: 43_200 };
      const cases = (['w_zero', 'w_null', 'w_missing'] as const).flatMap((pixel) =>
        (['click', 'view'] as const).flatMap((kind) => [
          { name: `${pixel}: a ${kind} ${MAX[kind]} minutes old, inside by 1 ms`, pixel, kind, ageMs: MAX[kind] * MINUTE - 1, outcome: 'attributed' },
          { name: `${pixel}: a ${kind} ${MAX[kind]} minutes old, outside by 1 ms`, pixel, kind, ageMs: MAX[kind] * MINUTE + 1, outcome: 'unattributed' },
        ]),
      );
      it.each(cases)('$name', async ({ pixel, kind, ageMs, outcome }) => {
        const visitor_id = fresh('v');
        const touch_id = await touch(visitor_id, kind);
        c.clock.advance(ageMs);
        const res = await convert({ pixel, visitor_id });
        expect(res.outcome).toBe(outcome);
        expect((await fire(res.fire_id))?.touch?.id ?? null).toBe(outcome === 'attributed' ? touch_id : null);
      });

      it('the parsed configuration holds the effective windows', () => {
        const p = c.ctx.config.pixels;
        for (const name of ['w_zero', 'w_null', 'w_missing'] as const) {
          expect([p[name].post_click_expire_mins, p[name].post_view_expire_mins], name).toEqual([MAX.click, MAX.view]);
        }
        expect([p.view_px.post_click_expire_mins, p.view_px.post_view_expire_mins]).toEqual([60, VIEW_MINS]);
      });
    });

    describe('item 3: min_minutes_per_conv per visitor, with or without an order id', () => {
      // [minutes after the first, ms more, order id (null: none), whose: the visitor or another one]
      type Conv = [minutes: number, ms: number, order: string | null, whose?: 'other'];
      const cases: { name: string; pixel: PixelName; convs: Conv[]; outcomes: string[]; rules: (string | null)[] }[] = [
        { name: 'null: a second order of the visitor is a duplicate', pixel: 'once', convs: [[0, 0, 'A'], [60, 0, 'B']], outcomes: ['attributed', 'duplicate'], rules: [null, 'min_minutes_per_conv'] },
        { name: 'null: without order ids too', pixel: 'once', convs: [[0, 0, null], [60, 0, null]], outcomes: ['attributed', 'duplicate'], rules: [null, 'min_minutes_per_conv'] },
        { name: 'null: an order id after one without', pixel: 'once', convs: [[0, 0, null], [1, 0, 'A']], outcomes: ['attributed', 'duplicate'], rules: [null, 'min_minutes_per_conv'] },
        { name: 'null: another visitor converts on its own', pixel: 'once', convs: [[0, 0, 'A'], [1, 0, 'B', 'other']], outcomes: ['attributed', 'attributed'], rules: [null, null] },
        { name: 'null: the same order again is named by the order rule', pixel: 'once', convs: [[0, 0, 'A'], [1, 0, 'A']], outcomes: ['attributed', 'duplicate'], rules: [null, 'order_id'] },
        { name: '0: every order counts', pixel: 'every', convs: [[0, 0, 'A'], [0, 0, 'B'], [1, 0, null]], outcomes: ['attributed', 'attributed', 'attributed'], rules: [null, null, null] },
        {
          name: '30: at most one per 30 minutes, order ids or not',
          pixel: 'thirty',
          convs: [[0, 0, 'A'], [10, 0, 'B'], [30, -1, 'C'], [30, 0, 'D'], [59, 0, null], [60, 1, 'E']],
          outcomes: ['attributed', 'duplicate', 'duplicate', 'attributed', 'duplicate', 'attributed'],
          rules: [null, 'min_minutes_per_conv', 'min_minutes_per_conv', null, 'min_minutes_per_conv', null],
        },
      ];
      it.each(cases)('$name', async ({ pixel, convs, outcomes, rules }) => {
        const visitors = { mine: fresh('v'), other: fresh('v') };
        const base = c.clock.now() - 100 * MINUTE;
        for (const v of Object.values(visitors)) await touch(v, 'click', base - 1);
        const prefix = fresh('O');
        const answers: Answer[] = [];
        for (const [minutes, ms, order, whose] of convs) {
          answers.push(await convert({
            pixel, visitor_id: whose ? visitors.other : visitors.mine, occurred_at: base + minutes * MINUTE + ms, ...(order ? { order_id: `${prefix}-${order}` } : {}),
          }));
        }
        expect(answers.map((a) => a.outcome)).toEqual(outcomes);
        expect(answers.map((a) => a.rule)).toEqual(rules);
        // stored with its rule, shown on the dashboard's page of the fire it duplicates
        for (const [i, a] of answers.entries()) {
          if (a.outcome !== 'duplicate') continue;
          const original = (await fire(a.fire_id))!;
          expect(original.linked.filter((l) => l.rule === rules[i]).length).toBeGreaterThan(0);
          const page = firePage({ fire: original, config: c.ctx.config, csrf: 'x', back: '' }).value;
          expect(page).toContain(`data-rule="${rules[i]}"`);
        }
      });

      it('concurrent conversions of one visitor under null fire once', async () => {
        const visitor_id = fresh('v');
        await touch(visitor_id, 'click', c.clock.now() - MINUTE);
        const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => convert({ pixel: 'once', visitor_id, order_id: fresh('P') }, i % 2 ? c2 : c)));
        const winners = answers.filter((a) => a.outcome === 'attributed');
        expect(winners).toHaveLength(1);
        for (const a of answers.filter((x) => x !== winners[0])) expect(a).toEqual({ ...winners[0], outcome: 'duplicate', rule: 'min_minutes_per_conv' });
      });
    });

    describe('item 7: a click is also an impression', () => {
      type Touches = [kind: 'click' | 'view', minutesBefore: number, msExtra?: number][];
      const cases: { name: string; pixel: PixelName; touches: Touches; wins: number | null }[] = [
        { name: 'view pixel: a click counts as an impression', pixel: 'view_px', touches: [['click', 1]], wins: 0 },
        { name: 'view pixel: a newer click beats an older view', pixel: 'view_px', touches: [['view', 5], ['click', 2]], wins: 1 },
        { name: 'view pixel: a newer view beats an older click', pixel: 'view_px', touches: [['click', 5], ['view', 2]], wins: 1 },
        { name: 'view pixel: a click inside the view window by 1 ms', pixel: 'view_px', touches: [['click', VIEW_MINS, -1]], wins: 0 },
        { name: 'view pixel: a click outside the view window by 1 ms', pixel: 'view_px', touches: [['click', VIEW_MINS, 1]], wins: null },
        { name: 'hybrid: a click in its window beats a newer view', pixel: 'hybrid_px', touches: [['click', 30], ['view', 1]], wins: 0 },
        { name: 'hybrid: no click in its window, the latest impression wins, a click included', pixel: 'wide_view', touches: [['view', 40], ['click', 30]], wins: 1 },
        { name: 'hybrid: no click in its window, a newer view beats an expired click', pixel: 'wide_view', touches: [['click', 45], ['view', 40]], wins: 1 },
        { name: 'hybrid: a click past both windows counts for nothing', pixel: 'wide_view', touches: [['click', 61]], wins: null },
      ];
      it.each(cases)('$name', async ({ pixel, touches, wins }) => {
        const visitor_id = fresh('v');
        const at = c.clock.now();
        const ids: string[] = [];
        for (const [kind, minutes, extra = 0] of touches) ids.push(await touch(visitor_id, kind, at - minutes * MINUTE - extra));
        const res = await convert({ pixel, visitor_id, occurred_at: at });
        expect(res.outcome).toBe(wins === null ? 'unattributed' : 'attributed');
        expect((await fire(res.fire_id))?.touch?.id ?? null).toBe(wins === null ? null : ids[wins]);
      });

      it('view pixel: a token never seen is its own click, so an impression', async () => {
        const t = token(fresh('never-seen'));
        const res = await convert({ pixel: 'view_px', token: t });
        expect(res.outcome).toBe('attributed');
        expect((await fire(res.fire_id))?.token).toBe(t);
      });
    });
  });
}

describe('item 2: how each pixel counts, in one line', () => {
  const cases: [what: string, pixel: Record<string, unknown>, line: string][] = [
    ['no keys at all', { id: 1 }, 'p (1): click · click 90 d · one per order id · one per visitor'],
    ['windows 0, hybrid, every conversion', { id: 2, trigger_type: 'hybrid', post_click_expire_mins: 0, post_view_expire_mins: 0, min_minutes_per_conv: 0 },
      'p (2): hybrid · click 90 d · view 30 d · one per order id · every conversion of a visitor'],
    ['windows null, view', { id: 3, trigger_type: 'view', post_click_expire_mins: null, post_view_expire_mins: null },
      'p (3): view · view 30 d (clicks count as impressions) · one per order id · one per visitor'],
    ['windows set, a repeat window', { id: 4, trigger_type: 'hybrid', post_click_expire_mins: 43_200, post_view_expire_mins: 90, min_minutes_per_conv: 120 },
      'p (4): hybrid · click 30 d · view 90 min · one per order id · one per visitor per 2 h'],
  ];
  it.each(cases)('%s', (_what, pixel, line) => {
    const config = parseConfig({ pixels: { p: pixel } });
    expect(describePixel('p', config.pixels.p)).toBe(line);
  });

  it('refuses a window past the maximum, naming the key', () => {
    expect(() => parseConfig({ pixels: { p: { id: 1, post_view_expire_mins: 43_201 } } })).toThrow(/pixels\.p\.post_view_expire_mins/);
  });

  it('`sspx-relay serve` prints each pixel\'s line at start', async () => {
    const proc = await spawnCollector({
      config: { ...BASE_CONFIG, pixels: { purchase: { id: 59633, trigger_type: 'hybrid', post_click_expire_mins: null, post_view_expire_mins: 0 }, signup: { id: 7, min_minutes_per_conv: 30 } } },
    });
    try {
      const lines = proc.stdout().split('\n').map((l) => l.trim());
      expect(lines).toContain('purchase (59633): hybrid · click 90 d · view 30 d · one per order id · one per visitor');
      expect(lines).toContain('signup (7): click · click 90 d · one per order id · one per visitor per 30 min');
    } finally {
      await proc.stop();
    }
  });
});

suite('SQLite');
describePg('PostgreSQL', (pg) => {
  const schema = pg.newSchema();
  const open = () => new PostgresStore(pg.url, { schema, poolSize: 3 });
  suite('PostgreSQL', open, open);
});
