// Guards re-engagement and explicit evidence, on SQLite and on PostgreSQL: an install bound to click A that a deep link
// later opens with token B, then with cid C, keeps its binding (one install conversion, for A) and records each as a
// click tied to the install (source app, once per token); its purchases credit B, then C, by recency; a purchase
// naming A's token credits A while A is in window, and the latest click after; a re-engagement click loses to a newer
// web click of the install's device, and beats a newer view of it; windows and trigger types hold; a click bound to
// another install refuses the open; on the web, a conversion's own token or cid beats its visitor's other clicks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MINUTE } from '../../collector/clock.js';
import { installOrderId } from '../../collector/ingest/installs.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import type { Store } from '../../collector/store/store.js';
import { ADMIN_KEY, APP_KEY, bearer, post, SERVER_KEY, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { describePg } from '../support/pg.js';
import { appOpen, idfa, impression, installId, later, openOk, scriptTouch } from './support.js';

const CLICK_MINS = 60;
const VIEW_MINS = 10;
const windows = { post_click_expire_mins: CLICK_MINS, post_view_expire_mins: VIEW_MINS, min_minutes_per_conv: 0 };
const INSTALL_PIXEL = 7400;

function reengagementSuite(name: string, store?: () => Store) {
  describe(`re-engagement and explicit evidence (${name})`, () => {
    let c: TestCollector;
    beforeAll(async () => {
      c = await startTestCollector(
        {
          pixels: {
            install: { id: INSTALL_PIXEL, on_install: true, trigger_type: 'click' },
            purchase: { id: 7401, trigger_type: 'hybrid', ...windows },
            clicks: { id: 7402, trigger_type: 'click', ...windows },
          },
        },
        { clock: new ManualClock(Date.now()), store: store?.() },
      );
    });
    afterAll(() => c?.stop());

    let n = 0;
    const fresh = (what: string) => token(`${name}-${what}-${++n}`);
    /** a conversion; answers its outcome and the token its fire carries */
    async function convert(body: Record<string, unknown>, key = APP_KEY) {
      const res = await post(c.url + '/v1/conversions', { order_id: `o-${name}-${++n}`, ...body }, bearer(key));
      expect(res.status, res.text).toBe(200);
      const fire = res.json.fire_id ? await c.ctx.store.getFire(res.json.fire_id) : undefined;
      return { outcome: res.json.outcome as string, token: fire?.token ?? null, touch: fire?.touch ?? null };
    }
    const purchase = (install_id: string, extra: Record<string, unknown> = {}) => convert({ pixel: 'purchase', install_id, ...extra });

    /** click A by the landing page's script, and an install bound to it through its deep link */
    async function boundInstall(device = idfa()) {
      const A = fresh('A');
      const cidA = await scriptTouch(c, { t: A });
      later(c);
      const id = installId();
      const open = await openOk(c, { install_id: id, platform: 'ios', cid: cidA, device_id: device });
      expect(open).toMatchObject({ bound: true, method: 'deep_link', touch: { cid: cidA } });
      return { id, A, cidA, open, device };
    }

    /** five minutes on, an ad's own deep link carrying a fresh token B opens the install */
    async function reengagedByToken(id: string) {
      later(c, 5 * MINUTE);
      const B = fresh('B');
      return { B, reB: (await openOk(c, { install_id: id, token: B })).reengagement! };
    }

    it('bound to A, re-engaged by token B then cid C: the binding stays, purchases credit B then C, a purchase naming A credits A in window', async () => {
      const { id, A, open } = await boundInstall();
      const installFires = () => c.ctx.store.listFires({ pixel_id: INSTALL_PIXEL, order_id: installOrderId(id) });
      expect((await installFires()).map((f) => f.token)).toEqual([A]);
      later(c, 5 * MINUTE);

      // a deep link carrying a token never seen before: the open itself is the click
      const B = fresh('B');
      const byToken = await openOk(c, { install_id: id, token: B });
      const { reengagement: reB, ...bindingB } = byToken;
      expect(bindingB).toEqual(open);
      expect(reB).toMatchObject({ method: 'token', kind: 'click', occurred_at: c.clock.now() });
      const touchB = (await c.ctx.store.touchByCid(reB!.cid))!;
      expect(touchB).toMatchObject({ token: B, source: 'app', kind: 'click', install_id: id });
      // an app retrying that open records nothing more and answers the same
      later(c, 1_000);
      expect(await openOk(c, { install_id: id, token: B })).toEqual(byToken);

      later(c);
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: B });

      // a Universal Link the landing page decorated with click C's cid
      later(c, 5 * MINUTE);
      const C = fresh('C');
      const cidC = await scriptTouch(c, { t: C });
      const clickedC = c.clock.now();
      later(c);
      const byCid = await openOk(c, { install_id: id, cid: cidC });
      expect(byCid.touch).toEqual(open.touch);
      expect(byCid.reengagement).toMatchObject({ method: 'deep_link', kind: 'click', occurred_at: clickedC });
      expect(await c.ctx.store.touchByCid(byCid.reengagement!.cid)).toMatchObject({ token: C, source: 'app', install_id: id });

      later(c);
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: C });
      // the install's own conversion was not touched by any of this
      expect((await installFires()).map((f) => f.token)).toEqual([A]);
      expect((await appOpen(c, { install_id: installId(), platform: 'ios', cid: open.touch!.cid })).status).toBe(409);

      // the purchase's own evidence wins over the install's newer clicks, in window only
      expect(await purchase(id, { token: A })).toMatchObject({ outcome: 'attributed', token: A });
      expect(await purchase(id, { token: B })).toMatchObject({ outcome: 'attributed', token: B });
      c.clock.set(touchB.occurred_at + CLICK_MINS * MINUTE + 1); // A and B are out of the click window, C is not
      expect(await purchase(id, { token: A })).toMatchObject({ outcome: 'attributed', token: C });
      expect(await purchase(id, { token: B })).toMatchObject({ outcome: 'attributed', token: C });
    });

    it('a re-engagement click beats newer touches reached only through the device id, which count once it expires', async () => {
      const { id, device } = await boundInstall();
      const { B, reB } = await reengagedByToken(id);
      later(c);
      const V = fresh('V');
      await impression(c, V, { idfa: device });
      later(c);
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: B });

      // a device id is weaker evidence than the install's own clicks (BIND_CONFIDENCE): anyone with an HTTP client
      // and the device's advertising id could have made this click
      const W = fresh('W');
      await scriptTouch(c, { t: W, ids: { idfa: device } });
      later(c);
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: B });
      c.clock.set(reB.occurred_at + CLICK_MINS * MINUTE + 1); // the install's clicks are out of the window, W is not
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: W });
    });

    it('windows and trigger types: an expired re-engagement click falls back to a view (hybrid), a click pixel stays unattributed', async () => {
      const { id, device } = await boundInstall();
      const { B, reB } = await reengagedByToken(id);
      c.clock.set(reB.occurred_at + CLICK_MINS * MINUTE - 1);
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: B });
      expect(await convert({ pixel: 'clicks', install_id: id })).toMatchObject({ outcome: 'attributed', token: B });

      const V = fresh('V');
      await impression(c, V, { idfa: device });
      c.clock.set(reB.occurred_at + CLICK_MINS * MINUTE + 1);
      expect(await purchase(id)).toMatchObject({ outcome: 'attributed', token: V });
      expect(await convert({ pixel: 'clicks', install_id: id })).toMatchObject({ outcome: 'unattributed', token: null });
      c.clock.advance(VIEW_MINS * MINUTE);
      expect(await purchase(id)).toMatchObject({ outcome: 'unattributed', token: null });
    });

    it("a deep link naming a click bound to another install refuses the open and records nothing", async () => {
      const first = await boundInstall();
      const second = await boundInstall();
      const res = await appOpen(c, { install_id: second.id, platform: 'ios', cid: first.cidA });
      expect([res.status, res.json.error]).toEqual([409, 'cid_already_bound']);
      const res2 = await appOpen(c, { install_id: second.id, platform: 'ios', token: first.A });
      expect([res2.status, res2.json.error]).toEqual([409, 'cid_already_bound']);
      later(c);
      expect(await purchase(second.id)).toMatchObject({ outcome: 'attributed', token: second.A });
    });

    it("the dashboard's install page lists the install's touches in order, marking the one each conversion credited", async () => {
      const { id, A } = await boundInstall();
      const { B } = await reengagedByToken(id);
      later(c);
      const first = await post(c.url + '/v1/conversions', { pixel: 'purchase', install_id: id, order_id: `dash-${name}-1` }, bearer(APP_KEY));
      later(c);
      const C = fresh('C');
      await openOk(c, { install_id: id, token: C });
      later(c);
      const second = await post(c.url + '/v1/conversions', { pixel: 'purchase', install_id: id, order_id: `dash-${name}-2` }, bearer(APP_KEY));

      const login = await fetch(c.url + '/admin/login', { method: 'POST', body: new URLSearchParams({ key: ADMIN_KEY, next: '/admin' }), redirect: 'manual' });
      const cookie = login.headers.get('set-cookie')!.split(';')[0];
      const page = await fetch(`${c.url}/admin/installs/${encodeURIComponent(id)}`, { headers: { cookie } });
      expect(page.status).toBe(200);
      const text = await page.text();
      const rows = [...text.matchAll(/<tr data-touch="([^"]+)"[\s\S]*?<code>([^<]*)<\/code>[\s\S]*?data-credited="([^"]*)"/g)].map(([, touch, token, credited]) => ({ touch, token, credited }));
      const tokenOf = async (touch_id: string) => (await c.ctx.store.transaction((tx) => tx.touchById(touch_id)))!.token;
      const tokens = await Promise.all(rows.map((r) => tokenOf(r.touch)));
      expect(tokens).toEqual([A, B, C]);
      const fires = [await c.ctx.store.getFire(first.json.fire_id), await c.ctx.store.getFire(second.json.fire_id)];
      // the install conversion credited A; the purchases B and C, each marked on its own row
      expect(rows[0].credited.split(' ')).toHaveLength(1);
      expect(rows[1].credited).toBe(fires[0]!.conversion!.id);
      expect(rows[2].credited).toBe(fires[1]!.conversion!.id);
      expect((await fetch(`${c.url}/admin/installs/nope`, { headers: { cookie } })).status).toBe(404);
    });

    it("on the web a conversion's own token or cid beats the visitor's other clicks, when in window", async () => {
      const visitor_id = `visitor-${name}-${++n}-0000000000`;
      const older = fresh('older');
      const olderTouch = await post(c.url + '/v1/touches', { token: older, visitor_id }, bearer(SERVER_KEY));
      later(c);
      const newer = fresh('newer');
      await post(c.url + '/v1/touches', { token: newer, visitor_id }, bearer(SERVER_KEY));
      later(c);
      // the visitor's latest click, when the conversion names nothing else
      expect(await convert({ pixel: 'purchase', visitor_id }, SERVER_KEY)).toMatchObject({ token: newer });
      // a token never seen: its own click, not the visitor's
      const own = fresh('own');
      expect(await convert({ pixel: 'purchase', visitor_id, token: own }, SERVER_KEY)).toMatchObject({ outcome: 'attributed', token: own });
      // the visitor's older click, named by token or by cid
      expect(await convert({ pixel: 'purchase', visitor_id, token: older }, SERVER_KEY)).toMatchObject({ token: older });
      expect(await convert({ pixel: 'purchase', visitor_id, cid: olderTouch.json.cid }, SERVER_KEY)).toMatchObject({ token: older });
      // out of window the named click gives way to the visitor's latest click in window
      c.clock.set(c.clock.now() + CLICK_MINS * MINUTE - 2 * 60_000 + 1);
      expect(await convert({ pixel: 'purchase', visitor_id, token: older }, SERVER_KEY)).toMatchObject({ token: own });
    });
  });
}

reengagementSuite('sqlite');
describePg('re-engagement on PostgreSQL', (pg) => {
  reengagementSuite('postgres', () => new PostgresStore(pg.url, { schema: pg.newSchema(), poolSize: 4 }));
});
