// Guards attribution exactly as Microsoft's conversion pixels decide it: the latest click in its window wins, even
// over a later view; with no click, the latest view in its window; else unattributed. Each window's edge is tested
// inside and outside by one millisecond, each trigger_type and each min_minutes_per_conv mode, over real HTTP
// with an injected clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MINUTE } from '../../collector/clock.js';
import { bearer, post, SERVER_KEY, startTestCollector, token, type TestCollector } from '../support/collector.js';

const CLICK_MINS = 60;
const VIEW_MINS = 10;
const window = { post_click_expire_mins: CLICK_MINS, post_view_expire_mins: VIEW_MINS, min_minutes_per_conv: 0 };

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector({
    pixels: {
      click_px: { id: 1, trigger_type: 'click', ...window },
      view_px: { id: 2, trigger_type: 'view', ...window },
      hybrid_px: { id: 3, trigger_type: 'hybrid', ...window },
      once_px: { id: 4, trigger_type: 'hybrid', ...window, min_minutes_per_conv: null },
      every_px: { id: 5, trigger_type: 'hybrid', ...window, min_minutes_per_conv: 0 },
      thirty_px: { id: 6, trigger_type: 'hybrid', ...window, post_click_expire_mins: 1440, min_minutes_per_conv: 30 },
    },
  });
});
afterAll(() => c.stop());

let seq = 0;
const visitor = () => `visitor-${String(++seq).padStart(12, '0')}`;

async function touch(visitor_id: string, kind: 'click' | 'view', at: number) {
  const res = await post(c.url + '/v1/touches', { token: token(`${kind}${at}`), kind, visitor_id, occurred_at: at }, bearer(SERVER_KEY));
  expect(res.status, res.text).toBe(200);
  return res.json as { touch_id: string };
}

async function convert(pixel: string, visitor_id: string, at: number, extra: Record<string, unknown> = {}) {
  const res = await post(c.url + '/v1/conversions', { pixel, visitor_id, occurred_at: at, ...extra }, bearer(SERVER_KEY));
  expect(res.status, res.text).toBe(200);
  return res.json as { outcome: string; conversion_id: string; fire_id: string | null };
}

async function touchOf(fire_id: string | null) {
  if (!fire_id) return null;
  const fire = await c.ctx.store.getFire(fire_id);
  return fire?.touch?.id ?? null;
}

type Touches = [kind: 'click' | 'view', minutesBefore: number, msExtra?: number][];
interface Case {
  name: string;
  pixel: string;
  touches: Touches;
  /** index of the touch that must win, or null for unattributed */
  wins: number | null;
}

const cases: Case[] = [
  { name: 'click only', pixel: 'click_px', touches: [['click', 5]], wins: 0 },
  { name: 'view only, click pixel', pixel: 'click_px', touches: [['view', 1]], wins: null },
  { name: 'view only, view pixel', pixel: 'view_px', touches: [['view', 1]], wins: 0 },
  { name: 'view only, hybrid pixel', pixel: 'hybrid_px', touches: [['view', 1]], wins: 0 },
  { name: 'click only, view pixel (a click is also an impression)', pixel: 'view_px', touches: [['click', 1]], wins: 0 },
  { name: 'click older than a later view (hybrid)', pixel: 'hybrid_px', touches: [['click', 30], ['view', 1]], wins: 0 },
  { name: 'latest of two clicks', pixel: 'hybrid_px', touches: [['click', 30], ['click', 20], ['view', 1]], wins: 1 },
  { name: 'latest of two views', pixel: 'hybrid_px', touches: [['view', 8], ['view', 2]], wins: 1 },
  { name: 'click window: inside by 1 ms', pixel: 'click_px', touches: [['click', CLICK_MINS, -1]], wins: 0 },
  { name: 'click window: outside by 1 ms', pixel: 'click_px', touches: [['click', CLICK_MINS, 1]], wins: null },
  { name: 'view window: inside by 1 ms', pixel: 'view_px', touches: [['view', VIEW_MINS, -1]], wins: 0 },
  { name: 'view window: outside by 1 ms', pixel: 'view_px', touches: [['view', VIEW_MINS, 1]], wins: null },
  { name: 'expired click falls back to a view (hybrid)', pixel: 'hybrid_px', touches: [['click', CLICK_MINS, 1], ['view', 3]], wins: 1 },
  { name: 'touch after the conversion does not count', pixel: 'hybrid_px', touches: [['click', -1]], wins: null },
  { name: 'nothing at all', pixel: 'hybrid_px', touches: [], wins: null },
];

