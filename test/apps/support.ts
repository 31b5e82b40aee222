// Shared steps of the app suites: a script touch over POST /t, an app open over POST /v1/app/open, the stored install.
import { expect } from 'vitest';
import type { AppOpenAnswer } from '../../collector/ingest/installs.js';
import type { Install, Touch } from '../../collector/store/store.js';
import { APP_KEY, bearer, post, SITE, type TestCollector } from '../support/collector.js';

export const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1';
export const ANDROID_UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36';
export const REDUCED_ANDROID_UA = 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36';

let seq = 0;
/** a fresh install id, as an app would make one (a UUID) */
export const installId = () => `0f3c2a1e-7b4d-4c8a-9e21-${String(++seq).padStart(12, '0')}`;
/** a fresh advertising id */
export const idfa = () => `6D92078A-8246-4BA4-AE5B-${String(++seq).padStart(12, '0')}`;

export interface ScriptTouch {
  t: string;
  l?: string;
  pf?: string;
  ids?: Record<string, string>;
  ua?: string;
  /** the client address, through X-Forwarded-For (the suite's collector trusts one proxy) */
  ip?: string;
}

/** the landing page's script reporting its token; answers the click id */
export async function scriptTouch(c: TestCollector, touch: ScriptTouch): Promise<string> {
  const { ua, ip, ...body } = touch;
  const headers: Record<string, string> = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' };
  if (ua) headers['user-agent'] = ua;
  if (ip) headers['x-forwarded-for'] = ip;
  const res = await post(c.url + '/t', { u: `${SITE}/landing`, ...body }, headers);
  expect(res.status, res.text).toBe(200);
  return res.json.cid as string;
}

/** an impression tracker's view: GET /i?sspdata=…&idfa=… */
export async function impression(c: TestCollector, t: string, ids: Record<string, string> = {}): Promise<void> {
  const query = new URLSearchParams({ sspdata: t, ...ids });
  const res = await fetch(`${c.url}/i?${query}`, { headers: { 'user-agent': IPHONE_UA } });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

export async function appOpen(c: TestCollector, body: unknown, headers: Record<string, string> = {}) {
  return post(c.url + '/v1/app/open', body, { ...bearer(APP_KEY), ...headers });
}

/** an open that must answer 200 */
export async function openOk(c: TestCollector, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await appOpen(c, { platform: 'android', ...body }, headers);
  expect(res.status, res.text).toBe(200);
  return res.json as AppOpenAnswer;
}

export const storedInstall = (c: TestCollector, id: string): Promise<Install | undefined> =>
  c.ctx.store.transaction((tx) => tx.installById(id));

export const touchByCid = async (c: TestCollector, cid: string): Promise<Touch> => (await c.ctx.store.touchByCid(cid))!;

/** the app opens a little after the click, so nothing looks like click injection unless a case wants it */
export const later = (c: TestCollector, ms = 60_000) => c.clock.advance(ms);
