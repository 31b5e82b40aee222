// Guards re-engagement through a Universal Link in a real Chromium: an ad click lands on a page whose script tag
// names the app's Universal Links in data-decorate (`a[href^='https://app.shop.example/']`); the built script
// records the touch at a real collector and decorates that link with the click id; the app, already installed and
// bound to an earlier click, is opened by that link and forwards its sspx_cid to /v1/app/open, which records a
// re-engagement click tied to the install; the in-app purchase that follows fires with the landing page's token.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOrderId } from '../../collector/ingest/installs.js';
import { openOk, scriptTouch } from '../apps/support.js';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { APP_KEY, bearer, post, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';

const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';
const UNIVERSAL_LINK = 'https://app.shop.example/product/42?ref=ad';
const INSTALL_PIXEL = 7500;

/** the advertiser's landing page: the script tag decorating the app's Universal Links, and such a link */
function startSite(collectorUrl: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    if (!req.url!.startsWith('/landing')) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html><head><title>Shop</title>
<script async src="${collectorUrl()}/sspx.js" data-decorate="a[href^='https://app.shop.example/']"></script>
</head><body>
<a id="open-app" href="${UNIVERSAL_LINK}">Open in the app</a>
<a id="elsewhere" href="https://other.example/x?y=1">Elsewhere</a>
</body></html>`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('a Universal Link decorated by the script re-engages an installed app', () => {
  let collector: TestCollector;
  let site: Server;
  let siteUrl = '';
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    site = await startSite(() => collector.url);
    siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
    collector = await startTestCollector({
      sites: [{ origin: siteUrl }, { origin: SITE }],
      pixels: {
        install: { id: INSTALL_PIXEL, on_install: true, trigger_type: 'click' },
        purchase: { id: 59633, trigger_type: 'hybrid', min_minutes_per_conv: 0 },
      },
    });
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await collector?.stop();
    await new Promise((resolve) => site?.close(resolve));
  });

  it('lands, decorates the Universal Link, and its cid re-engages the install; the purchase fires the new token', async () => {
    // the app was installed from an earlier click and is bound to it
    const earlier = token('earlier-click');
    const install_id = 'e2e-install-0001';
    const bound = await openOk(collector, { install_id, platform: 'ios', cid: await scriptTouch(collector, { t: earlier }) });
    expect(bound).toMatchObject({ bound: true, method: 'deep_link' });
    collector.clock.advance(60 * 60_000);

    const page = await chromium.context.newPage();
    const touched = page.waitForResponse((r) => r.url() === `${collector.url}/t` && r.status() === 200);
    await page.goto(`${siteUrl}/landing?sspdata=${TOKEN}`);
    const { cid } = await (await touched).json();
    await page.waitForFunction(() => document.getElementById('open-app')!.getAttribute('href')!.includes('sspx_cid'));
    const link = (await page.getAttribute('#open-app', 'href'))!;
    expect(link).toBe(`${UNIVERSAL_LINK}&sspx_cid=${cid}`);
    expect(await page.getAttribute('#elsewhere', 'href')).toBe('https://other.example/x?y=1');
    await page.close();

    // iOS opens the app with that link; the app forwards its sspx_cid (docs/apps.md, "Re-engagement")
    collector.clock.advance(30_000);
    const opened = await openOk(collector, { install_id, platform: 'ios', cid: new URL(link).searchParams.get('sspx_cid') });
    expect(opened.touch).toEqual(bound.touch);
    expect(opened.reengagement).toMatchObject({ method: 'deep_link', kind: 'click' });
    expect(await collector.ctx.store.touchByCid(opened.reengagement!.cid)).toMatchObject({ token: TOKEN, source: 'app', install_id });

    collector.clock.advance(60_000);
    const purchase = await post(collector.url + '/v1/conversions', { pixel: 'purchase', install_id, order_id: 'UL-1', value: '19.90' }, bearer(APP_KEY));
    expect(purchase.json.outcome).toBe('attributed');
    expect((await collector.ctx.store.getFire(purchase.json.fire_id))!.token).toBe(TOKEN);
    // the install's own conversion stays with the click that earned the install
    const installFires = await collector.ctx.store.listFires({ pixel_id: INSTALL_PIXEL, order_id: installOrderId(install_id) });
    expect(installFires.map((f) => f.token)).toEqual([earlier]);
  });
});
