// Guards the dashboard's Reconciliation page in a real Chromium, over a collector whose store holds the fixture's
// fires in every state: before any report it says so; a report uploaded through the form (with the session's CSRF
// token) is saved and shown — the four classes as tiles and a per-day chart, each order with its reason, the line
// item / campaign / creative of matched ones, the per-hour counts — and is still there after a reload; a bad file
// is refused with its line, an upload without the CSRF token or from another origin is refused (403).
// Screenshots are written under os.tmpdir()/sspx-dashboard-shots/.
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { ADMIN_KEY, startTestCollector, type TestCollector } from '../support/collector.js';
import { FIXTURES, FIXTURE_CONFIG, NOW, PURCHASE, SIGNUP, seedFixture } from './fixture.js';

const SHOTS = join(tmpdir(), 'sspx-dashboard-shots');

describe('the Reconciliation page', () => {
  let collector: TestCollector;
  let chromium: LaunchedChromium;
  let page: Page;
  const consoleErrors: string[] = [];
  const shot = async (name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`dashboard screenshot: ${path}`);
  };
  const row = (order: string) => page.locator(`tr[data-order="${order}"]`);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    collector = await startTestCollector({ pixels: FIXTURE_CONFIG.pixels as never }, { clock: new ManualClock(NOW) });
    await seedFixture(collector.ctx.store);
    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${collector.url}/admin/reconcile`);
    await page.fill('#key', ADMIN_KEY);
    await Promise.all([page.waitForURL(/\/admin\/reconcile$/), page.click('button[type=submit]')]);
  });

  afterAll(async () => {
    await chromium?.close();
    await collector?.stop();
  });

  it('says there is no report yet, and offers the upload form with the CSRF token', async () => {
    expect(await page.textContent('[data-empty]')).toContain('No report yet');
    expect(await page.locator('header nav a.on').textContent()).toBe('Reconciliation');
    expect(await page.getAttribute('form.upload input[name=_csrf]', 'value')).toMatch(/.{16,}/);
  });

  it('reconciles an uploaded report: the classes, the chart per day and every order', async () => {
    await page.setInputFiles('input[name=report]', join(FIXTURES, 'attributed-conversions-ui.csv'));
    await Promise.all([page.waitForURL(/\/admin\/reconcile\?saved=1$/), page.click('form.upload button[type=submit]')]);
    expect(await page.textContent('[role=status]')).toContain('Report saved');
    expect(await page.textContent('[data-period]')).toContain('upload: attributed-conversions-ui.csv');

    const tile = (k: string) => page.textContent(`[data-tile="${k}"] .v`);
    expect([await tile('matched'), await tile('fired_not_counted'), await tile('counted_not_fired'), await tile('not_fired_here'), await tile('value_mismatch')])
      .toEqual(['4', '4', '2', '6', '1']);
    const legend = (k: string) => page.textContent(`[data-chart="classes"] [data-n="${k}"]`);
    expect([await legend('matched'), await legend('fired_not_counted'), await legend('counted_not_fired'), await legend('not_fired_here')]).toEqual(['4', '4', '2', '6']);
    // one bar per UTC day, each segment titled with its count
    const titles = await page.locator('[data-chart="classes"] svg rect title').allTextContents();
    expect(titles).toEqual(expect.arrayContaining([
      '11-16 UTC · matched: 3', '11-17 UTC · matched: 1', '11-16 UTC · fired, not counted: 1', '11-17 UTC · fired, not counted: 3',
      '11-16 UTC · counted, not fired: 2', '11-16 UTC · not fired here: 2', '11-17 UTC · not fired here: 4',
    ]));
    expect(titles).toHaveLength(7);

    // who earned the matched conversion: Microsoft's line item, campaign and creative
    const a100 = row(`${PURCHASE}/A-100`);
    expect(await a100.getAttribute('data-class')).toBe('matched');
    expect(await a100.locator('[data-line-item]').textContent()).toBe('Winter sale - retargeting 310001');
    expect(await a100.locator('[data-campaign]').textContent()).toBe('Winter sale 410001');
    expect(await a100.locator('[data-creative]').textContent()).toBe('Banner 300x250 "blue" 510001');
    expect(await row(`${PURCHASE}/A-102`).locator('[data-value]').textContent()).toBe('10.1 ≠ 10.01');
    expect(await row(`${PURCHASE}/D-400`).locator('[data-why]').textContent()).toContain('failed: HTTP 400 from the router: invalid sspdata');
    expect(await row(`${SIGNUP}/B-201`).locator('[data-why]').textContent()).toContain("past the pixel's post-click window");
    expect(await row('99999/A-100').getAttribute('data-class')).toBe('counted_not_fired');
    // the fired order links to its fire
    await Promise.all([page.waitForURL(/\/admin\/fires\/f_/), a100.locator('a').click()]);
    expect(await page.textContent('h1')).toContain('Fire');
    await page.goBack();

    const hour = await page.locator(`tr[data-hour="${PURCHASE}/2026-11-16T09:00:00Z"] td`).allTextContents();
    expect(hour).toEqual([String(PURCHASE), '2026-11-16 09:00', '3', '2', '-1']);
    await shot('reconcile');
  });

  it('shows the last report after a reload, compared with the store as it is now', async () => {
    await page.goto(`${collector.url}/admin/reconcile`);
    expect(await page.textContent('[data-tile="matched"] .v')).toBe('4');
    // a held fire replayed and logged since: the order is matched now
    const held = (await collector.ctx.store.listFires({ order_id: 'D-401' }))[0];
    await collector.ctx.store.replayFire(held.id, NOW);
    const [claimed] = await collector.ctx.store.claimFires('test', NOW, 60_000, 10).then((fs) => fs.filter((f) => f.id === held.id));
    expect(claimed).toBeDefined();
    await collector.ctx.store.recordAttempt(held.id, 'test', { started_at: NOW, duration_ms: 5, outcome: 'fired', error_class: null, status: 200, url: null, hops: null, next_attempt_at: null },
      { state: 'fired', next_attempt_at: null, last_error: null });
    await page.reload();
    expect(await page.textContent('[data-tile="matched"] .v')).toBe('5');
    expect(await row(`${PURCHASE}/D-401`).getAttribute('data-class')).toBe('matched');
  });

  it('refuses a file that is not a report, naming the line', async () => {
    await page.setInputFiles('input[name=report]', { name: 'orders.csv', mimeType: 'text/csv', buffer: Buffer.from('datetime,pixel_id\nyesterday,59633\n') });
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/admin/reconcile') && r.request().method() === 'POST'),
      page.click('form.upload button[type=submit]'),
    ]);
    expect(answer.status()).toBe(400);
    expect(await page.textContent('[role=alert]')).toContain('line 2: datetime "yesterday" is not a UTC time');
    // the last good report is still the one shown
    expect(await page.textContent('[data-period]')).toContain('upload: attributed-conversions-ui.csv');
  });

  it('refuses an upload without the CSRF token, or from another origin', async () => {
    const url = `${collector.url}/admin/reconcile`;
    const file = { name: 'r.csv', mimeType: 'text/csv', buffer: readFileSync(join(FIXTURES, 'attributed-conversions.csv')) };
    const bare = await chromium.context.request.post(url, { multipart: { report: file }, maxRedirects: 0 });
    expect(bare.status()).toBe(403);
    const csrf = await page.getAttribute('form.upload input[name=_csrf]', 'value');
    const foreign = await chromium.context.request.post(url, { multipart: { _csrf: csrf!, report: file }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    expect(foreign.status()).toBe(403);
    const good = await chromium.context.request.post(url, { multipart: { _csrf: csrf!, report: file }, maxRedirects: 0 });
    expect(good.status()).toBe(303);
    expect((await collector.ctx.store.lastReport())!.source).toBe('upload: r.csv');
  });

  it('broke no page: no console error but the refusals', () => {
    expect(consoleErrors.filter((e) => !/status of 40[03]/.test(e))).toEqual([]);
  });
});
