// Guards the operators' dashboard in a real Chromium, over a collector seeded through its real HTTP API and real
// fire attempts at the stand-in router: the admin-key login (a wrong key refused), the overview's charts and their
// numbers, the fires table's filters (kept in links), a fire's page with its verbose transcript, the evidence
// download, the replay button (the fire is queued again), logout; and that pages without a session redirect to the
// login, a POST without the CSRF token or from another Origin is refused (403), and no page breaks the CSP.
// Screenshots of each page are written under os.tmpdir()/sspx-dashboard-shots/.
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import { Dispatcher } from '../../collector/dispatch/dispatcher.js';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { ADMIN_KEY, SERVER_KEY, bearer, post, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { startRouter, type TestRouter } from '../support/router.js';

const SHOTS = join(tmpdir(), 'sspx-dashboard-shots');
const NOW = Date.UTC(2026, 2, 10, 12, 34, 56);

describe('the operators dashboard', () => {
  let router: TestRouter;
  let collector: TestCollector;
  let chromium: LaunchedChromium;
  let page: Page;
  const consoleErrors: string[] = [];
  const fireIds: Record<string, string> = {};

  /** a click touch for a visitor, then a conversion with this order id */
  async function convert(order: string, visitor: string | null, kind: 'click' | 'view' = 'click') {
    const headers = bearer(SERVER_KEY);
    let visitor_id = visitor ?? `visitor-${order}-unattributed-0000`;
    if (visitor) {
      const t = await post(`${collector.url}/v1/touches`, { token: token(order), kind, visitor_id: visitor, url: 'https://shop.example/landing?utm_source=ad' }, headers);
      expect(t.status).toBe(200);
      visitor_id = t.json.visitor_id;
    }
    const c = await post(`${collector.url}/v1/conversions`, { pixel: 'purchase', order_id: order, value: '19.90', visitor_id }, headers);
    expect(c.status).toBe(200);
    return c.json as { outcome: string; fire_id: string | null };
  }

  const shot = async (name: string) => {
    const path = join(SHOTS, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`dashboard screenshot: ${path}`);
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    router = await startRouter();
    // the stand-in router answers by order id: a 400, a hang (ambiguous), a 503 (retried later), else 302 → logged
    router.otherwise((req) => {
      if (req.path === '/logged') return { status: 200, body: 'logged' };
      const order = req.params.order_id;
      if (order === 'B-400') return { status: 400, body: 'invalid sspdata' };
      if (order === 'C-HANG') return { hang: true };
      if (order === 'D-503') return { status: 503, body: 'busy' };
      return { redirect: '/logged' + req.url.slice(req.url.indexOf('?')) };
    });
    collector = await startTestCollector(
      {
        router: router.url,
        on_ambiguous: 'hold',
        retry_schedule_seconds: [0, 600],
        retry_jitter: 0,
        // long enough that only the hung request times out, however busy the machine
        request_timeout_ms: 2000,
        poll_interval_ms: 20,
      },
      { clock: new ManualClock(NOW) },
    );

    // touches and conversions over the real API: 4 clicks and 1 view, 5 attributed, 1 unattributed, 1 duplicate
    for (const [order, kind] of [['A-OK', 'click'], ['B-400', 'click'], ['C-HANG', 'click'], ['D-503', 'click'], ['E-VIEW', 'view']] as const) {
      const r = await convert(order, `visitor-${order}-000000000000`.slice(0, 32), kind);
      expect(r.outcome).toBe('attributed');
      fireIds[order] = r.fire_id!;
    }
    expect((await convert('F-NONE', null)).outcome).toBe('unattributed');
    const dup = await post(`${collector.url}/v1/conversions`, { pixel: 'purchase', order_id: 'A-OK', visitor_id: 'visitor-A-OK-000000000000000000' }, bearer(SERVER_KEY));
    expect(dup.json.outcome).toBe('duplicate');

    // real attempts: a dispatcher fires the five queued fires once each at the stand-in router
    const dispatcher = new Dispatcher(collector.ctx);
    dispatcher.start();
    const until = Date.now() + 100_000; // a bound for a broken build (the hook's own timeout is 120 s), not a timing
    for (;;) {
      const q = await collector.ctx.store.queueStats(collector.clock.now());
      const attempts = (await Promise.all(Object.values(fireIds).map((id) => collector.ctx.store.getFire(id)))).every((f) => f!.attempts.length === 1);
      if (q.due === 0 && q.in_flight === 0 && attempts) break;
      if (Date.now() > until) throw new Error('the seeded fires were not attempted');
      await new Promise((r) => setTimeout(r, 25));
    }
    await dispatcher.stop(1000);

    // a misconfigured line item on one site: a spike of unreplaced macros today
    await collector.ctx.store.countDiagnostics([
      { day: '2026-03-10', site: 'https://shop.example', kind: 'unreplaced_macro', count: 40 },
      { day: '2026-03-08', site: 'https://shop.example', kind: 'unreplaced_macro', count: 1 },
      { day: '2026-03-09', site: 'https://blog.shop.example', kind: 'unreplaced_macro', count: 2 },
    ]);

    chromium = await launchChromium();
    page = await chromium.context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  afterAll(async () => {
    await chromium?.close();
    await collector?.stop();
    await router?.close();
  });

  it('seeded fires in every state the dashboard shows', async () => {
    const states = Object.fromEntries(
      await Promise.all(Object.entries(fireIds).map(async ([order, id]) => [order, (await collector.ctx.store.getFire(id))!.state])),
    );
    expect(states).toEqual({ 'A-OK': 'fired', 'B-400': 'failed', 'C-HANG': 'held', 'D-503': 'queued', 'E-VIEW': 'fired' });
  });

  it('redirects to the login without a session and refuses a wrong key', async () => {
    await page.goto(`${collector.url}/admin/fires?state=failed`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
    await shot('login');
    await page.fill('#key', 'not-the-admin-key-at-all');
    const [refused] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
    expect(refused.status()).toBe(401);
    await expect(page.textContent('[role=alert]')).resolves.toContain('not an admin key');
    expect((await chromium.context.cookies()).find((c) => c.name === 'sspx_admin')).toBeUndefined();
  });

  it('logs in with the admin key, returns to the page asked for, with an HttpOnly SameSite=Strict cookie', async () => {
    await page.fill('#key', ADMIN_KEY);
    await Promise.all([page.waitForURL(/\/admin\/fires\?state=failed$/), page.click('button[type=submit]')]);
    const cookie = (await chromium.context.cookies()).find((c) => c.name === 'sspx_admin')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/admin' });
  });

  it('shows the overview with the seeded numbers in its charts', async () => {
    await page.goto(`${collector.url}/admin?period=hour`);
    const tile = (k: string) => page.textContent(`[data-tile="${k}"] .v`);
    expect(await tile('touches')).toBe('5');
    expect(await tile('conversions')).toBe('7');
    expect(await tile('attribution')).toBe('83.3%'); // 5 of 6, the duplicate counts for neither
    expect(await tile('fired')).toBe('2');
    expect(await tile('queue')).toBe('1');
    expect(await tile('macros')).toBe('43');
    const legend = async (chart: string, key: string) => page.textContent(`[data-chart="${chart}"] [data-n="${key}"]`);
    expect(await legend('touches', 'click')).toBe('4');
    expect(await legend('touches', 'view')).toBe('1');
    expect(await legend('conversions', 'attributed')).toBe('5');
    expect(await legend('conversions', 'unattributed')).toBe('1');
    expect(await legend('conversions', 'duplicate')).toBe('1');
    for (const [state, n] of [['fired', '2'], ['failed', '1'], ['held', '1'], ['queued', '1'], ['in_flight', '0']]) expect(await legend('fires', state)).toBe(n);
    // the bars carry their numbers too
    expect(await page.locator('[data-chart="conversions"] svg rect title').allTextContents()).toContain('12:30 UTC · attributed: 5');
    const errors = await page.textContent('[data-chart="errors"] svg');
    for (const cls of ['http_4xx', 'timeout_after_send', 'http_5xx']) expect(errors).toContain(cls);
    const macros = await page.textContent('[data-chart="macros"] svg');
    expect(macros).toContain('https://shop.example');
    expect(macros).toContain('41');
    await shot('overview');

    // the other periods hold the same rows
    await page.click('.periods a:has-text("last 30 days")');
    await page.waitForURL(/period=30d/);
    expect(await tile('touches')).toBe('5');
    expect(await page.locator('.periods a.on').textContent()).toBe('last 30 days');
    await shot('overview-30d');
  });

  it('filters the fires table, keeping the filters in its links', async () => {
    await page.goto(`${collector.url}/admin/fires`);
    expect(await page.locator('tr[data-fire]').count()).toBe(5);
    await page.selectOption('select[name=state]', 'failed'); // submits the form (admin.js)
    await page.waitForURL(/state=failed/);
    expect(await page.locator('tr[data-fire]').count()).toBe(1);
    expect(await page.getAttribute('tr[data-fire]', 'data-fire')).toBe(fireIds['B-400']);

    await page.goto(`${collector.url}/admin/fires`);
    await page.fill('input[name=order_id]', 'C-HANG');
    await page.fill('input[name=pixel]', 'purchase');
    await Promise.all([page.waitForURL(/order_id=C-HANG/), page.click('form.filters button[type=submit]')]);
    expect(await page.locator('tr[data-fire]').count()).toBe(1);
    expect(await page.textContent('tr[data-fire] .badge')).toBe('held');

    // a time filter: nothing was created after the seeding
    await page.goto(`${collector.url}/admin/fires?from=2026-03-10T13:00`);
    expect(await page.locator('tr[data-fire]').count()).toBe(0);
    await page.goto(`${collector.url}/admin/fires?from=2026-03-10T12:00&to=2026-03-10T13:00&state=fired`);
    expect(await page.locator('tr[data-fire]').count()).toBe(2);
    await page.goto(`${collector.url}/admin/fires?state=failed&pixel=59633`);
    await shot('fires');
    const href = await page.getAttribute('tr[data-fire] a', 'href');
    expect(href).toBe(`/admin/fires/${fireIds['B-400']}?pixel=59633&state=failed`);
  });

  it("opens a fire: its conversion, its touch, every attempt and the verbose transcript", async () => {
    await page.click('tr[data-fire] a');
    await page.waitForURL(new RegExp(`/admin/fires/${fireIds['B-400']}`));
    const transcript = await page.textContent('pre.transcript');
    expect(transcript).toContain('> GET /sspx?id=59633&order_id=B-400&value=19.90&sspdata=');
    expect(transcript).toContain('< HTTP/1.1 400 Bad Request');
    expect(await page.locator('table.attempts tbody tr').count()).toBe(1);
    expect(await page.textContent('main')).toContain('B-400');
    expect(await page.textContent('main')).toContain('https://shop.example/landing?utm_source=ad');
    expect(await page.getAttribute('a:has-text("← Fires")', 'href')).toBe('/admin/fires?pixel=59633&state=failed');
    await shot('fire');
  });

  it('downloads the evidence as a text file', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("Download evidence")')]);
    expect(download.suggestedFilename()).toBe(`sspx-fire-${fireIds['B-400']}.txt`);
    const text = readFileSync((await download.path())!, 'utf8');
    expect(text).toContain('> GET /sspx?id=59633&order_id=B-400');
    expect(text).toContain('< HTTP/1.1 400');
    expect(text).toContain(`$ curl --verbose -L '${router.url}?id=59633&order_id=B-400`);
  });

  it('refuses a POST without the CSRF token, or from another origin', async () => {
    const url = `${collector.url}/admin/fires/${fireIds['B-400']}/replay`;
    const bare = await chromium.context.request.post(url, { form: { x: '1' }, maxRedirects: 0 });
    expect(bare.status()).toBe(403);
    const csrf = await page.getAttribute('input[name=_csrf]', 'value');
    const foreign = await chromium.context.request.post(url, { form: { _csrf: csrf! }, headers: { origin: 'https://evil.example' }, maxRedirects: 0 });
    expect(foreign.status()).toBe(403);
    expect((await collector.ctx.store.getFire(fireIds['B-400']))!.state).toBe('failed');
    // no session at all
    const anonymous = await fetch(url, { method: 'POST', body: new URLSearchParams({ _csrf: csrf! }), redirect: 'manual' });
    expect(anonymous.status).toBe(403);
    const page404 = await fetch(`${collector.url}/admin/fires/${fireIds['B-400']}`, { redirect: 'manual' });
    expect(page404.status).toBe(303);
    expect(page404.headers.get('location')).toBe(`/admin/login?next=${encodeURIComponent(`/admin/fires/${fireIds['B-400']}`)}`);
  });

  it('replays a failed fire: it is queued again', async () => {
    await Promise.all([page.waitForURL(/replayed=1/), page.click('button:has-text("Replay this fire")')]);
    expect(await page.textContent('[role=status]')).toContain('queued again');
    expect(await page.textContent('h1 .badge')).toBe('queued');
    expect((await collector.ctx.store.getFire(fireIds['B-400']))!.state).toBe('queued');
    // the held one too; a fired one offers no replay
    await page.goto(`${collector.url}/admin/fires/${fireIds['C-HANG']}`);
    await Promise.all([page.waitForURL(/replayed=1/), page.click('button:has-text("Replay this fire")')]);
    expect((await collector.ctx.store.getFire(fireIds['C-HANG']))!.state).toBe('queued');
    await page.goto(`${collector.url}/admin/fires/${fireIds['A-OK']}`);
    expect(await page.locator('button:has-text("Replay this fire")').count()).toBe(0);
  });

  it('logs out', async () => {
    await Promise.all([page.waitForURL(/\/admin\/login$/), page.click('button:has-text("Log out")')]);
    await page.goto(`${collector.url}/admin`);
    expect(new URL(page.url()).pathname).toBe('/admin/login');
  });

  it('broke no Content-Security-Policy rule and threw no script error', () => {
    expect(consoleErrors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
  });
});
