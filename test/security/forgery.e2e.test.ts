// Guards the image fallbacks (GET /t?b=, GET /c?b=) against cross-site forgery, from a real Chromium: a page on
// another origin can neither plant its token on a visitor (a top-level navigation, a form, a frame, an image) nor
// forge a conversion; each such request is refused with 403 `fallback_refused`, stores nothing and sets no cookie.
// The same requests from a configured site's landing page (an image, as the script's fallback sends it) still count.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { startTestCollector, token, type TestCollector } from '../support/collector.js';
import { readStoredRows } from './stored-rows.js';

const ATTACKER_TOKEN = token('attacker');
const SITE_TOKEN = token('site');
const touchB = (t: string) => encodeURIComponent(JSON.stringify({ t }));
const conversionB = encodeURIComponent(JSON.stringify({ pixel: 'purchase', order_id: 'FORGED-1', value: '999' }));

/** a web server whose every path answers `html` (the page), on the given loopback address */
function pageServer(host: string, html: () => string): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html()));
  return new Promise((resolve) => server.listen(0, host, () => resolve(server)));
}
const originOf = (s: Server, host: string) => `http://${host}:${(s.address() as AddressInfo).port}`;

describe('the image fallbacks from a real Chromium', () => {
  let chromium: LaunchedChromium;
  let c: TestCollector;
  let site: Server;
  let attacker: Server;
  let siteOrigin: string;
  let attackerOrigin: string;

  beforeAll(async () => {
    // three sites by Fetch Metadata's rules: the collector on 127.0.0.1, the shop on localhost, the attacker on 127.0.0.2
    site = await pageServer('localhost', () => '<!doctype html><title>shop</title>');
    attacker = await pageServer('127.0.0.2', () => '<!doctype html><title>attacker</title>');
    siteOrigin = originOf(site, 'localhost');
    attackerOrigin = originOf(attacker, '127.0.0.2');
    c = await startTestCollector({ sites: [{ origin: siteOrigin }] });
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await c?.stop();
    for (const s of [site, attacker]) await new Promise((r) => s?.close(r));
  });

  let page: Page;
  type Answer = { path: string; status: number; cookie: unknown; error: string | undefined };
  let answers: Answer[] = [];
  beforeEach(async () => {
    page = await chromium.context.newPage();
    answers = [];
  });
  beforeAll(() => {
    // what the collector itself answered (the browser hides a refused image's or frame's answer from the page)
    c.server.on('request', (req, res) => {
      if (!/^\/[tc]\?/.test(req.url ?? '')) return;
      res.on('finish', () => answers.push({ path: req.url!.slice(0, 2), status: res.statusCode, cookie: res.getHeader('set-cookie'), error: res.getHeader('x-sspx-reason') as string | undefined }));
    });
  });

  const stored = async () => {
    await c.touches.drain();
    const rows = await readStoredRows(c.ctx.store);
    return { touches: rows.touches.length, conversions: rows.conversions.length };
  };
  /** the collector's answers to the fallbacks, once n have arrived */
  const fallbackAnswers = async (n: number) => {
    await expect.poll(() => answers.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(n);
    return answers;
  };
  const expectRefused = (a: Answer) => {
    expect(a.status).toBe(403);
    expect(a.error).toBe('fallback_refused');
    expect(a.cookie).toBeUndefined();
  };

  it('a top-level navigation from another site plants no token and forges no conversion', async () => {
    const before = await stored();
    for (const path of [`/t?b=${touchB(ATTACKER_TOKEN)}`, `/c?b=${conversionB}`]) {
      await page.goto(attackerOrigin + '/');
      await Promise.all([page.waitForURL(c.url + path), page.evaluate((u) => void (location.href = u), c.url + path)]);
    }
    const got = await fallbackAnswers(2);
    expect(got.map((a) => a.path)).toEqual(['/t', '/c']);
    for (const a of got) expectRefused(a);
    expect(await stored()).toEqual(before);
    expect((await chromium.context.cookies(c.url)).filter((k) => k.name === 'sspx_vid')).toEqual([]);
  });

  it('a form submitted into a frame, and a frame, from another site are refused the same way', async () => {
    const before = await stored();
    await page.goto(attackerOrigin + '/');
    await page.evaluate(({ collector, b }) => {
      const form = Object.assign(document.createElement('form'), { method: 'GET', action: collector + '/t', target: 'f1' });
      form.append(Object.assign(document.createElement('input'), { name: 'b', value: decodeURIComponent(b) }));
      const frame = Object.assign(document.createElement('iframe'), { name: 'f1' });
      const frame2 = Object.assign(document.createElement('iframe'), { src: collector + '/c?b=' + b });
      document.body.append(frame, form, frame2);
      form.submit();
    }, { collector: c.url, b: touchB(ATTACKER_TOKEN) });
    for (const a of await fallbackAnswers(2)) expectRefused(a);
    expect(await stored()).toEqual(before);
  });

  it('an image on another site, with its Referer or none, is refused', async () => {
    const before = await stored();
    await page.goto(attackerOrigin + '/');
    await page.evaluate(async ({ collector, t, cv }) => {
      const load = (src: string, policy: string) =>
        new Promise((done) => {
          const img = new Image();
          img.referrerPolicy = policy;
          img.onload = img.onerror = done;
          img.src = src;
        });
      for (const policy of ['strict-origin-when-cross-origin', 'no-referrer', 'unsafe-url']) {
        await load(`${collector}/t?b=${t}&p=${policy}`, policy);
        await load(`${collector}/c?b=${cv}&p=${policy}`, policy);
      }
    }, { collector: c.url, t: touchB(ATTACKER_TOKEN), cv: conversionB });
    const got = await fallbackAnswers(6);
    expect(got.map((a) => a.path)).toEqual(['/t', '/c', '/t', '/c', '/t', '/c']);
    for (const a of got) expectRefused(a);
    expect(await stored()).toEqual(before);
  });

  it("the shop's own landing page still records its touch and conversion through the image fallback", async () => {
    const before = await stored();
    await page.goto(siteOrigin + '/landing');
    const loaded = await page.evaluate(async ({ collector, t, cv }) => {
      const load = (src: string) =>
        new Promise<boolean>((done) => {
          const img = new Image();
          img.onload = () => done(true);
          img.onerror = () => done(false);
          img.src = src;
        });
      return [await load(`${collector}/t?b=${t}`), await load(`${collector}/c?b=${encodeURIComponent(JSON.stringify({ pixel: 'purchase', order_id: 'SHOP-1' }))}`)];
    }, { collector: c.url, t: touchB(SITE_TOKEN), cv: conversionB });
    expect(loaded).toEqual([true, true]);
    for (const a of await fallbackAnswers(2)) expect(a.status).toBe(200);
    expect(await stored()).toEqual({ touches: before.touches + 1, conversions: before.conversions + 1 });
    const rows = await readStoredRows(c.ctx.store);
    expect(rows.touches.map((t) => t.token)).toContain(SITE_TOKEN);
    expect(rows.touches.map((t) => t.token)).not.toContain(ATTACKER_TOKEN);
  });
});
