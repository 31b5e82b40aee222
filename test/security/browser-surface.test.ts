// Guards what browsers see. CORS: only the configured site origins, byte-exact, get Access-Control-Allow-Origin and
// credentials; any other origin (look-alikes, scheme downgrades, `null`) is refused with 403 and gets neither; the
// server-to-server and operators' APIs are never opened to browsers; the script is readable by all but without
// credentials. Security headers (helmet) on every response but the script's and the beacons' (/t, /i, /c: a JSON
// answer or a GIF, nothing to frame or inject into), which keep nosniff and a request id; Cross-Origin-Resource-Policy
// `cross-origin` only on what other sites must embed (the script and the 1×1 GIF of /i and the image fallback),
// `same-site` on the rest. The
// sspx_vid cookie with exactly the contract's attributes, Secure on HTTPS (public_url https, or X-Forwarded-Proto
// https from a trusted proxy — never from an untrusted one), 128 random bits, forged values replaced. The
// collector's own origin never comes from a Host that DNS could rebind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_PATTERN } from '../../collector/fields.js';
import { ADMIN_KEY, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { json, send, type Sent } from '../support/proc.js';

const UA = 'Mozilla/5.0 (browser surface)';
const T = token('surface');
const touchReq = (headers: Record<string, string> = {}) => ({ method: 'POST', headers: { origin: SITE, 'user-agent': UA, 'content-type': 'text/plain', ...headers }, body: JSON.stringify({ t: T }) });

const running: TestCollector[] = [];
afterAll(async () => {
  for (const c of running) await c.stop();
});
async function collector(overrides: Parameters<typeof startTestCollector>[0] = {}) {
  const c = await startTestCollector({ ...overrides });
  running.push(c);
  return c;
}

// DNS rebinding: a page on the attacker's name, rebound to the collector's address, sends a Host and an Origin that
// match each other. Without public_url the collector's own origin comes from the Host only when it is an address or
// localhost; with public_url, only from public_url. The admin login's origin check follows the same rule.
describe("the collector's own origin is not the Host header's say-so", () => {
  type OwnCase = { name: string; public_url?: string; host: (port: number) => string; origin: (port: number) => string; own: boolean };
  const cases: OwnCase[] = [
    { name: 'a rebound name: Host and Origin agree', host: (p) => `evil.example:${p}`, origin: (p) => `http://evil.example:${p}`, own: false },
    { name: 'a rebound name ending in a dot', host: (p) => `evil.example.:${p}`, origin: (p) => `http://evil.example.:${p}`, own: false },
    { name: 'our address literal', host: (p) => `127.0.0.1:${p}`, origin: (p) => `http://127.0.0.1:${p}`, own: true },
    { name: 'localhost', host: (p) => `localhost:${p}`, origin: (p) => `http://localhost:${p}`, own: true },
    { name: 'with public_url: a rebound name', public_url: 'https://collect.shop.example', host: (p) => `evil.example:${p}`, origin: (p) => `http://evil.example:${p}`, own: false },
    { name: 'with public_url: its origin, whatever the Host', public_url: 'https://collect.shop.example', host: () => 'collect.shop.example', origin: () => 'https://collect.shop.example', own: true },
  ];
  const byUrl = new Map<string | undefined, TestCollector>();
  const of = async (public_url?: string) => {
    if (!byUrl.has(public_url)) byUrl.set(public_url, await collector(public_url ? { public_url } : {}));
    return byUrl.get(public_url)!;
  };

  it.each(cases)('$name: /t and /c (own origin: $own)', async (c) => {
    const col = await of(c.public_url);
    const headers = { host: c.host(col.port), origin: c.origin(col.port) };
    const t = await send(col.url + '/t', touchReq(headers));
    const cv = await send(col.url + '/c', { method: 'POST', headers: { 'user-agent': UA, 'content-type': 'text/plain', ...headers }, body: JSON.stringify({ pixel: 'purchase' }) });
    for (const res of [t, cv]) {
      if (c.own) expect(res.status).not.toBe(403);
      else {
        expect(res.status).toBe(403);
        expect(json(res)?.error).toBe('origin_not_allowed');
      }
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it.each(cases)('$name: the admin login (own origin: $own)', async (c) => {
    const col = await of(c.public_url);
    const res = await send(col.url + '/admin/login', {
      method: 'POST',
      headers: { host: c.host(col.port), origin: c.origin(col.port), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ key: ADMIN_KEY, next: '/admin' }).toString(),
    });
    expect(res.status).toBe(c.own ? 303 : 403);
    expect(res.headers['set-cookie'] === undefined).toBe(!c.own);
  });
});

describe('CORS', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await collector({ sites: [{ origin: SITE, cookie_domain: '.shop.example' }, { origin: 'https://other-brand.example' }] });
  });

  it('a configured origin gets its exact origin back, with credentials, on /t and /c and their preflights', async () => {
    for (const origin of [SITE, 'https://other-brand.example']) {
      const t = await send(c.url + '/t', touchReq({ origin }));
      expect(t.status).toBe(200);
      expect(t.headers['access-control-allow-origin']).toBe(origin);
      expect(t.headers['access-control-allow-credentials']).toBe('true');
      expect(String(t.headers.vary)).toMatch(/Origin/i);
      const cv = await send(c.url + '/c', { method: 'POST', headers: { origin, 'user-agent': UA, 'content-type': 'text/plain' }, body: JSON.stringify({ pixel: 'purchase' }) });
      expect(cv.headers['access-control-allow-origin']).toBe(origin);
      for (const path of ['/t', '/c']) {
        const pre = await send(c.url + path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
        expect(pre.status).toBe(204);
        expect(pre.headers['access-control-allow-origin']).toBe(origin);
        expect(pre.headers['access-control-allow-credentials']).toBe('true');
        expect(pre.headers['access-control-allow-methods']).toMatch(/POST/);
        expect(String(pre.headers['access-control-allow-headers']).toLowerCase()).toContain('content-type');
      }
    }
  });

  const refused = [
    'null', 'https://evil.example', 'http://shop.example', 'https://shop.example.evil.example', 'https://evil-shop.example', 'https://SHOP.EXAMPLE',
    'https://shop.example:443', 'https://shop.example/', 'https://shop.example.', 'https://sub.shop.example', 'https://shop.example, https://evil.example', 'https://shop.example\t.evil.example',
  ];
  it.each(refused)('origin %j is refused: 403, no CORS headers, no cookie', async (origin) => {
    for (const path of ['/t', '/c']) {
      const res = await send(c.url + path, { ...touchReq({ origin }), body: path === '/t' ? JSON.stringify({ t: T }) : JSON.stringify({ pixel: 'purchase' }) });
      expect(res.status).toBe(403);
      expect(json(res).error).toBe('origin_not_allowed');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers['set-cookie']).toBeUndefined();
      const pre = await send(c.url + path, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(403);
      expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('the APIs for backends, apps and operators are never opened to browsers', async () => {
    const h = { origin: SITE, 'content-type': 'application/json' };
    const answers: Sent[] = [
      await send(c.url + '/v1/conversions', { method: 'POST', headers: { ...h, authorization: `Bearer ${SERVER_KEY}` }, body: JSON.stringify({ pixel: 'purchase', token: T, order_id: 'CORS-1' }) }),
      await send(c.url + '/v1/touches', { method: 'POST', headers: { ...h, authorization: `Bearer ${SERVER_KEY}` }, body: JSON.stringify({ token: T }) }),
      await send(c.url + '/v1/fires', { headers: { origin: SITE, authorization: `Bearer ${ADMIN_KEY}` } }),
      await send(c.url + '/v1/conversions', { method: 'OPTIONS', headers: { origin: SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } }),
      await send(c.url + '/v1/fires', { method: 'OPTIONS', headers: { origin: SITE, 'access-control-request-method': 'GET' } }),
      await send(`${c.url}/i?sspdata=${T}`, { headers: { origin: SITE, 'user-agent': UA } }),
      await send(c.url + '/healthz', { headers: { origin: SITE } }),
    ];
    for (const res of answers) {
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    }
  });

  it('the script is readable by any site, without credentials', async () => {
    const res = await send(c.url + '/sspx.js', { headers: { origin: 'https://anyone.example' } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });
});

describe('security headers', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await collector();
  });

  const requests: [string, string, Parameters<typeof send>[1]][] = [
    ['healthz', '/healthz', {}],
    ['readyz', '/readyz', {}],
    ['conversion without key', '/v1/conversions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
    ['fires', '/v1/fires', { headers: { authorization: `Bearer ${ADMIN_KEY}` } }],
    ['not found', '/nope', {}],
    ['metrics', '/metrics', {}],
    ['dashboard login', '/admin/login', {}],
  ];
  const beacons: [string, string, Parameters<typeof send>[1]][] = [
    ['impression GIF', `/i?sspdata=${T}`, { headers: { 'user-agent': UA } }],
    ['impression dropped (bot) GIF', `/i?sspdata=${T}`, { headers: { 'user-agent': 'Googlebot/2.1' } }],
    ['impression refused', '/i', { headers: { 'user-agent': UA } }],
    ['image fallback GIF', `/t?b=${encodeURIComponent(JSON.stringify({ t: T }))}`, { headers: { 'user-agent': UA, referer: SITE + '/' } }],
    ['touch', '/t', touchReq()],
    ['touch, another spelling Express routes', '/T', touchReq()],
    ['touch refused origin', '/t', touchReq({ origin: 'https://evil.example' })],
    ['touch too large', '/t', { ...touchReq(), body: JSON.stringify({ t: T, u: 'x'.repeat(25_000) }) }],
    ['conversion', '/c', { method: 'POST', headers: { origin: SITE, 'content-type': 'text/plain' }, body: JSON.stringify({ pixel: 'purchase' }) }],
  ];

  it.each(requests)('%s: helmet headers, no X-Powered-By, CORP same-site', async (name, path, opts) => {
    const res = await send(c.url + path, opts);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    // the dashboard keeps the Origin of its own form posts (admin.ts says why); everything else sends no referrer
    expect(res.headers['referrer-policy']).toBe(path.startsWith('/admin') ? 'same-origin' : 'no-referrer');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['x-dns-prefetch-control']).toBe('off');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['strict-transport-security']).toBeUndefined(); // plain http here
    expect(res.headers['cross-origin-resource-policy'], name).toBe('same-site');
  });

  it.each(beacons)('%s: nosniff and a request id, no HTML security headers, CORP as decided', async (name, path, opts) => {
    const res = await send(c.url + path, opts);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{16}$/);
    for (const header of ['content-security-policy', 'x-frame-options', 'cross-origin-opener-policy', 'referrer-policy', 'x-dns-prefetch-control', 'origin-agent-cluster', 'x-powered-by'])
      expect(res.headers[header], `${name}: ${header}`).toBeUndefined();
    // only what other sites must embed may be loaded cross-origin: the GIFs
    const embeddable = res.headers['content-type'] === 'image/gif';
    expect(res.headers['cross-origin-resource-policy'], name).toBe(embeddable ? 'cross-origin' : 'same-site');
  });

  it('the script carries no HTML security headers and no request id (test/snippet/script-route.test.ts has its full set)', async () => {
    const res = await send(c.url + '/sspx.js');
    expect(res.status).toBe(200);
    for (const name of ['content-security-policy', 'x-frame-options', 'cross-origin-opener-policy', 'referrer-policy', 'x-request-id', 'x-powered-by'])
      expect(res.headers[name], name).toBeUndefined();
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });

  it('HSTS when the collector is served over https', async () => {
    const https = await collector({ public_url: 'https://collect.shop.example' });
    const res = await send(https.url + '/healthz');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
  });
});

const cookieOf = (res: Sent) => {
  const all = res.headers['set-cookie'] ?? [];
  expect(all).toHaveLength(1);
  const [pair, ...attrs] = all[0].split(/;\s*/);
  const [name, value] = pair.split('=');
  return { name, value, attrs: attrs.map((a) => a.toLowerCase()) };
};

describe('the sspx_vid cookie', () => {
  it('has exactly the contract attributes over http: HttpOnly, SameSite=Lax, Path=/, Domain, lifetime; not Secure', async () => {
    const c = await collector({ cookie_days: 30 });
    const k = cookieOf(await send(c.url + '/t', touchReq()));
    expect(k.name).toBe('sspx_vid');
    expect(k.value).toMatch(/^[A-Za-z0-9_-]{22}$/); // 128 random bits, base64url
    expect(k.attrs).toContain('httponly');
    expect(k.attrs).toContain('samesite=lax');
    expect(k.attrs).toContain('path=/');
    expect(k.attrs).toContain('domain=.shop.example');
    expect(k.attrs).toContain(`max-age=${30 * 86_400}`);
    expect(k.attrs.some((a) => a.startsWith('expires='))).toBe(true);
    expect(k.attrs).not.toContain('secure');
  });

  it('expires cookie_days after the touch, to the second, as the clock moves (by milliseconds, seconds and days)', async () => {
    const c = await collector({ cookie_days: 30 });
    const expiresOf = async () => cookieOf(await send(c.url + '/t', touchReq())).attrs.find((a) => a.startsWith('expires='));
    const expected = () => `expires=${new Date(c.clock.now() + 30 * 86_400_000).toUTCString().toLowerCase()}`;
    for (const step of [0, 400, 700, 1000, 86_400_000]) {
      c.clock.advance(step);
      expect(await expiresOf(), `after ${step} ms`).toBe(expected());
    }
  });

  it('Secure when public_url is https', async () => {
    const c = await collector({ public_url: 'https://collect.shop.example' });
    expect(cookieOf(await send(c.url + '/t', touchReq())).attrs).toContain('secure');
  });

  it('Secure behind a trusted proxy that says https; an untrusted X-Forwarded-Proto changes nothing', async () => {
    const trusted = await collector({ trust_proxy: 1 });
    expect(cookieOf(await send(trusted.url + '/t', touchReq({ 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.1' }))).attrs).toContain('secure');
    expect(cookieOf(await send(trusted.url + '/t', touchReq({ 'x-forwarded-proto': 'http' }))).attrs).not.toContain('secure');
    const direct = await collector({ trust_proxy: 0 });
    expect(cookieOf(await send(direct.url + '/t', touchReq({ 'x-forwarded-proto': 'https' }))).attrs).not.toContain('secure');
  });

  it('host-only when the site names no cookie_domain; the Domain never comes from the request', async () => {
    const c = await collector({ sites: [{ origin: SITE }] });
    const k = cookieOf(await send(c.url + '/t', touchReq({ host: 'evil.example', 'x-forwarded-host': 'evil.example' })));
    expect(k.attrs.some((a) => a.startsWith('domain='))).toBe(false);
  });

  it('random: 200 visitors get 200 distinct ids of our shape', async () => {
    const c = await collector();
    const ids = new Set<string>();
    for (let i = 0; i < 200; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => send(c.url + '/t', touchReq())));
      for (const r of batch) ids.add(cookieOf(r).value);
    }
    expect(ids.size).toBe(200);
    for (const id of ids) expect(ID_PATTERN.test(id)).toBe(true);
  });

  it('a forged value that is not ours is replaced; one of our shape is kept (it only ever names that browser)', async () => {
    const c = await collector();
    for (const forged of ['../../x', 'A'.repeat(200), 'short', 'has%20space', '"quoted"']) {
      const k = cookieOf(await send(c.url + '/t', touchReq({ cookie: `sspx_vid=${forged}` })));
      expect(k.value).not.toBe(forged);
      expect(k.value).toMatch(/^[A-Za-z0-9_-]{22}$/);
    }
    const ours = 'WellFormedVisitorId0123';
    expect(cookieOf(await send(c.url + '/t', touchReq({ cookie: `sspx_vid=${ours}` }))).value).toBe(ours);
  });

  it('no cookie from impressions, refusals, bots or Sec-GPC', async () => {
    const c = await collector();
    const none = [
      await send(`${c.url}/i?sspdata=${T}`, { headers: { 'user-agent': UA } }),
      await send(c.url + '/t', touchReq({ origin: 'https://evil.example' })),
      await send(c.url + '/t', touchReq({ 'user-agent': 'Googlebot/2.1' })),
      await send(c.url + '/t', touchReq({ 'sec-gpc': '1' })),
      await send(c.url + '/t', { ...touchReq(), body: '{' }),
      // a body without a usable token: refused before a visitor is ever named
      await send(c.url + '/t', { ...touchReq(), body: JSON.stringify({ t: 'not a token' }) }),
      await send(c.url + '/t', { ...touchReq(), body: JSON.stringify({ u: `${SITE}/landing?utm_source=bing` }) }),
    ];
    for (const res of none) expect(res.headers['set-cookie'], String(res.status)).toBeUndefined();
    expect(none.slice(-2).map((r) => r.status)).toEqual([400, 400]);
    expect(none[3].status).toBe(202);
    expect(none[3].headers['x-sspx-reason']).toBe('gpc');
  });
});
