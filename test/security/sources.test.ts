// Guards one rule for a pixel's `sources`, whichever route a conversion takes: an app key's install open fires only
// the on_install pixels that take `app` (a pixel limited to ["server"] is never fired by an app, whatever raw token
// the app sends), an app key's /v1/conversions is refused for a pixel without `app`, a server key for one without
// `server`, the thank-you page for one without `browser` — each a 403 source_not_allowed that stores nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOrderId } from '../../collector/ingest/installs.js';
import type { ConversionSource } from '../../collector/vocabulary.js';
import { ADMIN_KEY, APP_KEY, bearer, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { installId, openOk } from '../apps/support.js';

/** one on_install pixel per set of sources */
const PIXELS: Record<string, { id: number; sources: ConversionSource[] }> = {
  server_only: { id: 8101, sources: ['server'] },
  app_only: { id: 8102, sources: ['app'] },
  browser_only: { id: 8103, sources: ['browser'] },
  server_and_app: { id: 8104, sources: ['server', 'app'] },
  every_source: { id: 8105, sources: ['browser', 'server', 'app'] },
};

let c: TestCollector;
beforeAll(async () => {
  const pixels = Object.fromEntries(Object.entries(PIXELS).map(([name, p]) => [name, { ...p, on_install: true, trigger_type: 'click' as const }]));
  c = await startTestCollector({ pixels });
});
afterAll(() => c.stop());

const firesOf = async (pixel_id: number, order_id: string) => {
  const res = await fetch(`${c.url}/v1/fires?pixel=${pixel_id}&order_id=${order_id}`, { headers: bearer(ADMIN_KEY) });
  return ((await res.json()) as { fires: unknown[] }).fires.length;
};

let n = 0;
describe('an install open fires only the on_install pixels whose sources take app', () => {
  it.each(['token', 'referrer'] as const)('a raw %s no touch was recorded for', async (evidence) => {
    const id = installId();
    const t = token(`src${++n}`);
    const answer = await openOk(c, { install_id: id, ...(evidence === 'token' ? { token: t } : { referrer: `sspdata=${t}` }) });
    expect(answer.bound).toBe(true);
    const fired: Record<string, number> = {};
    for (const [name, p] of Object.entries(PIXELS)) fired[name] = await firesOf(p.id, installOrderId(id));
    expect(fired).toEqual({ server_only: 0, app_only: 1, browser_only: 0, server_and_app: 1, every_source: 1 });
  });
});

describe('/v1/conversions and /c hold to the same sources', () => {
  const routes: { name: string; source: ConversionSource; send: (pixel: string, order_id: string) => ReturnType<typeof post> }[] = [
    { name: 'app key', source: 'app', send: (pixel, order_id) => post(`${c.url}/v1/conversions`, { pixel, order_id, token: token(`src${++n}`) }, bearer(APP_KEY)) },
    { name: 'server key', source: 'server', send: (pixel, order_id) => post(`${c.url}/v1/conversions`, { pixel, order_id, token: token(`src${++n}`) }, bearer(SERVER_KEY)) },
    { name: 'thank-you page', source: 'browser', send: (pixel, order_id) => post(`${c.url}/c`, { pixel, order_id }, { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' }) },
  ];
  const cases = routes.flatMap((r) => Object.entries(PIXELS).map(([pixel, p]) => ({ ...r, pixel, allowed: p.sources.includes(r.source), id: p.id })));
  it.each(cases)('$name → $pixel', async ({ send, pixel, allowed, id }) => {
    const order = `SRC-${++n}`;
    const res = await send(pixel, order);
    if (allowed) {
      expect(res.status, res.text).toBe(200);
      return;
    }
    expect([res.status, res.json.error]).toEqual([403, 'source_not_allowed']);
    expect(await firesOf(id, order)).toBe(0);
  });
});
