// Guards the contract between the script and the collector end to end: the bodies the built script sends (a touch,
// the macro diagnostic) posted as they are to a real collector's POST /t. The touch is stored with its token byte
// for byte, the landing URL without the token params, the id named by data-ids, and the hints under their stored
// keys; the diagnostic, `{p}` alone, is counted (204), not refused as a touch without a token.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { post, SITE, startTestCollector, type TestCollector } from '../support/collector.js';
import { diagnostics, openLanding, touches } from './harness.js';

const TOKEN = 'ams1AB+cd$.';
const IDFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC';
const headers = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' };

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(() => c.stop());

test('the script\'s touch is stored with the token byte for byte, the clean URL, the id and the hints', async () => {
  const page = await openLanding({
    url: `${SITE}/landing?a=1&sspdata=${TOKEN}&token=\${SSP_DATA}&idfa=${IDFA}#top`,
    attrs: { params: 'sspdata,token', ids: 'idfa' },
    referrer: 'https://news.example/article',
    userAgentData: { mobile: true, platform: 'Android' },
  });
  const [touch] = touches(page);
  const res = await post(c.url + '/t', touch.raw, headers);
  expect(res.status, res.text).toBe(200);
  const stored = (await c.ctx.store.touchByCid(res.json.cid))!;
  const w = page.window;
  expect(stored).toMatchObject({
    token: TOKEN,
    url: `${SITE}/landing?a=1&idfa=${IDFA}#top`,
    referrer: 'https://news.example/article',
    device_id: IDFA.toLowerCase(),
  });
  const hints = typeof stored.hints === 'string' ? JSON.parse(stored.hints) : stored.hints;
  expect(hints).toEqual({
    w: w.screen.width,
    h: w.screen.height,
    d: w.devicePixelRatio,
    l: w.navigator.language,
    z: Intl.DateTimeFormat().resolvedOptions().timeZone,
    mo: true,
    pf: 'Android',
    ids: { idfa: IDFA.toLowerCase() },
  });
});

test('the script\'s macro diagnostic is counted, not refused', async () => {
  const page = await openLanding({ url: `${SITE}/landing?sspdata=%24%7BSSP_DATA%7D` });
  const [diagnostic] = diagnostics(page);
  const res = await post(c.url + '/t', diagnostic.raw, headers);
  expect(res.status, res.text).toBe(204);
  expect(res.headers.get('x-sspx-reason')).toBe('unreplaced_macro');
});
