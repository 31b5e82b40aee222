// Guards one attempt against every way the router answers: redirects are followed (the conversion is only logged at
// the end of the chain), each answer is classified into fired / retry / failed / ambiguous with a named error class,
// and every hop is recorded as sent and as received (headers in order, a bounded body excerpt).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import { FireAgents, httpFire, parseRetryAfter, type FireResult, type HopDetail } from '../../collector/dispatch/http-fire.js';
import { USER_AGENT } from '../../collector/dispatch/version.js';
import { routerForFile, startBlackhole, startRouter, TEST_CA, type Step, type TestRouter } from '../support/router.js';

const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';
let router: TestRouter;
let agents: FireAgents;
const opts = (o: Partial<Parameters<typeof httpFire>[1]> = {}) => ({
  connect_timeout_ms: 500, request_timeout_ms: 1500, max_redirects: 5, agents, allow_insecure: true, ...o,
});
const fire = (o: Partial<Parameters<typeof httpFire>[1]> = {}, url = `${router.url}?id=1&sspdata=${TOKEN}`) => httpFire(url, opts(o));

routerForFile((fixture) => ({ router, agents } = fixture), () => agents);

type Case = {
  name: string;
  steps?: Step[] | ((r: TestRouter) => Step[]);
  otherwise?: (r: TestRouter) => Step | ((req: { url: string; path: string }) => Step);
  max_redirects?: number;
  request_timeout_ms?: number;
  expect: Partial<Pick<FireResult, 'outcome' | 'status' | 'error_class' | 'retry_after_ms'>> & { hops: number; logged?: number };
};

const cases: Case[] = [
  { name: 'the usual relative 302 to /logged, then 200', expect: { outcome: 'fired', status: 200, error_class: null, hops: 2, logged: 1 } },
  { name: 'an absolute redirect', steps: (r) => [{ redirect: `${r.origin}/logged` }], expect: { outcome: 'fired', status: 200, hops: 2, logged: 1 } },
  { name: 'a direct 200, no redirect', steps: [{ status: 200, body: 'ok' }], expect: { outcome: 'fired', status: 200, hops: 1, logged: 0 } },
  { name: 'a 204', steps: [{ status: 204 }], expect: { outcome: 'fired', status: 204, hops: 1 } },
  { name: 'a chain of 301, 303, 307, 308 redirects', steps: [{ redirect: '/a', status: 301 }, { redirect: '/b', status: 303 }, { redirect: 'c', status: 307 }, { redirect: '/logged', status: 308 }], expect: { outcome: 'fired', status: 200, hops: 5, logged: 1 } },
  { name: 'more redirects than max_redirects', max_redirects: 2, steps: [{ redirect: '/a' }, { redirect: '/b' }, { redirect: '/c' }], expect: { outcome: 'failed', status: 302, error_class: 'too_many_redirects', hops: 3 } },
  { name: 'max_redirects 0 refuses the first redirect', max_redirects: 0, expect: { outcome: 'failed', status: 302, error_class: 'too_many_redirects', hops: 1 } },
  { name: 'a redirect to itself, for ever: followed up to the limit', otherwise: () => (req) => ({ redirect: req.url }), expect: { outcome: 'failed', error_class: 'too_many_redirects', hops: 6, logged: 0 } },
  { name: 'a loop a → b → a, for ever: followed up to the limit', otherwise: () => (req) => ({ redirect: req.path === '/a' ? '/b' : '/a' }), expect: { outcome: 'failed', error_class: 'too_many_redirects', hops: 6 } },
  { name: 'a redirect without Location', steps: [{ status: 302 }], expect: { outcome: 'failed', error_class: 'redirect_without_location', hops: 1 } },
  { name: 'a redirect to a non-http scheme', steps: [{ redirect: 'ftp://127.0.0.1/x' }], expect: { outcome: 'failed', error_class: 'redirect_bad_location', hops: 1 } },
  { name: '500', steps: [{ status: 500 }], expect: { outcome: 'retry', status: 500, error_class: 'http_5xx', retry_after_ms: null, hops: 1 } },
  { name: '503 after the redirect', steps: [{ redirect: '/logged' }, { status: 503 }], expect: { outcome: 'retry', status: 503, error_class: 'http_5xx', hops: 2 } },
  { name: '503 with Retry-After seconds', steps: [{ status: 503, headers: { 'Retry-After': '7' } }], expect: { outcome: 'retry', error_class: 'http_5xx', retry_after_ms: 7000, hops: 1 } },
  { name: '429 with Retry-After', steps: [{ status: 429, headers: { 'Retry-After': '2' } }], expect: { outcome: 'retry', status: 429, error_class: 'http_429', retry_after_ms: 2000, hops: 1 } },
  { name: '408', steps: [{ status: 408 }], expect: { outcome: 'retry', status: 408, error_class: 'http_408', hops: 1 } },
  { name: '404', steps: [{ status: 404 }], expect: { outcome: 'failed', status: 404, error_class: 'http_4xx', hops: 1 } },
  { name: '400 after a redirect', steps: [{ redirect: '/x' }, { status: 400 }], expect: { outcome: 'failed', status: 400, error_class: 'http_4xx', hops: 2 } },
  { name: 'a 304 is neither success nor redirect', steps: [{ status: 304 }], expect: { outcome: 'failed', status: 304, error_class: 'http_3xx', hops: 1 } },
  { name: 'hang after reading the request', request_timeout_ms: 300, steps: [{ hang: true }], expect: { outcome: 'ambiguous', status: null, error_class: 'timeout_after_send', hops: 1 } },
  { name: 'hang on the redirected hop', request_timeout_ms: 300, steps: [{ redirect: '/logged' }, { hang: true }], expect: { outcome: 'ambiguous', error_class: 'timeout_after_send', hops: 2 } },
  { name: 'the connection reset after reading the request', steps: [{ reset: true }], expect: { outcome: 'retry', status: null, error_class: 'reset', hops: 1 } },
  { name: 'a slow answer inside the timeout', steps: [{ status: 200, delay_ms: 100 }], expect: { outcome: 'fired', status: 200, hops: 1 } },
];

