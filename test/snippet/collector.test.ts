// Guards the contract between the script and the collector end to end: the bodies the built script sends posted as
// they are to a real collector's POST /t, with the headers a browser sends. The touch is stored with the token the
// collector reads from its URLs byte for byte, the landing URL without the token params, the id named by data-ids,
// the referrer, and the language and client hints the collector reads from Accept-Language and Sec-CH-UA-*. URLs
// that hold only an unreplaced macro, and an older script's diagnostic (the suspicious value alone as `t`), are
// counted as an unreplaced macro per site and day (202 {dropped}, no cookie) in every spelling; a real token that
// only looked suspicious to an older script is recorded as a touch.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { utcDay } from '../../collector/clock.js';
import { post, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { diagnostics, openLanding, touches } from './harness.js';

const TOKEN = 'ams1AB+cd$.';
const IDFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
const headers = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' };
/** what Chromium on Android adds to every request: the language and the low-entropy client hints */
const browserHeaders = { ...headers, 'accept-language': 'de-DE,de;q=0.9', 'sec-ch-ua-mobile': '?1', 'sec-ch-ua-platform': '"Android"' };

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(() => c.stop());

/** unreplaced macros counted for the test site today */
const macrosCounted = async () => {
  const day = utcDay(c.clock.now());
  const rows = await c.ctx.store.diagnostics(day, day);
  return rows.filter((r) => r.kind === 'unreplaced_macro' && r.site === SITE).reduce((n, r) => n + r.count, 0);
};

test("the script's touch is stored with the token byte for byte, the clean URL, the id and the hints", async () => {
  const page = await openLanding({
    url: `${SITE}/landing?a=1&sspdata=${TOKEN}&token=\${SSP_DATA}&idfa=${IDFA}#top`,
    attrs: { params: 'sspdata,token', ids: 'idfa' },
    referrer: 'https://news.example/article',
  });
  const [touch] = touches(page);
  const res = await post(c.url + '/t', touch.raw, browserHeaders);
  expect(res.status, res.text).toBe(200);
  const stored = (await c.ctx.store.touchByCid(res.json.cid))!;
  expect(stored).toMatchObject({
    token: TOKEN,
    url: `${SITE}/landing?idfa=${IDFA}`, // a=1 and the fragment are not attribution's: not stored
    referrer: 'https://news.example', // the referrer's origin alone
    device_id: IDFA.toLowerCase(),
  });
  const hints = typeof stored.hints === 'string' ? JSON.parse(stored.hints) : stored.hints;
  expect(hints).toEqual({ l: 'de-de', mo: true, pf: 'Android', ids: { idfa: IDFA.toLowerCase() } });
});

test("the script's unreplaced macro is counted, not refused, answered as a drop, and sets no cookie", async () => {
  const before = await macrosCounted();
  const page = await openLanding({ url: `${SITE}/landing?sspdata=%24%7BSSP_DATA%7D` });
  const [diagnostic] = diagnostics(page);
  const res = await post(c.url + '/t', diagnostic.raw, headers);
  expect(res.status, res.text).toBe(202);
  expect(res.json).toEqual({ dropped: 'unreplaced_macro' }); // what data-debug prints
  expect(res.headers.get('x-sspx-reason')).toBe('unreplaced_macro');
  expect(res.headers.get('set-cookie')).toBeNull();
  expect(await macrosCounted()).toBe(before + 1);
});

// every spelling the ad server may leave, as an older script sent it (decoded once, alone)
test.each([
  '${SSP_DATA}',
  '[SSPDATA]',
  '%%SSP_DATA%%',
  '__SSP_DATA__',
  '$SSP_DATA',
  'SSP_DATA',
  '${ssp-data}',
  '%2524%257BSSP_DATA%257D',
  '%24%7BSSP_DATA%7D%',
  '',
])('POST /t {t: %j} counts an unreplaced macro for the site and stores nothing', async (value) => {
  const before = await macrosCounted();
  const res = await post(c.url + '/t', { t: value }, headers);
  expect(res.status, res.text).toBe(202);
  expect(res.headers.get('x-sspx-reason')).toBe('unreplaced_macro');
  expect(res.headers.get('set-cookie')).toBeNull();
  expect(await macrosCounted()).toBe(before + 1);
});

test('a real token an older script sent as a diagnostic (it looked like a macro) is recorded as a touch', async () => {
  const res = await post(c.url + '/t', { t: 'ams1SSPxDATA.' }, headers);
  expect(res.status, res.text).toBe(200);
  expect((await c.ctx.store.touchByCid(res.json.cid))?.token).toBe('ams1SSPxDATA.');
});

test("an older script's touch, its token as `t` beside the landing URL, is stored as it was", async () => {
  const res = await post(c.url + '/t', { t: TOKEN, u: `${SITE}/landing?sspdata=${TOKEN}&x=1`, a: {}, r: '' }, headers);
  expect(res.status, res.text).toBe(200);
  expect(await c.ctx.store.touchByCid(res.json.cid)).toMatchObject({ token: TOKEN, url: `${SITE}/landing` });
});

test('a token only in the current URL (a router put it there) is read from v', async () => {
  const page = await openLanding({ url: `${SITE}/landing#/offer?sspdata=${TOKEN}`, navigated: `${SITE}/landing` });
  const [touch] = touches(page);
  const res = await post(c.url + '/t', touch.raw, headers);
  expect(res.status, res.text).toBe(200);
  expect(await c.ctx.store.touchByCid(res.json.cid)).toMatchObject({ token: TOKEN, url: `${SITE}/landing` });
});

test('a real token is never counted as a macro', async () => {
  const before = await macrosCounted();
  const res = await post(c.url + '/t', { t: token('macro-check'), u: `${SITE}/landing` }, headers);
  expect(res.status, res.text).toBe(200);
  expect(await macrosCounted()).toBe(before);
});

test('a touch from a browser without navigation timing (no u) is stored with the current URL as its landing URL', async () => {
  const page = await openLanding({ url: `${SITE}/landing?sspdata=${TOKEN}&idfa=${IDFA}`, attrs: { ids: 'idfa' }, navigated: null });
  const [touch] = touches(page);
  expect('u' in touch.body).toBe(false);
  const res = await post(c.url + '/t', touch.raw, headers);
  expect(res.status, res.text).toBe(200);
  expect(await c.ctx.store.touchByCid(res.json.cid)).toMatchObject({ token: TOKEN, url: `${SITE}/landing?idfa=${IDFA}`, device_id: IDFA.toLowerCase() });
});
