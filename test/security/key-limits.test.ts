// Guards the keyed surface against guessing and flooding, over a real listening collector with an injected clock:
// - failed key checks (a wrong Bearer on /v1 or /metrics, a wrong key at /admin/login) are counted per client
//   address, and past failed_key_limit in the window every key check from that address answers 429
//   too_many_failed_keys — the right key included, so guessing stops — until the window ends; other addresses are
//   not affected, and rate_limit_per_minute: 0 (every limit off) turns it off too;
// - each /v1 key has its own budget of rate_limit_per_minute requests a minute across the routes it opens, whatever
//   address it comes from, answered with 429 key_rate_limited and the RateLimit headers;
// - GET /metrics needs the admin key unless metrics_public is set;
// - the new configuration keys are validated with messages naming them.
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../collector/config.js';
import { ADMIN_KEY, APP_KEY, BASE_CONFIG, SERVER_KEY, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { fetchDocumented } from '../support/openapi.js';

const SERVER_KEY_2 = 'server-key-second-0123456789abcdef01';
const WRONG = 'wrong-key-that-looks-real-0123456789ab';
const KEYS = { server: [SERVER_KEY, SERVER_KEY_2], app: [APP_KEY], admin: [ADMIN_KEY] };

const running: TestCollector[] = [];
afterAll(async () => {
  for (const c of running) await c.stop();
});
async function collector(overrides: Parameters<typeof startTestCollector>[0]): Promise<TestCollector> {
  const c = await startTestCollector({ keys: KEYS, trust_proxy: 1, ...overrides });
  running.push(c);
  return c;
}

/** the client's address as the (trusted) proxy appends it */
const from = (ip: string) => ({ 'x-forwarded-for': ip });
let n = 0;

async function call(c: TestCollector, route: 'conversions' | 'touches' | 'open' | 'fires' | 'metrics', key: string | undefined, ip: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (test)', ...from(ip) };
  if (key) headers.authorization = `Bearer ${key}`;
  const init: RequestInit = { headers, method: 'POST' };
  let path = '';
  if (route === 'conversions') (path = '/v1/conversions'), (init.body = JSON.stringify({ pixel: 'purchase', token: token('kl'), order_id: `KL-${++n}` }));
  if (route === 'touches') (path = '/v1/touches'), (init.body = JSON.stringify({ token: token('kl') }));
  if (route === 'open') (path = '/v1/app/open'), (init.body = JSON.stringify({ install_id: `kl-install-${++n}`, platform: 'ios' }));
  if (route === 'fires' || route === 'metrics') (path = route === 'fires' ? '/v1/fires' : '/metrics'), (init.method = 'GET');
  const res = await fetchDocumented(c.url + path, init);
  const text = await res.text();
  let error: string | undefined;
  try {
    error = JSON.parse(text).error;
  } catch {
    error = undefined;
  }
  return { status: res.status, error, headers: res.headers, text };
}

async function login(c: TestCollector, key: string, ip: string) {
  const res = await fetchDocumented(c.url + '/admin/login', { method: 'POST', body: new URLSearchParams({ key, next: '/admin' }), headers: from(ip), redirect: 'manual' });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('failed key checks are throttled per client address', () => {
  it('past failed_key_limit wrong keys, every key check from the address is a 429 until the window ends', async () => {
    const c = await collector({ rate_limit_per_minute: 600, failed_key_limit: 3 });
    const guesser = '198.51.100.10';
    // no key is no guess: not counted
    for (let i = 0; i < 4; i++) expect((await call(c, 'fires', undefined, guesser)).error).toBe('missing_key');
    // wrong keys, on every keyed route and the login form, count together
    expect((await call(c, 'conversions', WRONG, guesser)).error).toBe('invalid_key');
    expect((await call(c, 'metrics', WRONG, guesser)).error).toBe('invalid_key');
    expect((await login(c, WRONG, guesser)).status).toBe(401);
    for (const route of ['conversions', 'touches', 'open', 'fires', 'metrics'] as const) {
      const res = await call(c, route, WRONG, guesser);
      expect([res.status, res.error], route).toEqual([429, 'too_many_failed_keys']);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(15 * 60);
    }
    // the right key too: a guesser who finds it cannot tell
    expect((await call(c, 'conversions', SERVER_KEY, guesser)).error).toBe('too_many_failed_keys');
    const page = await login(c, ADMIN_KEY, guesser);
    expect(page.status).toBe(429);
    expect(page.headers.get('set-cookie')).toBeNull();
    expect(page.text).toContain('Too many wrong keys');
    // another address is not affected
    expect((await call(c, 'conversions', SERVER_KEY, '198.51.100.11')).status).toBe(200);
    expect((await login(c, ADMIN_KEY, '198.51.100.11')).status).toBe(303);
    // the window ends
    c.clock.advance(15 * 60_000);
    expect((await call(c, 'conversions', SERVER_KEY, guesser)).status).toBe(200);
  });

  it('wrong logins alone reach the limit, and then Bearer keys from that address are refused too', async () => {
    const c = await collector({ rate_limit_per_minute: 600, failed_key_limit: 2 });
    const ip = '203.0.113.20';
    expect((await login(c, WRONG, ip)).status).toBe(401);
    expect((await login(c, `${WRONG}x`, ip)).status).toBe(401);
    expect((await login(c, ADMIN_KEY, ip)).status).toBe(429);
    expect((await call(c, 'fires', ADMIN_KEY, ip)).error).toBe('too_many_failed_keys');
  });

  it.each([
    ['failed_key_limit: 0', { rate_limit_per_minute: 600, failed_key_limit: 0 }],
    ['rate_limit_per_minute: 0 (every limit off)', { rate_limit_per_minute: 0, failed_key_limit: 3 }],
  ])('%s turns the throttle off', async (_name, config) => {
    const c = await collector(config);
    for (let i = 0; i < 6; i++) expect((await call(c, 'conversions', WRONG, '198.51.100.30')).error).toBe('invalid_key');
    expect((await call(c, 'conversions', SERVER_KEY, '198.51.100.30')).status).toBe(200);
  });
});

describe('each /v1 key has its own budget', () => {
  const LIMIT = 3;

  it('rate_limit_per_minute requests a minute per key, across its routes and addresses; then 429 key_rate_limited', async () => {
    const c = await collector({ rate_limit_per_minute: LIMIT });
    const remaining: (string | null)[] = [];
    for (let i = 0; i < LIMIT; i++) {
      // one key from three addresses, over two routes: one budget
      const res = await call(c, i % 2 ? 'touches' : 'conversions', SERVER_KEY, `192.0.2.${i}`);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get('ratelimit-remaining'));
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const limited = await call(c, 'conversions', SERVER_KEY, '192.0.2.99');
    expect([limited.status, limited.error]).toEqual([429, 'key_rate_limited']);
    expect(limited.headers.get('ratelimit-limit')).toBe(String(LIMIT));
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // the role's other key, the app key and the admin key each have their own
    expect((await call(c, 'conversions', SERVER_KEY_2, '192.0.2.99')).status).toBe(200);
    expect((await call(c, 'open', APP_KEY, '192.0.2.99')).status).toBe(200);
    expect((await call(c, 'fires', ADMIN_KEY, '192.0.2.99')).status).toBe(200);
    // a refused request was not ingested; a minute later the key is heard again
    c.clock.advance(60_000);
    expect((await call(c, 'conversions', SERVER_KEY, '192.0.2.1')).status).toBe(200);
  });

  it('0 turns it off', async () => {
    const c = await collector({ rate_limit_per_minute: 0 });
    for (let i = 0; i < 3 * LIMIT; i++) {
      const res = await call(c, 'conversions', SERVER_KEY, '192.0.2.1');
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-limit')).toBeNull();
    }
  });
});

describe('GET /metrics is not public by default', () => {
  it('needs the admin key: no key, a wrong one or another role\'s is a 401', async () => {
    const c = await collector({});
    expect((await call(c, 'metrics', undefined, '192.0.2.5')).error).toBe('missing_key');
    expect((await call(c, 'metrics', SERVER_KEY, '192.0.2.5')).error).toBe('invalid_key');
    expect((await call(c, 'metrics', WRONG, '192.0.2.5')).error).toBe('invalid_key');
    const ok = await call(c, 'metrics', ADMIN_KEY, '192.0.2.5');
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('# TYPE sspx_touches_total ');
  });

  it('metrics_public: true opens it; the admin key still works', async () => {
    const c = await collector({ metrics_public: true });
    expect((await call(c, 'metrics', undefined, '192.0.2.5')).status).toBe(200);
    expect((await call(c, 'metrics', ADMIN_KEY, '192.0.2.5')).status).toBe(200);
  });
});

describe('the configuration keys are validated by name', () => {
  it.each([
    [{ metrics_public: 'yes' }, /metrics_public: /],
    [{ failed_key_limit: -1 }, /failed_key_limit: /],
    [{ failed_key_limit: 1.5 }, /failed_key_limit: /],
  ])('%j', (bad, message) => {
    expect(() => parseConfig({ ...BASE_CONFIG, ...bad })).toThrow(message);
  });
});
