// Guards the touch payload, the contract with the collector's POST /t: token, landing URL, the coarse
// device hints (screen, pixel ratio, language, time zone, userAgentData's mobile/platform when the browser
// has them), the referrer, and only the configured device ids, each at most 128 characters. The script sends
// the landing URL as it is with the tag's attributes; the collector strips the token params and reads the ids
// with the one shared parser (snippet/landing.ts), so those are checked as the collector reads the body.
import { expect, test } from 'vitest';
import { landingOf, openLanding, storedOf, touches } from './harness.js';

const LANDING = 'https://shop.example/landing';
const TOKEN = 'ams1AB.';

test('a touch carries the token, the landing URL, the tag attributes and the hints, and nothing else', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}` });
  const [touch] = touches(page);
  const w = page.window;
  expect(touch.body).toEqual({
    t: TOKEN,
    u: `${LANDING}?sspdata=${TOKEN}`,
    a: {},
    r: '',
    w: w.screen.width,
    h: w.screen.height,
    d: w.devicePixelRatio,
    l: w.navigator.language,
    z: w.Intl.DateTimeFormat().resolvedOptions(),
  });
  expect(touch.url).toBe('https://collect.example/t');
  // and what the collector stores of it: the clean URL, no referrer, the hints under their keys
  expect(storedOf(touch.body)).toEqual({
    token: TOKEN,
    device_id: null,
    url: LANDING,
    referrer: null,
    hints: { w: w.screen.width, h: w.screen.height, d: w.devicePixelRatio, l: w.navigator.language, z: Intl.DateTimeFormat().resolvedOptions().timeZone },
  });
});

test('the referrer is sent when the page has one', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}`, referrer: 'https://news.example/article' });
  expect(touches(page)[0].body.r).toBe('https://news.example/article');
  expect(storedOf(touches(page)[0].body).referrer).toBe('https://news.example/article');
});

test('userAgentData gives mobile and platform; nothing higher-entropy is asked for', async () => {
  let highEntropyAsked = false;
  const userAgentData = {
    mobile: true,
    platform: 'Android',
    getHighEntropyValues: () => ((highEntropyAsked = true), Promise.resolve({})),
  };
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}`, userAgentData });
  const { body } = touches(page)[0];
  expect(body.c).toEqual({ mobile: true, platform: 'Android' });
  expect(storedOf(body).hints).toMatchObject({ mo: true, pf: 'Android' });
  expect(highEntropyAsked).toBe(false);
});

test.each([
  { name: 'configured ids present', url: `${LANDING}?sspdata=${TOKEN}&idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC&aaid=x`, ids: { idfa: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }, attr: 'idfa' },
  { name: 'two ids, one in the fragment', url: `${LANDING}?idfa=A1&sspdata=${TOKEN}#aaid=b2`, ids: { idfa: 'A1', aaid: 'b2' }, attr: 'idfa,aaid' },
  { name: 'percent-encoded id decoded', url: `${LANDING}?sspdata=${TOKEN}&aaid=a%2Db`, ids: { aaid: 'a-b' }, attr: 'idfa,aaid' },
  { name: 'a value of 129 characters is left out', url: `${LANDING}?sspdata=${TOKEN}&idfa=${'A'.repeat(129)}`, ids: undefined, attr: 'idfa' },
  { name: 'exactly 128 characters is kept', url: `${LANDING}?sspdata=${TOKEN}&idfa=${'A'.repeat(128)}`, ids: { idfa: 'A'.repeat(128) }, attr: 'idfa' },
  { name: 'ids not configured are not sent', url: `${LANDING}?sspdata=${TOKEN}&idfa=A1`, ids: undefined, attr: undefined },
  { name: 'configured but absent: no ids key', url: `${LANDING}?sspdata=${TOKEN}`, ids: undefined, attr: 'idfa,aaid' },
])('ids: $name', async ({ url, ids, attr }) => {
  const page = await openLanding({ url, attrs: attr ? { ids: attr } : {} });
  const body = touches(page)[0].body;
  expect(landingOf(body).ids).toEqual(ids);
  if (!attr) expect('ids' in body.a).toBe(false);
});

test('the collector keeps the configured ids it knows, normalised, and strips nothing but the token params', async () => {
  const url = `${LANDING}?sspdata=${TOKEN}&idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC&aaid=x#gaid=00000000-0000-0000-0000-000000000000`;
  const page = await openLanding({ url, attrs: { ids: 'idfa,gaid' } });
  const stored = storedOf(touches(page)[0].body);
  expect(stored.device_id).toBe('6d92078a-8246-4ba4-ae5b-76104861e7dc');
  expect(stored.hints?.ids).toEqual({ idfa: '6d92078a-8246-4ba4-ae5b-76104861e7dc' }); // a zeroed id is none
  expect(stored.url).toBe(`${LANDING}?idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC&aaid=x#gaid=00000000-0000-0000-0000-000000000000`);
});

test('data-collector overrides where the script came from (a trailing slash is fine)', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}`, attrs: { collector: 'https://c.shop.example/' } });
  expect(page.sent.map((s) => s.url)).toEqual(['https://c.shop.example/t']);
});

test('the body is a string, posted with keepalive and credentials, so it is CORS-simple and survives navigation', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}` });
  const { init, raw } = touches(page)[0];
  expect(typeof init!.body).toBe('string');
  expect(init).toMatchObject({ method: 'POST', credentials: 'include', body: raw });
  // keepalive as the browser reads it: WebIDL makes the script's 1 a true
  expect(new Request('https://collect.example/t', init).keepalive).toBe(true);
  expect(init!.headers).toBeUndefined(); // a string body is sent as text/plain;charset=UTF-8: no preflight
});
