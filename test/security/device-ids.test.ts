// Guards against device-id injection: a page that knows someone's advertising id must not plant it on its own token
// (so that the next install on that device binds to the page's token). Device ids are read only from the script's
// touch with a configured site's Origin (POST /t), the image fallback with a configured site's Referer (GET /t?b=),
// and impression trackers (GET /i) with a configured site's Origin or Referer or from no web page at all (an ad
// server's or app SDK's own HTTP client: no Origin, Referer or Fetch Metadata). Any other touch is still recorded,
// without its device ids, and counted in sspx_device_ids_ignored_total. Case by case over a real collector, the
// attack end to end through /v1/app/open, and from a real Chromium page on another origin.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyKeys } from '../../collector/store/store.js';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { ADMIN_KEY, bearer, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { BIND_CONFIDENCE } from '../../collector/vocabulary.js';
import { sample, scrape } from '../operators/support.js';
import { idfa, installId, IPHONE_UA, openOk, storedInstall } from '../apps/support.js';

const OTHER = 'https://attacker.example';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(() => c.stop());

let n = 0;
interface Case {
  name: string;
  route: '/t' | '/i';
  /** the request, for a token and an advertising id */
  send: (t: string, id: string) => Promise<Response>;
  kept: boolean;
}

const post = (headers: Record<string, string>) => (t: string, id: string) =>
  fetch(c.url + '/t', { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': IPHONE_UA, ...headers }, body: JSON.stringify({ t, u: `${SITE}/landing?idfa=${id}`, a: { ids: 'idfa' } }) });
const image = (headers: Record<string, string>) => (t: string, id: string) =>
  fetch(`${c.url}/t?b=${encodeURIComponent(JSON.stringify({ t, ids: { idfa: id } }))}`, { headers: { 'user-agent': IPHONE_UA, ...headers } });
const impression = (headers: Record<string, string>) => (t: string, id: string) =>
  fetch(`${c.url}/i?sspdata=${encodeURIComponent(t)}&idfa=${id}`, { headers: { 'user-agent': IPHONE_UA, ...headers } });

const cases: Case[] = [
  { name: "the script, a configured site's Origin", route: '/t', send: post({ origin: SITE }), kept: true },
  { name: 'the script, no Origin (a forged request)', route: '/t', send: post({}), kept: false },
  { name: "the script, no Origin but a configured site's Referer", route: '/t', send: post({ referer: `${SITE}/landing` }), kept: false },
  { name: "the image fallback, a configured site's Referer", route: '/t', send: image({ referer: `${SITE}/landing` }), kept: true },
  { name: 'the image fallback, same-site by Fetch Metadata, no Referer', route: '/t', send: image({ 'sec-fetch-site': 'same-site', 'sec-fetch-dest': 'image' }), kept: false },
  { name: 'an impression from an ad server or app SDK (no page)', route: '/i', send: impression({}), kept: true },
  { name: "an impression with a configured site's Referer", route: '/i', send: impression({ referer: `${SITE}/article` }), kept: true },
  { name: 'an impression from another site (Referer)', route: '/i', send: impression({ referer: `${OTHER}/page` }), kept: false },
  { name: 'an impression from another site (no-referrer: Fetch Metadata only)', route: '/i', send: impression({ 'sec-fetch-site': 'cross-site', 'sec-fetch-dest': 'image', 'sec-fetch-mode': 'no-cors' }), kept: false },
  { name: 'an impression from a page opened by hand (Sec-Fetch-Site: none)', route: '/i', send: impression({ 'sec-fetch-site': 'none' }), kept: false },
  { name: 'an impression with another Origin', route: '/i', send: impression({ origin: OTHER }), kept: false },
];

describe('which touches may carry device ids', () => {
  it.each(cases)('$name: kept $kept', async ({ route, send, kept }) => {
    const t = token(`dev${++n}`);
    const id = idfa();
    const ignoredBefore = sample(await scrape(c.url), 'sspx_device_ids_ignored_total', { route });
    const res = await send(t, id);
    expect(res.status, await res.text()).toBe(200);
    await c.touches.drain();
    const touch = (await c.ctx.store.transaction((tx) => tx.latestTouch({ ...emptyKeys(), tokens: [t] }, route === '/t' ? 'click' : 'view', 0, Number.MAX_SAFE_INTEGER)))!;
    expect(touch, 'the touch is recorded either way').toBeDefined();
    expect(touch.device_id).toBe(kept ? id.toLowerCase() : null);
    if (route === '/t') expect((touch.hints as { ids?: unknown } | null)?.ids).toEqual(kept ? { idfa: id.toLowerCase() } : undefined);
    expect(sample(await scrape(c.url), 'sspx_device_ids_ignored_total', { route }) - ignoredBefore).toBe(kept ? 0 : 1);
  });
});

describe('the attack end to end', () => {
  it('a forged touch with the victim\'s advertising id does not bind the victim\'s next install', async () => {
    const victim = idfa();
    for (const send of [post({}), impression({ referer: `${OTHER}/` })]) expect((await send(token(`attacker${++n}`), victim)).status).toBe(200);
    await c.touches.drain();
    c.clock.advance(60_000);
    const answer = await openOk(c, { install_id: installId(), platform: 'ios', device_id: victim });
    expect(answer).toMatchObject({ bound: false, method: null });
  });
});

describe('a device-id binding ranks below a click id', () => {
  const purchase = async (body: Record<string, unknown>) => {
    const res = await fetch(c.url + '/v1/conversions', { method: 'POST', headers: { ...bearer(SERVER_KEY), 'content-type': 'application/json' }, body: JSON.stringify({ pixel: 'purchase', ...body }) });
    expect(res.status).toBe(200);
    const { fire_id } = (await res.json()) as { fire_id: string };
    return (await c.ctx.store.getFire(fire_id))!.token;
  };

  it('is answered with a lower confidence, stored and shown on the install page', async () => {
    const device = idfa();
    const cid = (await (await post({ origin: SITE })(token(`sure${++n}`), idfa())).json()).cid as string;
    await impression({})(token(`weak${++n}`), device);
    await c.touches.drain();
    c.clock.advance(60_000);
    const byCid = await openOk(c, { install_id: installId(), platform: 'ios', cid });
    const byDevice = await openOk(c, { install_id: installId(), platform: 'ios', device_id: device });
    expect([byCid.method, byCid.confidence, byDevice.method, byDevice.confidence]).toEqual(['deep_link', BIND_CONFIDENCE.deep_link, 'device_id', BIND_CONFIDENCE.device_id]);
    expect(BIND_CONFIDENCE.device_id).toBeLessThan(BIND_CONFIDENCE.referrer);
    expect((await storedInstall(c, byDevice.install_id))!.confidence).toBe(BIND_CONFIDENCE.device_id);
    const login = await fetch(c.url + '/admin/login', { method: 'POST', body: new URLSearchParams({ key: ADMIN_KEY }), redirect: 'manual' });
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const page = await (await fetch(`${c.url}/admin/installs/${byDevice.install_id}`, { headers: { cookie } })).text();
    expect(page).toContain(`<dt>confidence</dt><dd>${BIND_CONFIDENCE.device_id}</dd>`);
  });

  it("attribution prefers the install's own click over a newer click reached by device id; without one, the device's counts", async () => {
    const device = idfa();
    const A = token(`own${++n}`);
    const cid = (await (await post({ origin: SITE })(A, idfa())).json()).cid as string;
    c.clock.advance(60_000);
    const install = await openOk(c, { install_id: installId(), platform: 'ios', cid, device_id: device });
    c.clock.advance(60_000);
    // a newer click with the install's advertising id: from a configured site here, but an HTTP client could forge it
    const W = token(`device${++n}`);
    expect((await post({ origin: SITE })(W, device)).status).toBe(200);
    await c.touches.drain();
    c.clock.advance(60_000);
    expect(await purchase({ install_id: install.install_id, order_id: `DEV-${++n}` })).toBe(A);
    // with no surer click, the device's counts
    expect(await purchase({ device_id: device, order_id: `DEV-${++n}` })).toBe(W);
  });
});

describe('from a real Chromium page on another origin', () => {
  let chromium: LaunchedChromium;
  let attacker: Server;
  let attackerOrigin: string;
  beforeAll(async () => {
    attacker = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>attacker</title>'));
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.2', r));
    attackerOrigin = `http://127.0.0.2:${(attacker.address() as AddressInfo).port}`;
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium?.close();
    await new Promise((r) => attacker?.close(r));
  });

  it('impression images with any referrer policy, and a fetch to /t, plant no device id', async () => {
    const page = await chromium.context.newPage();
    await page.goto(attackerOrigin + '/');
    const victim = idfa();
    const tokens = ['strict-origin-when-cross-origin', 'no-referrer', 'unsafe-url'].map((policy) => ({ policy, t: token(`chromium-${policy}`) }));
    const posted = token('chromium-post');
    await page.evaluate(async ({ collector, tokens, posted, victim }) => {
      const src = (t: string) => `${collector}/i?sspdata=${encodeURIComponent(t)}&idfa=${victim}`;
      await Promise.all(tokens.map(({ policy, t }) => new Promise((done) => Object.assign(new Image(), { referrerPolicy: policy, onload: done, onerror: done, src: src(t) }))));
      // the script's own transport, from the wrong page: refused by CORS (403) before anything is read
      await fetch(`${collector}/t`, { method: 'POST', mode: 'no-cors', body: JSON.stringify({ t: posted, ids: { idfa: victim } }) }).catch(() => undefined);
    }, { collector: c.url, tokens, posted, victim });
    await c.touches.drain();
    const byToken = (t: string) => c.ctx.store.transaction((tx) => tx.latestTouch({ ...emptyKeys(), tokens: [t] }, 'view', 0, Number.MAX_SAFE_INTEGER));
    for (const { policy, t } of tokens) {
      const touch = await byToken(t);
      expect(touch, `${policy}: the view is recorded`).toBeDefined();
      expect(touch!.device_id, policy).toBeNull();
    }
    const planted = await c.ctx.store.transaction((tx) => tx.latestTouch({ ...emptyKeys(), device_ids: [victim.toLowerCase()] }, 'click', 0, Number.MAX_SAFE_INTEGER));
    expect(planted).toBeUndefined();
    await page.close();
  });
});
