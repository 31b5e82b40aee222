// Guards the built script in a real Chromium: on a landing page served over real HTTP, a URL with a token
// (trailing period, a `+`) and an idfa sends exactly one touch to POST /t with the landing URL, the current one, the
// referrer and the tag's data-ids, as a CORS-simple text/plain body, with the language and the client hints in the
// request's headers, from which the collector's own reading (scriptTouchSchema and scriptTouchFacts: the one shared
// parser) reads the token byte for byte and stores the id, the hints and the landing URL without the token; the
// page's own script keeps working and gets the click id; a page whose earlier script strips the query with
// history.replaceState still sends the token byte for byte (read from the navigation entry); and a URL with an
// unreplaced ${SSP_DATA} sends it once, which the collector reads as the macro (and answers as a drop).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { scriptTouchFacts, scriptTouchSchema } from '../../collector/ingest/touches.js';
import { isMacro } from '../../snippet/token.js';
import { launchChromium, type LaunchedChromium } from '../support/browser.js';

const SCRIPT = new URL('../../dist/sspx.js', import.meta.url);
const LANDING = new URL('../fixtures/landing.html', import.meta.url);
const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGU+LAAA3AAAAUQIAAD4AAA.';
const IDFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  headers: IncomingMessage['headers'];
  body: any;
}

/** a landing page whose own script, before ours, strips the query from the address bar ("clean URL") */
const CLEAN_URL_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>clean</title>
<script>history.replaceState(null, '', location.pathname); window.sspx = window.sspx || function () { (sspx.q = sspx.q || []).push(arguments) };
sspx('cid', function (cid) { window.clickId = cid === undefined ? null : cid })</script>
<script async src="/sspx.js"></script></head><body></body></html>`;

/** the token the collector reads from a /t body */
const tokenOf = (body: unknown) => scriptTouchFacts(scriptTouchSchema.parse(body)).token as string | undefined;

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => resolve(text));
  });

/** a stand-in collector: serves the landing page and the script, records what reaches /t and /c */
function startServer(received: Received[]): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://localhost');
    if (url.pathname === '/landing') return res.writeHead(200, { 'content-type': 'text/html' }).end(readFileSync(LANDING));
    if (url.pathname === '/clean') return res.writeHead(200, { 'content-type': 'text/html' }).end(CLEAN_URL_PAGE);
    if (url.pathname === '/sspx.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(SCRIPT));
    if (url.pathname === '/t' || url.pathname === '/c') {
      const text = req.method === 'POST' ? await readBody(req) : (url.searchParams.get('b') ?? '');
      received.push({ method: req.method!, path: url.pathname, contentType: req.headers['content-type'], headers: req.headers, body: JSON.parse(text) });
      // the collector answers an unreplaced macro as a drop
      if (url.pathname === '/t' && isMacro(tokenOf(received.at(-1)!.body) ?? ''))
        return res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ dropped: 'unreplaced_macro' }));
      const answer = url.pathname === '/t' ? { cid: 'e2e-cid-0123456789' } : { outcome: 'attributed' };
      return res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'sspx_vid=e2e-visitor; Path=/; HttpOnly; SameSite=Lax' }).end(JSON.stringify(answer));
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('sspx.js in Chromium', () => {
  const received: Received[] = [];
  let server: Server;
  let origin: string;
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    server = await startServer(received);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // headless Chromium takes its language from the environment: German, so the test can tell it from a default
    chromium = await launchChromium({ args: ['--lang=de-DE', '--accept-lang=de-DE'], env: { ...process.env, LANG: 'de_DE.UTF-8', LANGUAGE: 'de_DE' } });
  });

  afterAll(async () => {
    await chromium?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  test('a landing URL with a token sends one touch, byte-exact, and the page runs undisturbed', async () => {
    received.length = 0;
    const page = await chromium.context.newPage();
    const pageErrors: Error[] = [];
    page.on('pageerror', (e) => pageErrors.push(e));
    await page.goto(`${origin}/landing?sspdata=${TOKEN}&idfa=${IDFA}`);
    await page.waitForFunction(() => (window as any).clickId !== undefined);

    const seen = await page.evaluate(() => ({
      title: document.title,
      loaded: document.body.getAttribute('data-loaded'),
      clickId: (window as any).clickId,
      stored: localStorage.getItem('sspx_cid'),
      l: navigator.language,
      ua: (navigator as any).userAgentData && JSON.parse(JSON.stringify((navigator as any).userAgentData)),
    }));
    expect(seen.title).toBe('page script ran');
    expect(seen.loaded).toBe('yes');
    expect(seen.clickId).toBe('e2e-cid-0123456789');
    expect(seen.stored).toBe('e2e-cid-0123456789');
    expect(pageErrors).toEqual([]);

    expect(received).toHaveLength(1);
    const [touch] = received;
    expect(touch).toMatchObject({ method: 'POST', path: '/t', contentType: 'text/plain;charset=UTF-8' });
    const landing = `${origin}/landing?sspdata=${TOKEN}&idfa=${IDFA}`;
    expect(touch.body).toEqual({ u: landing, v: landing, a: { ids: 'idfa,aaid' }, r: '' });
    expect(tokenOf(touch.body)).toBe(TOKEN);
    expect(TOKEN.endsWith('.')).toBe(true);
    // the browser sends what the script no longer does: its language and its low-entropy client hints
    expect(seen.l).toBe('de-DE');
    expect(seen.ua).toBeTruthy();
    expect(touch.headers).toMatchObject({ 'accept-language': expect.stringMatching(/^de-DE\b/), 'sec-ch-ua-mobile': seen.ua.mobile ? '?1' : '?0', 'sec-ch-ua-platform': `"${seen.ua.platform}"` });
    // what the collector stores of it: the token byte for byte, the landing URL without it, the id, the hints
    const stored = scriptTouchFacts(scriptTouchSchema.parse(touch.body), touch.headers);
    expect(stored).toEqual({
      token: TOKEN,
      device_id: IDFA.toLowerCase(),
      url: `${origin}/landing?idfa=${IDFA}`,
      referrer: null,
      hints: { l: 'de-de', mo: seen.ua.mobile, pf: seen.ua.platform, ids: { idfa: IDFA.toLowerCase() } },
    });
    await page.close();
  });

  test('a page that strips the query with history.replaceState before the script runs still sends the token', async () => {
    received.length = 0;
    const page = await chromium.context.newPage();
    await page.goto(`${origin}/clean?sspdata=${TOKEN}&utm_source=ads`);
    await page.waitForFunction(() => (window as any).clickId !== undefined);
    expect(await page.evaluate(() => location.href)).toBe(`${origin}/clean`); // the page's script did strip it
    expect(received.map((r) => [r.path, tokenOf(r.body), r.body.u, r.body.v])).toEqual([['/t', TOKEN, `${origin}/clean?sspdata=${TOKEN}&utm_source=ads`, `${origin}/clean`]]);
    await page.close();
  });

  test('a landing URL with an unreplaced ${SSP_DATA} sends it once, read as the macro', async () => {
    received.length = 0;
    const page = await chromium.context.newPage();
    await page.goto(`${origin}/landing?sspdata=\${SSP_DATA}&utm_source=ads`);
    await page.waitForFunction(() => (window as any).clickId !== undefined);
    await page.waitForTimeout(300); // room for anything else it might (wrongly) send
    expect(received.map((r) => [r.path, tokenOf(r.body)])).toEqual([['/t', '${SSP_DATA}']]);
    await page.close();
  });
});
