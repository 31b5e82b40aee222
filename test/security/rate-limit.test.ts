// Guards the rate limit of the public routes (/t, /i, /c): one budget per client address per minute, shared by the
// three routes (and by the node:http front and Express, which mount the same routes), answered with 429, the standard
// RateLimit-* headers and Retry-After. Behind `trust_proxy: 1` the client address is the entry the proxy appended
// to X-Forwarded-For, so a client that sends its own X-Forwarded-For (one entry or many) is still counted as
// itself; with `trust_proxy: 0` the header is ignored altogether. The window moves with the (injected) clock, and
// the keyed server routes are not limited by it. An IPv6 client is its /64: a subscriber picks any address in it.
import { afterAll, describe, expect, it } from 'vitest';
import { clientNetwork } from '../../collector/ingest/client.js';
import { SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { json, send, type Sent } from '../support/proc.js';

const LIMIT = 5;
const T = token('rate');
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rate)';

const running: TestCollector[] = [];
afterAll(async () => {
  for (const c of running) await c.stop();
});

/** what the proxy forwards: the client's own X-Forwarded-For (if any), then the address the proxy saw */
const via = (client: string, spoofed?: string) => ({ 'x-forwarded-for': spoofed ? `${spoofed}, ${client}` : client });

function touch(c: TestCollector, headers: Record<string, string>, viaExpress = false): Promise<Sent> {
  const h: Record<string, string> = { origin: SITE, 'user-agent': UA, 'content-type': 'text/plain', ...headers };
  // `/T` only Express routes to /t (the front takes the exact path); chunked, the body goes through body-parser
  if (viaExpress) h['transfer-encoding'] = 'chunked';
  return send(c.url + (viaExpress ? '/T' : '/t'), { method: 'POST', headers: h, body: JSON.stringify({ t: T }) });
}
const impression = (c: TestCollector, headers: Record<string, string>) => send(`${c.url}/i?sspdata=${T}`, { headers: { 'user-agent': UA, ...headers } });
const conversion = (c: TestCollector, headers: Record<string, string>) =>
  send(c.url + '/c', { method: 'POST', headers: { origin: SITE, 'user-agent': UA, 'content-type': 'text/plain', ...headers }, body: JSON.stringify({ pixel: 'purchase' }) });

function expectLimited(res: Sent) {
  expect(res.status).toBe(429);
  expect(json(res)?.error).toBe('rate_limited');
  expect(res.headers['ratelimit-limit']).toBe(String(LIMIT));
  expect(res.headers['ratelimit-remaining']).toBe('0');
  expect(Number(res.headers['ratelimit-reset'])).toBeGreaterThan(0);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
}

describe('rate limits on the public routes', () => {
  it('behind one proxy: a spoofed X-Forwarded-For entry does not escape the budget', async () => {
    const c = await startTestCollector({ rate_limit_per_minute: LIMIT, trust_proxy: 1 });
    running.push(c);
    const client = '198.51.100.7';
    const remaining: string[] = [];
    for (let i = 0; i < LIMIT; i++) {
      // a fresh forged entry every time, through both HTTP paths
      const res = await touch(c, via(client, `10.0.0.${i}`), i % 2 === 1);
      expect(res.status).toBe(200);
      remaining.push(String(res.headers['ratelimit-remaining']));
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0']);
    expectLimited(await touch(c, via(client, '203.0.113.99')));
    expectLimited(await touch(c, via(client, '1.1.1.1, 2.2.2.2, 3.3.3.3')));
    expectLimited(await touch(c, via(client), true));
    // the budget is the address's, across /t, /i and /c
    expectLimited(await impression(c, via(client, '10.9.9.9')));
    expectLimited(await conversion(c, via(client, '10.9.9.9')));
    // another client is not affected, nor is the proxy's own address
    expect((await touch(c, via('198.51.100.8', client))).status).toBe(200);
    expect((await touch(c, {})).status).toBe(200);
    // the server-to-server API is keyed: limited per key (test/security/key-limits.test.ts), not by address
    for (let i = 0; i < LIMIT; i++) {
      const res = await send(c.url + '/v1/conversions', {
        headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json', ...via(client) },
        body: JSON.stringify({ pixel: 'purchase', token: T, order_id: `RL-${i}` }),
      });
      expect(res.status).toBe(200);
    }
    // a minute later the window has moved
    c.clock.advance(60_000);
    expect((await touch(c, via(client, 'x'))).status).toBe(200);
  });

  it('with no proxy trusted, X-Forwarded-For is ignored: every request counts for the socket address', async () => {
    const c = await startTestCollector({ rate_limit_per_minute: LIMIT, trust_proxy: 0 });
    running.push(c);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT + 2; i++) statuses.push((await impression(c, { 'x-forwarded-for': `203.0.113.${i}` })).status);
    expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
    expectLimited(await impression(c, { 'x-forwarded-for': '198.51.100.200' }));
  });

  it('0 turns the limit off (load tests behind a limiting proxy)', async () => {
    const c = await startTestCollector({ rate_limit_per_minute: 0 });
    running.push(c);
    for (let i = 0; i < 3 * LIMIT; i++) {
      const res = await impression(c, {});
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('an IPv6 client is limited per /64, not per address', () => {
  it.each([
    ['IPv4 stays whole', '198.51.100.7', '198.51.100.7'],
    ['IPv4-mapped IPv6 is the IPv4 address', '::ffff:198.51.100.7', '198.51.100.7'],
    ['a full IPv6 address', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['another address of the same /64', '2001:0db8:0001:0002::1', '2001:db8:1:2::/64'],
    ['a compressed prefix', '2001:db8::5', '2001:db8:0:0::/64'],
    ['upper case', '2001:DB8:1:2::ABCD', '2001:db8:1:2::/64'],
    ['the next /64 is another client', '2001:db8:1:3::1', '2001:db8:1:3::/64'],
    ['loopback', '::1', '0:0:0:0::/64'],
    ['nothing', undefined, 'unknown'],
  ])('%s', (_name, ip, key) => {
    expect(clientNetwork(ip)).toBe(key);
  });

  it('behind a proxy: new addresses of one /64 share the budget; another /64 has its own', async () => {
    const c = await startTestCollector({ rate_limit_per_minute: LIMIT, trust_proxy: 1 });
    running.push(c);
    // a privacy-address client: a fresh interface id on every request, through both HTTP paths and all three routes
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) statuses.push((await touch(c, via(`2001:db8:aa:bb:${(i + 1).toString(16)}::${i + 7}`), i % 2 === 1)).status);
    expect(statuses).toEqual(Array(LIMIT).fill(200));
    expectLimited(await touch(c, via('2001:db8:aa:bb:ffff:ffff:ffff:ffff')));
    expectLimited(await impression(c, via('2001:0db8:00aa:00bb::1')));
    expectLimited(await conversion(c, via('2001:db8:aa:bb::2', '2001:db8:cc::1')));
    // the neighbouring /64 and an IPv4 client are not affected
    expect((await touch(c, via('2001:db8:aa:bc::1'))).status).toBe(200);
    expect((await touch(c, via('198.51.100.9'))).status).toBe(200);
  });
});
