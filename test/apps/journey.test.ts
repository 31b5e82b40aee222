// Guards a whole app journey over HTTP and the in-app conversions that follow it: the script's touch answers a
// click id, the landing page decorates the Play link with it (inside its referrer), the app forwards the
// install referrer to /v1/app/open, the first open is the install conversion (same transaction as the binding),
// an in-app purchase posted with the install id (app key) is attributed to the same click — exactly one fire per
// pixel, fired through a local router with `sspdata` last — and repeats add nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOrderId } from '../../collector/ingest/installs.js';
import { APP_KEY, bearer, post, SERVER_KEY, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { idfa, impression, installId, later, openOk, scriptTouch } from './support.js';

const INSTALL_PIXEL = 7100;
const PURCHASE_PIXEL = 59633;

/** a Play link with a referrer, decorated as the script does it (the form test/snippet/decorate.test.ts guards) */
const decoratedPlayLink = (cid: string) => `https://play.google.com/store/apps/details?id=com.shop.app&referrer=utm_source%3Dads%26sspx_cid%3D${cid}`;

describe('a whole install journey', () => {
  let c: TestCollector;
  let router: TestRouter;
  beforeAll(async () => {
    router = await startRouter();
    c = await startTestCollector({
      router: router.url,
      dispatcher: true,
      poll_interval_ms: 20,
      pixels: {
        install: { id: INSTALL_PIXEL, on_install: true, sources: ['app'] },
        purchase: { id: PURCHASE_PIXEL, trigger_type: 'hybrid', min_minutes_per_conv: 0 },
      },
    });
  });
  afterAll(async () => {
    await c.stop();
    await router.close();
  });

  it('touch → decorated Play link → open with the referrer → in-app purchase: one fire per pixel', async () => {
    const t = token('journey');
    const cid = await scriptTouch(c, { t, l: 'en-US' });
    const link = decoratedPlayLink(cid);
    // Google Play hands the app its `referrer` parameter, decoded once
    const referrer = new URL(link).searchParams.get('referrer')!;
    expect(referrer).toBe(`utm_source=ads&sspx_cid=${cid}`);

    later(c, 5 * 60_000);
    const id = installId();
    const open = await openOk(c, { install_id: id, platform: 'android', referrer, install_begin_ts: Math.floor(c.clock.now() / 1000) - 60 });
    expect(open).toMatchObject({ bound: true, method: 'referrer', touch: { cid, kind: 'click' } });

    later(c);
    const purchase = await post(c.url + '/v1/conversions', { pixel: 'purchase', install_id: id, order_id: 'A-1001', value: '24.90' }, bearer(APP_KEY));
    expect(purchase.status, purchase.text).toBe(200);
    expect(purchase.json.outcome).toBe('attributed');

    const fires = [...(await c.ctx.store.listFires({ pixel_id: INSTALL_PIXEL })), ...(await c.ctx.store.listFires({ pixel_id: PURCHASE_PIXEL }))];
    expect(fires.map((f) => [f.pixel_id, f.order_id, f.token])).toEqual([
      [INSTALL_PIXEL, installOrderId(id), t],
      [PURCHASE_PIXEL, 'A-1001', t],
    ]);
    const conversion = (await c.ctx.store.getFire(fires[1].id))!.conversion!;
    expect(conversion).toMatchObject({ source: 'app', install_id: id, touch_id: open.touch!.touch_id });

    await router.waitFor((r) => r.logged.length === 2);
    for (const f of router.fires) expect(f.query[f.query.length - 1]).toEqual(['sspdata', t]);
    expect(router.fires.map((f) => f.params.id).sort()).toEqual([String(INSTALL_PIXEL), String(PURCHASE_PIXEL)].sort());

    // repeats: the open answers the same, the purchase is a duplicate; nothing more is fired
    expect(await openOk(c, { install_id: id, platform: 'android', referrer })).toEqual(open);
    const again = await post(c.url + '/v1/conversions', { pixel: 'purchase', install_id: id, order_id: 'A-1001', value: '24.90' }, bearer(APP_KEY));
    expect(again.json).toMatchObject({ outcome: 'duplicate', fire_id: purchase.json.fire_id });
    expect(await c.ctx.store.listFires({ pixel_id: INSTALL_PIXEL })).toHaveLength(1);
    expect(await c.ctx.store.listFires({ pixel_id: PURCHASE_PIXEL })).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(router.fires).toHaveLength(2);
  });
});

describe('in-app conversions', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({
      pixels: {
        install: { id: 7200, on_install: true, trigger_type: 'click' },
        purchase: { id: 7201, trigger_type: 'hybrid', min_minutes_per_conv: 0 },
        clicks_only: { id: 7202, trigger_type: 'click', min_minutes_per_conv: 0 },
        backend_only: { id: 7203, sources: ['server'], min_minutes_per_conv: 0 },
        once: { id: 7204, trigger_type: 'hybrid', min_minutes_per_conv: null },
      },
    });
  });
  afterAll(() => c.stop());

  let n = 0;
  const convert = async (key: string, body: Record<string, unknown>) => {
    const res = await post(c.url + '/v1/conversions', body, bearer(key));
    return { status: res.status, ...(res.json as { outcome: string; fire_id: string | null; error?: string }) };
  };
  const touchOf = async (fire_id: string | null) => (fire_id ? (await c.ctx.store.getFire(fire_id))!.touch?.cid : null);

  /** an install bound by each method, and one nothing bound */
  async function installBy(method: 'deep_link' | 'view' | 'unbound') {
    const id = installId();
    if (method === 'unbound') {
      await openOk(c, { install_id: id });
      return { id, cid: null };
    }
    if (method === 'view') {
      const device = idfa();
      await impression(c, token(`view${++n}`), { idfa: device });
      later(c);
      const open = await openOk(c, { install_id: id, platform: 'ios', device_id: device });
      expect(open.touch!.kind).toBe('view');
      return { id, cid: open.touch!.cid };
    }
    const cid = await scriptTouch(c, { t: token(`inapp${++n}`) });
    later(c);
    await openOk(c, { install_id: id, platform: 'ios', cid });
    return { id, cid };
  }

  it.each([
    { name: 'app key, deep-linked install', install: 'deep_link', key: APP_KEY, pixel: 'purchase', status: 200, outcome: 'attributed' },
    { name: 'server key, deep-linked install', install: 'deep_link', key: SERVER_KEY, pixel: 'purchase', status: 200, outcome: 'attributed' },
    { name: 'app key, post-view install (hybrid pixel)', install: 'view', key: APP_KEY, pixel: 'purchase', status: 200, outcome: 'attributed' },
    { name: 'app key, post-view install (click pixel)', install: 'view', key: APP_KEY, pixel: 'clicks_only', status: 200, outcome: 'unattributed' },
    { name: 'app key, unbound install', install: 'unbound', key: APP_KEY, pixel: 'purchase', status: 200, outcome: 'unattributed' },
    { name: 'app key, a pixel without the app source', install: 'deep_link', key: APP_KEY, pixel: 'backend_only', status: 403, error: 'source_not_allowed' },
    { name: 'server key, that pixel', install: 'deep_link', key: SERVER_KEY, pixel: 'backend_only', status: 200, outcome: 'attributed' },
  ] as const)('$name → $status', async (row) => {
    const { id, cid } = await installBy(row.install);
    later(c);
    const res = await convert(row.key, { pixel: row.pixel, install_id: id, order_id: `o-${++n}` });
    expect(res.status).toBe(row.status);
    if ('error' in row) return expect(res.error).toBe(row.error);
    expect(res.outcome).toBe(row.outcome);
    expect(await touchOf(res.fire_id)).toBe(row.outcome === 'attributed' ? cid : null);
    if (res.fire_id) {
      const { conversion } = (await c.ctx.store.getFire(res.fire_id))!;
      expect(conversion!.source).toBe(row.key === APP_KEY ? 'app' : 'server');
    }
  });

  it('an install bound on a later open attributes the conversions after it', async () => {
    const id = installId();
    await openOk(c, { install_id: id });
    expect((await convert(APP_KEY, { pixel: 'purchase', install_id: id, order_id: `o-${++n}` })).outcome).toBe('unattributed');
    const cid = await scriptTouch(c, { t: token(`late${++n}`) });
    later(c);
    expect((await openOk(c, { install_id: id, cid })).method).toBe('deep_link');
    const res = await convert(APP_KEY, { pixel: 'purchase', install_id: id, order_id: `o-${++n}` });
    expect([res.outcome, await touchOf(res.fire_id)]).toEqual(['attributed', cid]);
  });

  it('install conversions follow the pixel: a click pixel does not fire for a post-view install', async () => {
    const { id } = await installBy('view');
    expect(await c.ctx.store.listFires({ pixel_id: 7200, order_id: installOrderId(id) })).toEqual([]);
    const { id: clicked } = await installBy('deep_link');
    expect(await c.ctx.store.listFires({ pixel_id: 7200, order_id: installOrderId(clicked) })).toHaveLength(1);
  });

  it('min_minutes_per_conv null: one conversion per user, whether it comes from the app or the backend', async () => {
    const { id } = await installBy('deep_link');
    later(c);
    const first = await convert(APP_KEY, { pixel: 'once', install_id: id });
    const second = await convert(SERVER_KEY, { pixel: 'once', install_id: id });
    expect([first.outcome, second.outcome]).toEqual(['attributed', 'duplicate']);
    expect(second.fire_id).toBe(first.fire_id);
  });

  it('a conversion needs some identity: an unknown install id alone is unattributed, not refused', async () => {
    const res = await convert(APP_KEY, { pixel: 'purchase', install_id: 'never-opened', order_id: `o-${++n}` });
    expect([res.status, res.outcome]).toEqual([200, 'unattributed']);
  });
});
