// Guards the dashboard's edge over real HTTP, case by case: who gets in (admin key only, compared as a whole, a
// session cookie that is HttpOnly, SameSite=Strict, signed, expiring, revoked on logout and ended by rotating the
// admin keys), what every state-changing POST needs (the session's CSRF token and our own Origin), that pages
// without a session redirect to the login, that stored text is escaped and no page carries an inline script, and
// the fires table's paging, the evidence attachment and the replay refusals; every answer as openapi.json describes it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import type { Fire } from '../../collector/store/store.js';
import { ADMIN_KEY, SERVER_KEY, startTestCollector, type TestCollector } from '../support/collector.js';
import { fetchDocumented } from '../support/openapi.js';
import { attempt, conversion, fire, touch } from '../store/rows.js';

const NOW = Date.UTC(2026, 2, 10, 12, 0, 0);

interface Answer {
  status: number;
  text: string;
  headers: Headers;
}

describe('the dashboard over HTTP', () => {
  let c: TestCollector;
  let dir: string;
  let failed: Fire;
  let fired: Fire;

  const request = async (path: string, init: RequestInit & { cookie?: string; form?: Record<string, string> } = {}): Promise<Answer> => {
    const headers = new Headers(init.headers);
    if (init.cookie) headers.set('cookie', init.cookie);
    const res = await fetchDocumented(c.url + path, {
      ...init,
      headers,
      body: init.form ? new URLSearchParams(init.form) : init.body,
      method: init.form ? 'POST' : init.method,
      redirect: 'manual',
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  };
  const login = async (key = ADMIN_KEY, next = '/admin') => {
    const r = await request('/admin/login', { form: { key, next } });
    const set = r.headers.get('set-cookie');
    return { ...r, setCookie: set, cookie: set?.split(';')[0] };
  };
  const csrfOf = (page: string) => /name="_csrf" value="([^"]+)"/.exec(page)?.[1];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sspx-admin-routes-'));
    c = await startTestCollector({}, { clock: new ManualClock(NOW), dir });
    const store = c.ctx.store;
    const t = touch({ user_agent: '<script>alert(1)</script>', url: 'https://shop.example/landing?q="><img src=x onerror=alert(2)>', occurred_at: NOW - 60_000 });
    await store.insertTouches([t]);
    const mk = async (state: Fire['state'], i: number, over: Partial<Fire> = {}) => {
      const conv = conversion({ touch_id: t.id, created_at: NOW - i * 1000, order_id: `ORDER-${i}` });
      const f = fire({ conversion_id: conv.id, state, created_at: NOW - i * 1000, order_id: `ORDER-${i}`, next_attempt_at: state === 'queued' ? NOW : null, ...over });
      await store.transaction(async (tx) => {
        await tx.insertConversion(conv);
        await tx.insertFire(f);
      });
      return f;
    };
    failed = await mk('failed', 1, { last_error: 'HTTP 400 <b>Bad</b>' });
    await store.recordAttempt(failed.id, 'seed', attempt({ started_at: NOW - 900, outcome: 'failed', error_class: 'http_4xx', status: 400 }), { state: 'failed', next_attempt_at: null, last_error: null });
    fired = await mk('fired', 2);
    for (let i = 3; i < 63; i++) await mk('queued', i);
  });
  afterAll(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('without a session', () => {
    it.each([
      ['GET /admin', '/admin', '/admin/login?next=%2Fadmin'],
      ['GET a fire page', '/admin/fires/f_x?state=failed', '/admin/login?next=%2Fadmin%2Ffires%2Ff_x%3Fstate%3Dfailed'],
      ['GET the evidence', '/admin/fires/f_x/evidence', '/admin/login?next=%2Fadmin%2Ffires%2Ff_x%2Fevidence'],
    ])('%s redirects to the login', async (_name, path, location) => {
      const r = await request(path);
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe(location);
    });

    it.each([['/admin/logout'], ['/admin/fires/f_x/replay']])('POST %s is refused', async (path) => {
      const r = await request(path, { form: { _csrf: 'x' } });
      expect(r.status).toBe(403);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    });

    it('serves the login form and the assets', async () => {
      const page = await request('/admin/login');
      expect(page.status).toBe(200);
      expect(page.text).toContain('<form method="post" action="/admin/login">');
      const css = await request('/admin/assets/admin.css');
      expect(css.headers.get('content-type')).toMatch(/^text\/css/);
      const js = await request('/admin/assets/admin.js');
      expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect((await request('/admin/assets/admin.js', { headers: { 'if-none-match': js.headers.get('etag')! } })).status).toBe(304);
    });
  });

  describe('login', () => {
    it.each([
      ['a wrong key', 401, 'wrong-key-0123456789abcdef'],
      ['an empty key', 401, ''],
      ['the server key', 401, SERVER_KEY],
      ['a prefix of the admin key', 401, ADMIN_KEY.slice(0, -1)],
      ['the admin key', 303, ADMIN_KEY],
    ])('with %s answers %i', async (_name, status, key) => {
      const r = await login(key);
      expect(r.status).toBe(status);
      if (status === 401) {
        expect(r.setCookie).toBeNull();
        expect(r.text).toContain('That is not an admin key.');
      }
    });

    it('sets an HttpOnly, SameSite=Strict cookie on /admin and goes where it was asked, only within the dashboard', async () => {
      const r = await login(ADMIN_KEY, '/admin/fires?state=failed');
      expect(r.headers.get('location')).toBe('/admin/fires?state=failed');
      expect(r.setCookie).toMatch(/^sspx_admin=v1\.\d+\.[\w-]+\.[\w-]+; Max-Age=43200; Path=\/admin; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
      for (const next of ['https://evil.example/', '//evil.example/admin', '/elsewhere', '/admin/../v1/fires']) {
        expect((await login(ADMIN_KEY, next)).headers.get('location')).toBe('/admin');
      }
    });

    it('refuses a login form posted from another origin', async () => {
      const r = await request('/admin/login', { form: { key: ADMIN_KEY }, headers: { origin: 'https://evil.example' } });
      expect(r.status).toBe(403);
      expect(r.headers.get('set-cookie')).toBeNull();
    });

    it('refuses a tampered or expired session cookie', async () => {
      const { cookie } = await login();
      expect((await request('/admin', { cookie })).status).toBe(200);
      const [, exp, nonce, sig] = cookie!.split('=')[1].split('.');
      const longer = `sspx_admin=v1.${Number(exp) + 86_400_000}.${nonce}.${sig}`;
      expect((await request('/admin', { cookie: longer })).status).toBe(303);
      c.clock.advance(12 * 3600_000 + 1);
      try {
        expect((await request('/admin', { cookie })).status).toBe(303);
      } finally {
        c.clock.set(NOW);
      }
    });

    it('logs out: the same cookie no longer opens a page', async () => {
      const { cookie } = await login();
      const page = await request('/admin', { cookie });
      const out = await request('/admin/logout', { cookie, form: { _csrf: csrfOf(page.text)! } });
      expect(out.status).toBe(303);
      expect(out.headers.get('set-cookie')).toMatch(/^sspx_admin=;/);
      expect((await request('/admin', { cookie })).status).toBe(303);
    });
  });

  describe('with a session', () => {
    let cookie: string;
    let csrf: string;
    beforeAll(async () => {
      cookie = (await login()).cookie!;
      csrf = csrfOf((await request('/admin', { cookie })).text)!;
    });

    it('needs the CSRF token and our own Origin on every POST', async () => {
      const replay = `/admin/fires/${failed.id}/replay`;
      const cases: [string, Record<string, string>, Record<string, string>][] = [
        ['no token', {}, {}],
        ['a wrong token', { _csrf: csrf.slice(0, -2) + 'xx' }, {}],
        ['another origin', { _csrf: csrf }, { origin: 'https://evil.example' }],
        ['an opaque origin', { _csrf: csrf }, { origin: 'null' }],
      ];
      for (const [name, form, headers] of cases) {
        const r = await request(replay, { cookie, form, headers });
        expect(r.status, name).toBe(403);
      }
      expect((await c.ctx.store.getFire(failed.id))!.state).toBe('failed');
      // another session's token is not this one's
      const other = csrfOf((await request('/admin', { cookie: (await login()).cookie })).text)!;
      expect(other).not.toBe(csrf);
      expect((await request(replay, { cookie, form: { _csrf: other } })).status).toBe(403);
    });

    it('escapes stored text and carries no inline script', async () => {
      const page = await request(`/admin/fires/${failed.id}`, { cookie });
      expect(page.status).toBe(200);
      expect(page.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.text).toContain('HTTP 400 &lt;b&gt;Bad&lt;/b&gt;');
      expect(page.text).not.toContain('<script>alert');
      expect(page.text).not.toContain('<img src=x');
      for (const path of ['/admin', '/admin?period=30d', '/admin/fires', `/admin/fires/${failed.id}`, '/admin/login']) {
        const html = (await request(path, { cookie: path === '/admin/login' ? undefined : cookie })).text;
        expect(html.match(/<script\b[^>]*>/g), path).toEqual([expect.stringMatching(/^<script src="\/admin\/assets\/admin\.js\?v=[\w-]+" defer>$/)]);
        expect(html, path).not.toMatch(/<[^>]*\son[a-z]+=/i);
      }
      const headers = (await request('/admin', { cookie })).headers;
      expect(headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(headers.get('cache-control')).toBe('no-store');
    });

    it('pages the fires table 50 at a time, keeping the filters in the link', async () => {
      const first = await request('/admin/fires?state=queued', { cookie });
      expect(first.text.match(/<tr data-fire=/g)).toHaveLength(50);
      const next = /href="(\/admin\/fires\?state=queued&amp;before=[^"]+)"/.exec(first.text)?.[1].replaceAll('&amp;', '&');
      expect(next).toBeDefined();
      const second = await request(next!, { cookie });
      expect(second.text.match(/<tr data-fire=/g)).toHaveLength(10);
      expect(second.text).not.toContain('Older fires');
    });

    it('names a bad filter instead of failing', async () => {
      const r = await request('/admin/fires?state=bogus&pixel=nope&order_id=a%20b&from=yesterday', { cookie });
      expect(r.status).toBe(200);
      expect(r.text).toContain('Filters ignored: pixel: nope is neither a configured pixel name nor a numeric id; order id:');
      expect(r.text).toContain('state: must be one of');
      expect(r.text).toContain('from: not a time');
    });

    it('serves the evidence as an attachment', async () => {
      const r = await request(`/admin/fires/${failed.id}/evidence`, { cookie });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="?sspx-fire-${failed.id}\\.txt"?$`));
      expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(r.text).toContain('> GET /sspx?id=59633');
      expect(r.text).toContain('< HTTP/1.1 302 Found');
    });

    it('refuses to replay a fired fire and answers 404 for what does not exist', async () => {
      const r = await request(`/admin/fires/${fired.id}/replay`, { cookie, form: { _csrf: csrf } });
      expect(r.status).toBe(409);
      expect(r.text).toContain('Only failed or held fires can be replayed; this one is fired.');
      expect((await request('/admin/fires/f_nope', { cookie })).status).toBe(404);
      expect((await request('/admin/fires/f_nope/replay', { cookie, form: { _csrf: csrf } })).status).toBe(404);
      const missing = await request('/admin/nothing-here', { cookie });
      expect(missing.status).toBe(404);
      expect(missing.headers.get('content-type')).toMatch(/^text\/html/);
    });

    it('replays a failed fire and keeps the filters', async () => {
      const r = await request(`/admin/fires/${failed.id}/replay?state=failed&order_id=ORDER-1`, { cookie, form: { _csrf: csrf } });
      expect(r.status).toBe(303);
      expect(r.headers.get('location')).toBe(`/admin/fires/${failed.id}?order_id=ORDER-1&state=failed&replayed=1`);
      expect((await c.ctx.store.getFire(failed.id))!).toMatchObject({ state: 'queued', next_attempt_at: NOW });
    });
  });

  it('ends every session when the admin keys change', async () => {
    const { cookie } = await login();
    await c.stop();
    c = await startTestCollector({ keys: { server: [SERVER_KEY], app: [], admin: ['a-new-admin-key-0123456789'] } }, { clock: new ManualClock(NOW), dir });
    expect((await request('/admin', { cookie })).status).toBe(303);
    const again = await login('a-new-admin-key-0123456789');
    expect((await request('/admin', { cookie: again.cookie })).status).toBe(200);
  });
});
