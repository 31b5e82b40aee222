// Guards the touch payload, the contract with the collector's POST /t: the landing URL as it is and the current one
// (the collector reads the token there), the tag's attributes and the referrer, and nothing the collector can read
// for itself (the language comes from
// Accept-Language, mobile and platform from the Sec-CH-UA-* client hints; screen, pixel ratio and time zone are not
// collected). The collector strips the token params and reads the configured device ids (each at most 128
// characters) with the one shared parser (snippet/landing.ts), so those are checked as the collector reads the body.
import { expect, test } from 'vitest';
import { landingOf, openLanding, storedOf, touches } from './harness.js';

const LANDING = 'https://shop.example/landing';
const TOKEN = 'ams1AB.';

test('a touch carries the landing URL, the current one, the tag attributes and the referrer, and nothing else', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}` });
  const [touch] = touches(page);
  // the token is the collector's to read from the URLs (storedOf below)
  expect(touch.body).toEqual({ u: `${LANDING}?sspdata=${TOKEN}`, v: `${LANDING}?sspdata=${TOKEN}`, a: {}, r: '' });
  expect(touch.url).toBe('https://collect.example/t');
  // and what the collector stores of it: the clean URL, no referrer, no hints without the headers that carry them
  expect(storedOf(touch.body)).toEqual({ token: TOKEN, device_id: null, url: LANDING, referrer: null, hints: null });
});

test('the collector takes the language and the client hints from the request headers', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}` });
  const headers = { 'accept-language': 'de-DE,de;q=0.9,en;q=0.8', 'sec-ch-ua-mobile': '?1', 'sec-ch-ua-platform': '"Android"' };
  expect(storedOf(touches(page)[0].body, headers).hints).toEqual({ l: 'de-de', mo: true, pf: 'Android' });
  // what is not a hint is left out, not guessed
  const odd = { 'accept-language': '*', 'sec-ch-ua-mobile': 'yes', 'sec-ch-ua-platform': 'Android' };
  expect(storedOf(touches(page)[0].body, odd).hints).toBeNull();
});

test('the referrer is sent when the page has one', async () => {
  const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}`, referrer: 'https://news.example/article' });
  expect(touches(page)[0].body.r).toBe('https://news.example/article');
  expect(storedOf(touches(page)[0].body).referrer).toBe('https://news.example'); // its origin alone is stored
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

test('the collector keeps the configured ids it knows, normalised, and keeps the allow-listed params', async () => {
  const url = `${LANDING}?sspdata=${TOKEN}&idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC&aaid=x#gaid=00000000-0000-0000-0000-000000000000`;
  const page = await openLanding({ url, attrs: { ids: 'idfa,gaid' } });
  const stored = storedOf(touches(page)[0].body);
  expect(stored.device_id).toBe('6d92078a-8246-4ba4-ae5b-76104861e7dc');
  expect(stored.hints?.ids).toEqual({ idfa: '6d92078a-8246-4ba4-ae5b-76104861e7dc' }); // a zeroed id is none
  // device-id params are allow-listed; the fragment is not kept
  expect(stored.url).toBe(`${LANDING}?idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC&aaid=x`);
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
