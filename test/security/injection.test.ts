// Guards the fire against parameter injection and request forgery: tokens (and `other` values) carrying `&id=1`,
// `#`, `%00`, a second `sspdata`, `?`, `/`, `@` or percent escapes arrive at the router byte for byte, each value
// in its own parameter: `id` exactly once and first, `sspdata` exactly once and last, nothing added. The same for
// tokens generated from the whole token alphabet. And nothing a request sends (Host, X-Forwarded-Host, a `router`
// field, a redirect from the router to a metadata address) changes where or what the collector fetches.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isToken } from '../../snippet/token.js';
import { ADMIN_KEY, SERVER_KEY, SITE, token } from '../support/collector.js';
import { json, send } from '../support/proc.js';
import { startRouter, type RouterRequest, type TestRouter } from '../support/router.js';
import { until } from '../reliability/db.js';
import { startLiveCollector, type LiveCollector } from '../reliability/support.js';

const T = token('inj');
const HOSTILE_TOKENS = [
  `${T}&id=1`, `${T}#frag`, `${T}%00`, `${T}&sspdata=evil`, `${T}?id=2&x`, `${T}%26id%3D3`, `${T}%2526id%253D4`, 'a=b&c=d',
  '%', '%%', '%zz', '+plus+', ';a;b', '/path/../x', '..', 'http://evil.example/x', '@evil.example', '&', '=', '#', '?', 'id=1', 'sspdata=x',
  `${T}&order_id=X&value=9`, '!$&()*+,;=:@[]{}|^~',
];
/** `other` may carry & = # ? % too: it is encoded like everything else */
const HOSTILE_OTHERS = ['&id=1&sspdata=x', '#x', '?a=b', '%00', '100%', 'a+b c'];