describe('attribution', () => {
  it.each(cases)('$name', async ({ pixel, touches, wins }) => {
    const v = visitor();
    const at = c.clock.now();
    const ids: string[] = [];
    for (const [kind, minutes, extra = 0] of touches) ids.push((await touch(v, kind, at - minutes * MINUTE - extra)).touch_id);
    const res = await convert(pixel, v, at);
    expect(res.outcome).toBe(wins === null ? 'unattributed' : 'attributed');
    expect(await touchOf(res.fire_id)).toBe(wins === null ? null : ids[wins]);
  });

  it('a cid from the script identifies its visitor', async () => {
    const t = await post(c.url + '/t', { t: token('cid') }, { 'content-type': 'text/plain' });
    const res = await convert('click_px', undefined as never, c.clock.now(), { visitor_id: undefined, cid: t.json.cid });
    expect(res.outcome).toBe('attributed');
  });

  it('a token never seen before is its own click', async () => {
    const res = await convert('click_px', undefined as never, c.clock.now(), { visitor_id: undefined, token: token('fresh') });
    expect(res.outcome).toBe('attributed');
    const fire = await c.ctx.store.getFire(res.fire_id!);
    expect(fire?.token).toBe(token('fresh'));
  });

  it('a known token outside its window stays unattributed', async () => {
    const v = visitor();
    const at = c.clock.now();
    await post(c.url + '/v1/touches', { token: token('old'), visitor_id: v, occurred_at: at - (CLICK_MINS + 1) * MINUTE }, bearer(SERVER_KEY));
    const res = await convert('click_px', undefined as never, at, { visitor_id: undefined, token: token('old') });
    expect(res.outcome).toBe('unattributed');
  });
});

describe('min_minutes_per_conv', () => {
  async function series(pixel: string, minutesApart: number[]) {
    const v = visitor();
    const start = c.clock.now();
    await touch(v, 'click', start - 1);
    const outcomes: string[] = [];
    let at = start;
    for (const gap of minutesApart) {
      at += gap * MINUTE;
      outcomes.push((await convert(pixel, v, Math.min(at, c.clock.now() + 4 * MINUTE))).outcome);
    }
    return outcomes;
  }

  it('null: one conversion per user', async () => {
    expect(await series('once_px', [0, 1, 2])).toEqual(['attributed', 'duplicate', 'duplicate']);
  });

  it('0: every conversion', async () => {
    expect(await series('every_px', [0, 0, 1])).toEqual(['attributed', 'attributed', 'attributed']);
  });

  it('N: at most one per N minutes', async () => {
    const v = visitor();
    const base = c.clock.now() - 100 * MINUTE;
    await touch(v, 'click', base - 1);
    const at = (m: number, ms = 0) => base + m * MINUTE + ms;
    const outcomes = [];
    for (const t of [at(0), at(10), at(30, -1), at(30), at(59), at(60, 1)]) outcomes.push((await convert('thirty_px', v, t)).outcome);
    expect(outcomes).toEqual(['attributed', 'duplicate', 'duplicate', 'attributed', 'duplicate', 'attributed']);
  });

  it('an order_id is one conversion per pixel whatever the mode', async () => {
    const v = visitor();
    await touch(v, 'click', c.clock.now() - 1);
    const first = await convert('every_px', v, c.clock.now(), { order_id: 'ORD-1' });
    const again = await convert('every_px', v, c.clock.now(), { order_id: 'ORD-1' });
    const other = await convert('hybrid_px', v, c.clock.now(), { order_id: 'ORD-1' });
    expect([first.outcome, again.outcome, other.outcome]).toEqual(['attributed', 'duplicate', 'attributed']);
    expect(again.conversion_id).toBe(first.conversion_id);
    expect(again.fire_id).toBe(first.fire_id);
  });
});
