// Guards the keys. Several keys per role all work (rotation: the new key is added, clients move, the old one is
// removed), each only for its own role's routes. Comparison goes through keyMatches, which hashes both sides and
// compares every configured key with timingSafeEqual, without an early exit (read auth.ts: neither a key's length
// nor its content, nor which key of the list matched, shows in the time taken); timing itself is not measured
// here, a busy test machine would make that flaky. And no key, right or wrong, ever reaches the log, wherever a
// client puts it: the Authorization header, the query string, a JSON field, a cookie, a form.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyMatches } from '../../collector/http/auth.js';
import { BASE_CONFIG, SITE, token } from '../support/collector.js';
import { json, send, spawnCollector, tempDir } from '../support/proc.js';
import { startLiveCollector, type LiveCollector } from '../reliability/support.js';

const KEYS = {
  server: ['server-old-0123456789abcdef-0123456', 'server-new-0123456789abcdef-0123456'],
  app: ['app-old-0123456789abcdef0123-0123456', 'app-new-0123456789abcdef0123-0123456'],
  admin: ['admin-old-0123456789abcdef01-0123456', 'admin-new-0123456789abcdef01-0123456'],
};
const WRONG = 'wrong-key-but-looks-real-0123456789';
const ALL = [...KEYS.server, ...KEYS.app, ...KEYS.admin, WRONG];

describe('keyMatches', () => {
  it('finds any key of the list, whatever its position or length, and nothing else', () => {
    const keys = ['k'.repeat(16), 'another-key-of-another-length-0123456789', 'third-key-xxxxxxxxx'];
    for (const k of keys) expect(keyMatches(k, keys)).toBe(true);
    for (const k of ['', 'k', 'k'.repeat(15), 'k'.repeat(17), keys[1].toUpperCase(), keys[2] + ' ', 'x'.repeat(10_000)]) expect(keyMatches(k, keys)).toBe(false);
    expect(keyMatches(keys[0], [])).toBe(false);
  });
});

describe('keys per role', () => {
  let c: LiveCollector;
  beforeAll(async () => {
    c = await startLiveCollector({ keys: KEYS, log_level: 'trace' }, { level: 'trace' });
  });
  afterAll(() => c?.stop());

  const call = (route: 'touches' | 'conversions' | 'open' | 'fires', key: string) => {
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    if (route === 'fires') return send(c.url + '/v1/fires', { headers: auth });
    if (route === 'touches') return send(c.url + '/v1/touches', { headers: auth, body: JSON.stringify({ token: token('k') }) });
    if (route === 'open') return send(c.url + '/v1/app/open', { headers: auth, body: JSON.stringify({ install_id: `i-${key.slice(0, 9)}`, platform: 'ios' }) });
    return send(c.url + '/v1/conversions', { headers: auth, body: JSON.stringify({ pixel: 'purchase', token: token('k'), order_id: `K-${Math.random().toString(36).slice(2)}` }) });
  };

  it('every key of a role opens its routes, and only those', async () => {
    const allowed: Record<string, string[]> = {
      touches: KEYS.server,
      conversions: [...KEYS.server, ...KEYS.app],
      open: KEYS.app,
      fires: KEYS.admin,
    };
    for (const [route, keys] of Object.entries(allowed) as [keyof typeof allowed & string, string[]][]) {
      for (const key of ALL) {
        const res = await call(route as 'fires', key);
        if (keys.includes(key)) expect(res.status, `${route} with ${key}`).toBeLessThan(300);
        else expect([res.status, json(res).error], `${route} with ${key}`).toEqual([401, 'invalid_key']);
      }
    }
  });

  it('no key reaches the log, wherever a client puts it', async () => {
    for (const key of ALL) {
      await send(`${c.url}/v1/fires?key=${key}&api_key=${key}`, { headers: { authorization: `Bearer ${key}` } });
      await send(c.url + '/v1/conversions', { headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ pixel: 'purchase', key, token: key }) });
      await send(c.url + '/v1/conversions', { headers: { authorization: key, 'content-type': 'application/json' }, body: '{' });
      await send(c.url + '/t', { headers: { origin: SITE, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', 'content-type': 'text/plain', cookie: `sspx_vid=${key}; key=${key}` }, body: JSON.stringify({ t: key }) });
      await send(c.url + '/admin/login', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${encodeURIComponent(key)}` });
    }
    const text = c.logText();
    expect(c.logs.length).toBeGreaterThan(ALL.length * 5);
    for (const key of ALL) expect(text.includes(key), `log holds ${key}`).toBe(false);
  });
});

describe('serve refuses keys that are easy to guess or shared', () => {
  const cases: [string, Partial<typeof KEYS>, RegExp][] = [
    ['a key shorter than 32 characters', { server: ['short-key-0123456789abcdef0123'] }, /keys\.server\[0\] is shorter than 32 characters/],
    ["the sample's change-me key", { admin: ['change-me-admin-key-0123456789abcdef'] }, /keys\.admin\[0\] is still the sample's change-me key/],
    ['one key in two roles', { app: [KEYS.admin[0]] }, /keys\.admin\[0\] is also one of the app keys/],
  ];
  it.each(cases)('%s: exit 2, the key named (never printed)', async (_name, keys, message) => {
    const dir = tempDir();
    const start = spawnCollector({ dir, config: { ...BASE_CONFIG, port: 0, store: `sqlite:${dir}/sspx.db`, keys: { ...KEYS, ...keys } } });
    const err = await start.then(
      (p) => (p.kill('SIGKILL'), new Error('started')),
      (e: Error) => e,
    );
    expect(err.message).toMatch(/exited \(code 2/);
    expect(err.message).toMatch(message);
    for (const k of [...Object.values(keys).flat()]) expect(err.message).not.toContain(k);
  });
});