const server = { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' };

describe('injection into the fire', () => {
  let router: TestRouter;
  let c: LiveCollector;
  const sent = new Map<string, { token: string; other?: string; value?: string }>();
  beforeAll(async () => {
    router = await startRouter();
    c = await startLiveCollector({ router: router.url, allow_insecure_router: true, dispatcher: true, poll_interval_ms: 50, retry_schedule_seconds: [0, 0.1], trust_proxy: 1 });
  });
  afterAll(async () => {
    await c?.stop();
    await router?.close();
  });

  async function convert(order_id: string, fields: { token: string; other?: string; value?: string }, headers: Record<string, string> = {}) {
    const res = await send(c.url + '/v1/conversions', { headers: { ...server, ...headers }, body: JSON.stringify({ pixel: 'purchase', order_id, ...fields }) });
    sent.set(order_id, fields);
    return res;
  }

  /** the router saw exactly one fire per order, each byte-exact, with nothing injected */
  function checkFires(orders: string[]) {
    const problems: string[] = [];
    for (const order of orders) {
      const got = router.fires.filter((q) => q.query.some(([k, v]) => k === 'order_id' && v === order));
      const want = sent.get(order)!;
      if (got.length !== 1) {
        problems.push(`${order}: ${got.length} fires`);
        continue;
      }
      const q: RouterRequest = got[0];
      const keys = q.query.map(([k]) => k);
      const expected = ['id', 'order_id', ...(want.value !== undefined ? ['value'] : []), ...(want.other !== undefined ? ['other'] : []), 'sspdata'];
      if (JSON.stringify(keys) !== JSON.stringify(expected)) problems.push(`${order}: parameters ${JSON.stringify(keys)}`);
      if (q.params.id !== '59633') problems.push(`${order}: id ${q.params.id}`);
      if (q.params.sspdata !== want.token) problems.push(`${order}: sspdata ${JSON.stringify(q.params.sspdata)} != ${JSON.stringify(want.token)}`);
      if (want.other !== undefined && q.params.other !== want.other) problems.push(`${order}: other ${JSON.stringify(q.params.other)}`);
      if (q.path !== '/sspx' || q.url.includes('#')) problems.push(`${order}: target ${q.url}`);
      const host = q.headers.find(([k]) => k.toLowerCase() === 'host')?.[1];
      if (host !== new URL(router.url).host) problems.push(`${order}: Host ${host}`);
    }
    return problems;
  }

  it('hostile tokens and `other` values arrive byte for byte, each in its own parameter', async () => {
    const orders: string[] = [];
    for (const [i, t] of HOSTILE_TOKENS.entries()) {
      expect(isToken(t), t).toBe(true);
      const res = await convert(`INJ-T${i}`, { token: t });
      expect(res.status, res.body).toBe(200);
      orders.push(`INJ-T${i}`);
    }
    for (const [i, other] of HOSTILE_OTHERS.entries()) {
      const res = await convert(`INJ-O${i}`, { token: `${T}o${i}`, other, value: '10.5' });
      expect(res.status, res.body).toBe(200);
      orders.push(`INJ-O${i}`);
    }
    await router.waitFor((r) => orders.every((o) => r.logged.some((q) => q.params.order_id === o)), 15_000);
    expect(checkFires(orders)).toEqual([]);
  });

  it('the browser path too: a touch with a hostile token, then a conversion through the visitor cookie', async () => {
    const t = `${T}&id=666&sspdata=evil#x`;
    const touch = await send(c.url + '/t', { headers: { origin: SITE, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', 'content-type': 'text/plain' }, body: JSON.stringify({ t }) });
    expect(touch.status, touch.body).toBe(200);
    const cookie = String(touch.headers['set-cookie']?.[0]).split(';')[0];
    const conv = await send(c.url + '/c', { headers: { origin: SITE, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', 'content-type': 'text/plain', cookie }, body: JSON.stringify({ pixel: 'purchase', order_id: 'INJ-B1' }) });
    expect(json(conv).outcome).toBe('attributed');
    sent.set('INJ-B1', { token: t });
    const view = await send(`${c.url}/i?sspdata=${encodeURIComponent(`${T}&id=777`)}`, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)' } });
    expect(view.status).toBe(200);
    const later = await convert('INJ-B2', { token: `${T}&id=777` });
    expect(json(later).outcome).toBe('attributed');
    await router.waitFor((r) => ['INJ-B1', 'INJ-B2'].every((o) => r.logged.some((q) => q.params.order_id === o)), 10_000);
    expect(checkFires(['INJ-B1', 'INJ-B2'])).toEqual([]);
  });

  it('generated tokens from the whole token alphabet are fired byte for byte (fast-check)', async () => {
    const tokenChars = fc.constantFrom(...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((ch) => isToken(ch)));
    const orders: string[] = [];
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(tokenChars, { minLength: 1, maxLength: 80 }).map((a) => a.join('')).filter(isToken), async (t) => {
        const order = `INJ-F${n++}`;
        const res = await convert(order, { token: t });
        orders.push(order);
        return res.status === 200;
      }),
      { numRuns: 60 },
    );
    await router.waitFor((r) => orders.every((o) => r.logged.some((q) => q.params.order_id === o)), 15_000);
    expect(checkFires(orders)).toEqual([]);
  });

  it('nothing a request sends changes where the collector fetches', async () => {
    const forged = {
      host: 'evil.example',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'x-forwarded-for': '169.254.169.254',
      forwarded: 'host=evil.example;proto=https',
      referer: 'http://169.254.169.254/',
      'x-original-url': '/evil',
      'x-rewrite-url': '/evil',
    };
    const res = await convert('INJ-H1', { token: `${T}h1` }, forged);
    expect(res.status, res.body).toBe(200);
    const withRouter = await send(c.url + '/v1/conversions', { headers: server, body: JSON.stringify({ pixel: 'purchase', token: T, order_id: 'INJ-H2', router: 'http://evil.example/' }) });
    expect(json(withRouter).error).toBe('unknown_field');
    const withUrl = await send(c.url + '/v1/conversions', { headers: server, body: JSON.stringify({ pixel: 'purchase', token: T, order_id: 'INJ-H3', url: 'http://evil.example/' }) });
    expect(json(withUrl).error).toBe('unknown_field');
    await router.waitFor((r) => r.logged.some((q) => q.params.order_id === 'INJ-H1'), 10_000);
    expect(checkFires(['INJ-H1'])).toEqual([]);
    // every attempt the store recorded went to the configured router
    const { fires } = json(await send(c.url + '/v1/fires?limit=1000', { headers: { authorization: `Bearer ${ADMIN_KEY}` } }));
    expect(fires.length).toBeGreaterThan(30);
    for (const req of router.requests) expect(req.path === '/sspx' || req.path === '/logged').toBe(true);
  });

  it("a router redirect to a metadata address or another scheme is not followed", async () => {
    const targets: Record<string, string> = {
      'INJ-R1': 'http://169.254.169.254/latest/meta-data/',
      'INJ-R2': 'http://[fe80::1]/x',
      'INJ-R3': 'file:///etc/passwd',
      'INJ-R4': 'http://metadata.google.internal/computeMetadata/v1/',
    };
    router.otherwise((req) => {
      const target = targets[req.params.order_id];
      if (req.path === '/sspx' && target) return { redirect: target };
      if (req.path === '/sspx') return { redirect: `/logged${req.url.slice(req.path.length)}` };
      return { status: 200, body: 'logged' };
    });
    const ids: string[] = [];
    for (const order of Object.keys(targets)) ids.push(json(await convert(order, { token: `${T}${order}` })).fire_id);
    const view = async (id: string) => json(await send(`${c.url}/v1/fires/${id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }));
    await until('the redirects refused', async () => {
      for (const id of ids) if ((await view(id)).state !== 'failed') return false;
      return true;
    }, 10_000);
    for (const id of ids) {
      const f = await view(id);
      expect(f.attempts).toHaveLength(1);
      expect(f.attempts[0].error_class).toBe('redirect_bad_location');
      expect(f.attempts[0].hops).toHaveLength(1);
    }
    router.reset();
  });
});
