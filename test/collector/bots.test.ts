// Guards who is dropped as a bot on the browser routes (issue 14, item 9): real phones and in-app browsers whose user
// agents a home-made pattern mistook for bots (the Cubot phones' `Cubot`, Pinterest's in-app `[Pinterest/iOS]`) are
// recorded; crawlers, link previews and HTTP libraries are dropped with the named reason `bot` (202, X-Sspx-Reason),
// on /t, /i and the image fallback alike, and nothing of theirs is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { send } from '../support/proc.js';
import { dropReason } from '../../collector/ingest/client.js';
import { readStoredRows } from '../security/stored-rows.js';

const people: [string, string][] = [
  ['Cubot phone (Chrome)', 'Mozilla/5.0 (Linux; Android 10; Cubot KingKong Mini) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.104 Mobile Safari/537.36'],
  ['Cubot phone (model with underscore)', 'Mozilla/5.0 (Linux; Android 11; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/90.0.4430.210 Mobile Safari/537.36'],
  ['Pinterest in-app browser (iOS)', 'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]'],
  ['Pinterest in-app browser (Android)', 'Mozilla/5.0 (Linux; Android 13; SM-G991B Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.5845.163 Mobile Safari/537.36 [Pinterest/Android]'],
  ['iPhone Safari', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1'],
];
const bots: [string, string][] = [
  ['Googlebot', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)'],
  ['Pinterest crawler', 'Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)'],
  ['Facebook link preview', 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)'],
  ['WhatsApp preview', 'WhatsApp/2.23.20.0'],
  ['curl', 'curl/8.4.0'],
  ['python-requests', 'python-requests/2.31.0'],
  ['headless Chrome', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36'],
];

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(() => c.stop());

const touch = (ua: string, n: string) =>
  send(c.url + '/t', { method: 'POST', headers: { origin: SITE, 'content-type': 'text/plain', 'user-agent': ua }, body: JSON.stringify({ t: token(n) }) });
const impression = (ua: string, n: string) => send(`${c.url}/i?sspdata=${encodeURIComponent(token(n))}`, { headers: { 'user-agent': ua } });
const fallback = (ua: string, n: string) => send(`${c.url}/t?b=${encodeURIComponent(JSON.stringify({ t: token(n) }))}`, { headers: { 'user-agent': ua, referer: SITE + '/' } });
const storedTokens = async () => {
  await c.touches.drain();
  return new Set((await readStoredRows(c.ctx.store)).touches.map((t) => t.token));
};

describe('bot drops', () => {
  it.each(people)('%s is a visitor: recorded on /t, /i and the image fallback', async (name, ua) => {
    const routes = [touch, impression, fallback];
    for (const [i, route] of routes.entries()) {
      const res = await route(ua, `${name.replace(/\W/g, '')}-${i}`);
      expect(res.status, name).toBe(200);
      expect(res.headers['x-sspx-reason']).toBeUndefined();
    }
    const tokens = await storedTokens();
    for (const i of routes.keys()) expect(tokens.has(token(`${name.replace(/\W/g, '')}-${i}`))).toBe(true);
  });

  it.each(bots)('%s is a bot: 202 with the reason `bot`, nothing stored', async (name, ua) => {
    const routes = [touch, impression, fallback];
    for (const [i, route] of routes.entries()) {
      const res = await route(ua, `${name.replace(/\W/g, '')}-${i}`);
      expect(res.status, name).toBe(202);
      expect(res.headers['x-sspx-reason']).toBe('bot');
    }
    const tokens = await storedTokens();
    for (const i of routes.keys()) expect(tokens.has(token(`${name.replace(/\W/g, '')}-${i}`))).toBe(false);
  });

  it('each User-Agent keeps its verdict once remembered: asked again, after more agents than are kept, and when too long to keep', () => {
    const verdict = (ua: string) => dropReason({ 'user-agent': ua }, true);
    const expected = [...people.map(([, ua]) => [ua, null] as const), ...bots.map(([, ua]) => [ua, 'bot'] as const)];
    for (const [ua, reason] of expected) expect([verdict(ua), verdict(ua)], ua).toEqual([reason, reason]);
    // 1,500 browsers seen: more than are remembered, so the verdicts above are forgotten and judged again
    for (let i = 0; i < 1500; i++) expect(verdict(`${people[0][1]} Build/${i}`)).toBeNull();
    for (const [ua, reason] of expected) expect(verdict(ua), ua).toBe(reason);
    // an agent too long to remember is judged every time
    const long = (ua: string) => `${ua} ${'x'.repeat(600)}`;
    for (const [ua, reason] of expected) expect([verdict(long(ua)), verdict(long(ua))], ua).toEqual([reason, reason]);
  });
});