describe('httpFire classifies each router behaviour', () => {
  it.each(cases)('$name', async (c) => {
    // a fresh pool per case: a reset or hang must not leave state for the next
    agents.destroy();
    agents = new FireAgents(8, { ca: TEST_CA });
    if (c.steps) router.script(...(typeof c.steps === 'function' ? c.steps(router) : c.steps));
    if (c.otherwise) router.otherwise(c.otherwise(router));
    const r = await fire({ max_redirects: c.max_redirects ?? 5, request_timeout_ms: c.request_timeout_ms ?? 1500 });
    const { hops, logged, ...rest } = c.expect;
    expect(r).toMatchObject(rest);
    expect(r.hops).toHaveLength(hops);
    if (logged !== undefined) expect(router.logged).toHaveLength(logged);
    expect(r.outcome).not.toBe('aborted');
    if (r.outcome !== 'fired') expect(r.error).toBeTruthy();
  });
});

describe('httpFire against connections that fail', () => {
  it('classifies a refused connection as retry / connect_refused', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const r = await httpFire(`http://127.0.0.1:${port}/sspx?id=1&sspdata=x`, opts());
    expect(r).toMatchObject({ outcome: 'retry', error_class: 'connect_refused', status: null });
    expect(r.hops[0].error).toContain('Connection refused');
    expect((r.hops[0] as HopDetail).sent).toBe(false);
  });

  it('a TLS handshake that never completes is a connect timeout (retry); plain http to the same hole is ambiguous', async () => {
    const hole = await startBlackhole();
    try {
      const t0 = Date.now();
      const tls = await httpFire(`https://127.0.0.1:${hole.port}/sspx?id=1&sspdata=x`, opts({ connect_timeout_ms: 200, request_timeout_ms: 3000 }));
      expect(tls).toMatchObject({ outcome: 'retry', error_class: 'connect_timeout' });
      expect(Date.now() - t0).toBeLessThan(2500);
      const plain = await httpFire(`http://127.0.0.1:${hole.port}/sspx?id=1&sspdata=x`, opts({ request_timeout_ms: 300 }));
      expect(plain).toMatchObject({ outcome: 'ambiguous', error_class: 'timeout_after_send' });
    } finally {
      await hole.close();
    }
  });

  it('an abort signal ends the attempt at once, marked aborted', async () => {
    router.script({ hang: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await fire({ signal: ac.signal, request_timeout_ms: 5000 });
    expect(r.outcome).toBe('aborted');
  });

  it('the signal is watched over the whole attempt: an abort on the redirected hop ends it there, with both hops', async () => {
    router.script({ redirect: '/logged' }, { hang: true });
    const ac = new AbortController();
    const attempt = fire({ signal: ac.signal, request_timeout_ms: 5000 });
    await router.waitFor((r) => r.requests.length === 2);
    ac.abort();
    const r = await attempt;
    expect(r).toMatchObject({ outcome: 'aborted', error_class: 'aborted', status: null });
    expect(r.hops.map((h) => [h.response?.status ?? null, (h as HopDetail).sent])).toEqual([[302, true], [null, true]]);
  });

  it('one signal shared by many attempts (the dispatcher stops them all at once) keeps no listener of a finished attempt', async () => {
    const ac = new AbortController();
    const listeners = () => getEventListeners(ac.signal, 'abort').length;
    const attempts = Array.from({ length: 12 }, () => fire({ signal: ac.signal }));
    expect(listeners()).toBe(12);
    expect((await Promise.all(attempts)).map((r) => r.outcome)).toEqual(Array(12).fill('fired'));
    expect(listeners()).toBe(0);
  });
});

describe('httpFire records each hop as sent and received', () => {
  it('follows a Location with a fragment without it, as curl -L does (the fragment never goes on the wire)', async () => {
    router.script({ redirect: `/logged?id=1&sspdata=${TOKEN}#section` });
    const r = await fire();
    expect(r.outcome).toBe('fired');
    expect(r.hops[1].request.url).toBe(`${router.origin}/logged?id=1&sspdata=${TOKEN}`);
    expect(router.logged).toHaveLength(1);
  });

  it('records the request headers exactly as the router received them, and response headers in order', async () => {
    const r = await fire();
    expect(r.hops).toHaveLength(2);
    for (const [i, hop] of r.hops.entries()) {
      expect(hop.request.headers).toEqual(router.requests[i].headers);
      expect(hop.request.headers.map(([k]) => k)).toEqual(['Host', 'User-Agent', 'Accept', 'Connection']);
      expect(hop.request.headers[1][1]).toBe(USER_AGENT);
      expect(hop.request.headers[0][1]).toBe(`127.0.0.1:${router.port}`);
    }
    expect(r.hops[0].request.url).toBe(`${router.url}?id=1&sspdata=${TOKEN}`);
    expect(r.hops[1].request.url).toBe(`${router.origin}/logged?id=1&sspdata=${TOKEN}`);
    const first = r.hops[0] as HopDetail;
    expect(first.response).toMatchObject({ http_version: '1.1', status: 302, status_text: 'Found' });
    expect(first.response!.headers[0]).toEqual(['Location', `/logged?id=1&sspdata=${TOKEN}`]);
    expect(first.remote_address).toBe(`127.0.0.1:${router.port}`);
    expect(first.sent).toBe(true);
    // keep-alive: the second hop rides the first hop's connection
    expect((r.hops[1] as HopDetail).reused).toBe(true);
    expect((r.hops[1] as HopDetail).connection).toBe(first.connection);
  });

  it('keeps at most 2 KB of the body and counts the rest', async () => {
    router.script({ status: 200, body: 'x'.repeat(10_000) });
    const r = await fire();
    const hop = r.hops[0] as HopDetail;
    expect(hop.response!.body_excerpt).toHaveLength(2048);
    expect(hop.body_bytes).toBe(10_000);
  });

  it('fires over TLS and records the handshake; refuses a redirect from https down to http', async () => {
    const secure = await startRouter({ https: true });
    try {
      const r = await httpFire(`${secure.url}?id=1&sspdata=${TOKEN}`, opts({ allow_insecure: false, allow_local: true }));
      expect(r).toMatchObject({ outcome: 'fired', status: 200 });
      expect((r.hops[0] as HopDetail).tls).toMatchObject({ subject: 'sspx-test-router' });
      expect((r.hops[0] as HopDetail).tls!.protocol).toMatch(/^TLSv1\.[23]$/);
      secure.script({ redirect: `${router.origin}/logged` });
      const down = await httpFire(`${secure.url}?id=1&sspdata=${TOKEN}`, opts({ allow_insecure: false, allow_local: true }));
      expect(down).toMatchObject({ outcome: 'failed', error_class: 'redirect_insecure' });
      expect(router.requests).toHaveLength(0);
    } finally {
      await secure.close();
    }
  });

  it('retries once on a fresh connection when a kept-alive socket dies before any answer', async () => {
    await fire(); // leaves a pooled connection
    router.script({ reset: true }, { status: 200 });
    const r = await fire();
    expect(r).toMatchObject({ outcome: 'fired', status: 200 });
    expect(r.hops).toHaveLength(2);
    expect((r.hops[0] as HopDetail).reused).toBe(true);
    expect(r.hops[0].error).toMatch(/retrying a fresh connect/);
    expect((r.hops[1] as HopDetail).reused).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1);
  it.each([
    ['seconds', '120', 120_000],
    ['zero', '0', 0],
    ['an HTTP date', new Date(now + 30_000).toUTCString(), 30_000],
    ['a date in the past', new Date(now - 30_000).toUTCString(), 0],
    ['absent', undefined, null],
    ['garbage', 'soon', null],
    ['capped at a day', String(10 * 86_400), 86_400_000],
  ])('%s', (_name, value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

// curl -L follows any redirect the router sends — to another scheme, back to a URL already requested — until
// max_redirects; only the address checks (collector/net.ts, allow_insecure_router) stop a hop. Two routers, one
// plain and one TLS, hand the fire back and forth.
describe('httpFire follows redirects as curl -L does', () => {
  let secure: TestRouter;
  beforeAll(async () => (secure = await startRouter({ https: true })));
  afterEach(() => secure.reset());
  afterAll(() => secure.close());

  const q = `?id=1&sspdata=${TOKEN}`;
  type Hop = 'http' | 'https';
  type RedirectCase = {
    name: string;
    /** where the fire starts */
    from: Hop;
    /** each router's redirects, in order: the scheme (and path) of the next hop */
    chain: { to: Hop; path: string }[];
    max_redirects?: number;
    allow_insecure: boolean;
    expect: { outcome: string; error_class: string | null; hops: number; logged: number };
  };
  const cases: RedirectCase[] = [
    { name: 'http → https (an upgrade) → logged', from: 'http', chain: [{ to: 'https', path: '/logged' }], allow_insecure: false, expect: { outcome: 'fired', error_class: null, hops: 2, logged: 1 } },
    { name: 'https → http → logged, allowed by allow_insecure_router', from: 'https', chain: [{ to: 'http', path: '/logged' }], allow_insecure: true, expect: { outcome: 'fired', error_class: null, hops: 2, logged: 1 } },
    { name: 'https → http without allow_insecure_router is refused', from: 'https', chain: [{ to: 'http', path: '/logged' }], allow_insecure: false, expect: { outcome: 'failed', error_class: 'redirect_insecure', hops: 1, logged: 0 } },
    { name: 'the same URL again, then logged', from: 'http', chain: [{ to: 'http', path: '/sspx' }, { to: 'http', path: '/sspx' }, { to: 'http', path: '/logged' }], allow_insecure: true, expect: { outcome: 'fired', error_class: null, hops: 4, logged: 1 } },
    { name: 'http → https → http → https → the same URLs again, scheme by scheme', from: 'http', chain: [{ to: 'https', path: '/sspx' }, { to: 'http', path: '/sspx' }, { to: 'https', path: '/sspx' }, { to: 'https', path: '/logged' }], allow_insecure: true, expect: { outcome: 'fired', error_class: null, hops: 5, logged: 1 } },
    { name: 'a chain of exactly max_redirects (3) is followed to the end', from: 'http', max_redirects: 3, chain: [{ to: 'http', path: '/sspx' }, { to: 'https', path: '/sspx' }, { to: 'https', path: '/logged' }], allow_insecure: true, expect: { outcome: 'fired', error_class: null, hops: 4, logged: 1 } },
    { name: 'one redirect past max_redirects (3) stops there', from: 'http', max_redirects: 3, chain: [{ to: 'http', path: '/sspx' }, { to: 'https', path: '/sspx' }, { to: 'https', path: '/sspx' }, { to: 'https', path: '/logged' }], allow_insecure: true, expect: { outcome: 'failed', error_class: 'too_many_redirects', hops: 4, logged: 0 } },
  ];

  it.each(cases)('$name', async (c) => {
    const routers = { http: router, https: secure };
    const chain = [...c.chain];
    // whichever router is asked next answers the next redirect of the chain; past the chain, the usual answers
    for (const r of [router, secure]) {
      r.otherwise((req) => {
        const next = chain.shift();
        if (next) return { redirect: `${routers[next.to].origin}${next.path}${q}` };
        return req.path === '/logged' ? { status: 200, body: 'logged' } : { redirect: `/logged${q}` };
      });
    }
    const r = await httpFire(`${routers[c.from].url}${q}`, opts({ allow_insecure: c.allow_insecure, allow_local: true, max_redirects: c.max_redirects ?? 5 }));
    expect(r).toMatchObject({ outcome: c.expect.outcome, error_class: c.expect.error_class });
    expect(r.hops).toHaveLength(c.expect.hops);
    expect(router.logged.length + secure.logged.length).toBe(c.expect.logged);
    // every hop is in the transcript, as requested
    const requested = [...router.requests, ...secure.requests].length;
    expect(r.hops.filter((h) => h.response)).toHaveLength(requested);
    if (r.outcome !== 'fired') expect(r.hops.at(-1)!.error).toBeTruthy();
  });
});

// The address checks look at where a name really leads: a hostname that resolves to a loopback or private address
// is refused unless allow_insecure_router, named `address_refused` in the hop, and nothing reaches that address.
describe('httpFire checks the resolved address, not only the spelling', () => {
  /** a resolver that says every *.test name is 127.0.0.1, the way a rebinding or split-horizon DNS would */
  const toLoopback: import('node:net').LookupFunction = (_host, options, cb) =>
    options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
  let named: FireAgents;
  beforeAll(() => void (named = new FireAgents(4, {}, toLoopback)));
  afterAll(() => named.destroy());

  type AddressCase = { name: string; url: (r: TestRouter) => string; redirect?: (r: TestRouter) => string; allow_local: boolean; agents?: 'named'; expect: { outcome: string; error_class: string | null; hops: number; reached: number } };
  const cases: AddressCase[] = [
    { name: 'a router name resolving to 127.0.0.1', url: (r) => `http://router.test:${r.port}/sspx`, agents: 'named', allow_local: false, expect: { outcome: 'retry', error_class: 'address_refused', hops: 1, reached: 0 } },
    { name: 'localhost as the router', url: (r) => `http://localhost:${r.port}/sspx`, allow_local: false, expect: { outcome: 'retry', error_class: 'address_refused', hops: 1, reached: 0 } },
    { name: 'a loopback literal as the router', url: (r) => `${r.url}`, allow_local: false, expect: { outcome: 'failed', error_class: 'address_refused', hops: 1, reached: 0 } },
    { name: 'the same name with allow_insecure_router', url: (r) => `http://router.test:${r.port}/sspx`, agents: 'named', allow_local: true, expect: { outcome: 'fired', error_class: null, hops: 2, reached: 2 } },
  ];

  it.each(cases)('$name', async (c) => {
    const r = await httpFire(`${c.url(router)}?id=1&sspdata=${TOKEN}`, opts({ allow_insecure: true, allow_local: c.allow_local, agents: c.agents ? named : agents }));
    expect(r).toMatchObject({ outcome: c.expect.outcome, error_class: c.expect.error_class });
    expect(r.hops).toHaveLength(c.expect.hops);
    expect(router.requests).toHaveLength(c.expect.reached);
    if (c.expect.error_class) expect(r.hops.at(-1)!.error).toMatch(/127\.0\.0\.1|::1/);
  });

  it('a redirect to a name that resolves to a metadata address is refused at the lookup, even with allow_insecure_router', async () => {
    const metadataName: import('node:net').LookupFunction = (host, options, cb) =>
      host === 'meta.test' ? (options.all ? cb(null, [{ address: '169.254.169.254', family: 4 }]) : cb(null, '169.254.169.254', 4)) : toLoopback(host, options, cb);
    const agents2 = new FireAgents(2, {}, metadataName);
    try {
      router.script({ redirect: `http://meta.test:${router.port}/logged?id=1` });
      const r = await httpFire(`http://router.test:${router.port}/sspx?id=1`, opts({ agents: agents2, allow_insecure: true, allow_local: true }));
      expect(r).toMatchObject({ outcome: 'retry', error_class: 'address_refused' });
      expect(r.hops).toHaveLength(2);
      expect(r.hops[0].response?.status).toBe(302);
      expect(r.hops[1].error).toContain('169.254.169.254 is a link-local or metadata address');
      expect(router.requests).toHaveLength(1);
    } finally {
      agents2.destroy();
    }
  });
});
