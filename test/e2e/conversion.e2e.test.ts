// Guards the whole journey in a real Chromium: an ad click lands on the demo shop's landing page with a token,
// the script sends the touch to a real collector (cross-origin, cookie set by the server), the thank-you page's
// sspx('convert', …) reports the purchase, and the dispatcher fires exactly one pixel at the local stand-in
// router with the right parameters (sspdata last, byte-exact) and follows its redirect to the logged hop. And a
// test conversion, sspx('convert', {…, test: true}), from the same real script: attributed, its fire recorded with
// the URL the real conversion of the same order then sends, never sent itself (issue 14, item 12).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoSite } from '../../collector/demo.js';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { ADMIN_KEY, startTestCollector, type TestCollector } from '../support/collector.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { until } from '../dispatch/fixture.js';

const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';

describe('a conversion end to end', () => {
  let router: TestRouter;
  let collector: TestCollector;
  let site: Awaited<ReturnType<typeof startDemoSite>>;
  let chromium: LaunchedChromium;
  let collectorUrl = '';

  beforeAll(async () => {
    router = await startRouter();
    site = await startDemoSite(() => collectorUrl);
    collector = await startTestCollector({
      dispatcher: true,
      router: router.url,
      sites: [{ origin: site.url }],
      pixels: { purchase: { id: 59633, trigger_type: 'hybrid', min_minutes_per_conv: 0 } },
    });
    collectorUrl = collector.url;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await collector?.stop();
    await site?.close();
    await router?.close();
  });

  it('lands, converts, and fires once with the token byte for byte', async () => {
    collector.clock.set(Date.now());
    const page = await chromium.context.newPage();
    const touched = page.waitForResponse((r) => r.url().startsWith(collectorUrl + '/t') && r.status() === 200);
    await page.goto(`${site.url}/landing?sspdata=${TOKEN}&utm_source=ad`);
    const touch = await (await touched).json();
    expect(touch.cid).toMatch(/^[A-Za-z0-9_-]{22}$/);

    // the script decorates the Play link with the click id inside its referrer parameter
    await page.waitForFunction(() => document.querySelector('a[href*="play.google.com"]')?.getAttribute('href')?.includes('sspx_cid'));
    const play = await page.getAttribute('a[href*="play.google.com"]', 'href');
    expect(play).toContain(`referrer=sspx_cid%3D${touch.cid}`);

    await page.click('a.button');
    await page.waitForURL(/\/thanks/);
    await page.waitForFunction(() => document.getElementById('outcome')?.textContent?.includes('outcome'));
    const answer = JSON.parse((await page.textContent('#outcome'))!);
    expect(answer).toMatchObject({ outcome: 'attributed', fire_id: expect.stringMatching(/^f_/) });

    await router.waitFor((r) => r.logged.length === 1, 10_000);
    const order = new URL(page.url()).searchParams.get('order');
    expect(router.fires).toHaveLength(1);
    const fire = router.fires[0];
    expect(fire.query.map(([k]) => k)).toEqual(['id', 'order_id', 'value', 'sspdata']);
    expect(fire.params).toMatchObject({ id: '59633', order_id: order, value: '49.90', sspdata: TOKEN });
    expect(router.logged[0].params.sspdata).toBe(TOKEN);

    const res = await fetch(`${collector.url}/v1/fires/${answer.fire_id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const detail = await res.json();
    expect(detail.state).toBe('fired');
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0].outcome).toBe('fired');
    expect(detail.attempts[0].hops).toHaveLength(2);

    // a reload of the thank-you page reports the same order again: a duplicate, never a second fire
    await page.reload();
    await page.waitForFunction(() => document.getElementById('outcome')?.textContent?.includes('duplicate'));
    await new Promise((r) => setTimeout(r, 200));
    expect(router.fires).toHaveLength(1);
    await page.close();
  });

  it('a test conversion from the script is attributed and recorded, never sent; the real one after it is', async () => {
    const token = TOKEN.replace('AAA.', 'ABC.');
    collector.clock.set(Date.now());
    const page = await chromium.context.newPage();
    const touched = page.waitForResponse((r) => r.url().startsWith(collectorUrl + '/t') && r.status() === 200);
    await page.goto(`${site.url}/landing?sspdata=${token}`);
    await touched;
    await page.click('a.button');
    await page.waitForURL(/\/thanks/);
    await page.waitForFunction(() => document.getElementById('outcome')?.textContent?.includes('outcome'));
    // the thank-you page's own script, as an advertiser checking a live page would call it
    const convert = (test: boolean) =>
      page.evaluate((test) => new Promise<any>((resolve) => (window as any).sspx('convert', { pixel: 'purchase', order_id: 'T-e2e', value: '1.5', ...(test && { test }) }, resolve)), test);
    const admin = { headers: { authorization: `Bearer ${ADMIN_KEY}` } };
    const fireOf = async (id: string) => (await fetch(`${collector.url}/v1/fires/${id}`, admin)).json();
    const ours = () => router.fires.filter((f) => f.params.order_id === 'T-e2e');

    const test = await convert(true);
    expect(test).toMatchObject({ outcome: 'attributed', fire_id: expect.stringMatching(/^f_/) });
    const recorded = await until('the test fire to be recorded', () => fireOf(test.fire_id), (f) => f.attempts.length > 0);
    expect(recorded).toMatchObject({ test: true, dry_run: true, state: 'fired', token });
    expect(ours()).toEqual([]);

    const real = await convert(false);
    expect(real).toMatchObject({ outcome: 'attributed' });
    await router.waitFor(() => ours().length === 1, 10_000);
    expect(recorded.attempts[0].url).toBe(router.origin + ours()[0].url);
    await page.close();
  });
});
