// Guards `npm start` with no configuration (the built-in local setup) as a new user meets it: the collector
// process (`sspx-relay serve`, no sspx.config.json, an empty directory) mints and prints its keys once; a landing
// page on http://127.0.0.1:<any port> with the README's "Paste this on your landing page" snippet, opened with a
// token in a real Chromium, sends the touch; the thank-you page's sspx('convert', …) is attributed; and the fire
// shows up — on the dashboard (logged in with the printed admin key) and in /v1/fires — as a dry run: its exact
// URL and transcript recorded, marked not sent, its one hop a request with no response.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';
import { REPO_ROOT, spawnCollector, tempDir, type CollectorProcess } from '../support/proc.js';

const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';
const README_COLLECTOR = 'https://collect.shop.example';

/** the html blocks of a README section, as a user would copy them */
function readmeHtml(section: string): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`## ${section}`);
  expect(at, `README section "${section}"`).toBeGreaterThanOrEqual(0);
  const blocks = [...readme.slice(at).matchAll(/```html\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks.length, `html blocks in README section "${section}"`).toBeGreaterThanOrEqual(2);
  return blocks;
}

/** polls until `read` answers something, however long the machine takes (the test timeout bounds it) */
async function until<T>(read: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (;;) {
    const v = await read();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm start with no configuration', () => {
  let collector: CollectorProcess;
  let landing: http.Server;
  let landingUrl = '';
  let chromium: LaunchedChromium;
  let adminKey = '';

  beforeAll(async () => {
    const dir = tempDir('sspx-local-');
    collector = await spawnCollector({ config: null, dir, env: { SSPX_PORT: '0', SSPX_HOST: '127.0.0.1' } });
    adminKey = await until(() => /admin key:\s+(\S+)/.exec(collector.stdout())?.[1]);
    // the README's two snippets, pointed at this collector instead of collect.shop.example
    const [landingSnippet, thanksSnippet] = readmeHtml('Paste this on your landing page');
    const page = (body: string) => `<!doctype html><html><head><title>shop</title></head><body>${body.replaceAll(README_COLLECTOR, collector.url)}</body></html>`;
    landing = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      res.setHeader('content-type', 'text/html; charset=utf-8');
      if (path === '/landing') return void res.end(page(`<h1>landing</h1><a id="buy" href="/thanks">buy</a>${landingSnippet}`));
      if (path === '/thanks') return void res.end(page(`<h1>thank you</h1>${thanksSnippet}`));
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => landing.listen(0, '127.0.0.1', r));
    landingUrl = `http://127.0.0.1:${(landing.address() as AddressInfo).port}`;
    chromium = await launchChromium();
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise((r) => landing?.close(r));
    await collector?.stop();
  });

  it('prints the keys and the dashboard once, and says how to go live', () => {
    const out = collector.stdout();
    expect(out).toMatch(/dry run/);
    expect(out).toContain(`dashboard:     ${collector.url}/admin`);
    for (const role of ['admin', 'server', 'app']) expect(out).toMatch(new RegExp(`${role} key: +[A-Za-z0-9_-]{32,}`));
    expect(out).toMatch(/go live: +npx sspx-relay init /);
  });

  it('records a landing page touch and a thank-you page conversion as a dry-run fire with its URL, shown on the dashboard', async () => {
    const page = await chromium.context.newPage();
    const touched = page.waitForResponse((r) => r.url() === `${collector.url}/t` && r.request().method() === 'POST');
    await page.goto(`${landingUrl}/landing?sspdata=${TOKEN}`);
    expect((await touched).status()).toBe(200);

    const converted = page.waitForResponse((r) => r.url() === `${collector.url}/c` && r.request().method() === 'POST');
    await page.click('#buy');
    const answer = await (await converted).json();
    expect(answer).toMatchObject({ outcome: 'attributed', fire_id: expect.stringMatching(/^f_/) });

    const auth = { authorization: `Bearer ${adminKey}` };
    const fire = await until(async () => {
      const f = await (await fetch(`${collector.url}/v1/fires/${answer.fire_id}`, { headers: auth })).json();
      return f.attempts?.length ? f : undefined;
    });
    const url = 'https://sspx-router.adnxs.com/sspx?id=59633&order_id=A-1001&value=49.90&sspdata=' + TOKEN;
    expect(fire).toMatchObject({ dry_run: true, pixel: 'purchase', order_id: 'A-1001', value: '49.90', token: TOKEN });
    expect(fire.attempts).toHaveLength(1);
    expect(fire.attempts[0].url).toBe(url);
    expect(fire.attempts[0].hops).toHaveLength(1);
    expect(fire.attempts[0].hops[0]).toMatchObject({ dry_run: true, request: { method: 'GET', url } });
    expect(fire.attempts[0].hops[0].response).toBeUndefined();
    expect(fire.attempts[0].transcript).toContain('NOT sent');
    expect(fire.attempts[0].transcript).toContain(`> GET /sspx?id=59633&order_id=A-1001&value=49.90&sspdata=${TOKEN} HTTP/1.1`);

    const list = await (await fetch(`${collector.url}/v1/fires`, { headers: auth })).json();
    expect(list.fires).toEqual([expect.objectContaining({ id: answer.fire_id, dry_run: true })]);

    await page.goto(`${collector.url}/admin/login`);
    await page.fill('#key', adminKey);
    await Promise.all([page.waitForURL((u) => u.pathname === '/admin'), page.click('button[type=submit]')]);
    await page.goto(`${collector.url}/admin/fires`);
    const row = page.locator('tr', { hasText: answer.fire_id });
    await row.waitFor();
    expect(await row.textContent()).toContain('dry run · not sent');
    await page.close();
  });
});
