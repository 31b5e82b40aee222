// Guards issue 14, item 12 on both stores, over every route that takes a conversion: a conversion marked
// `"test": true` is attributed like any other and its fire is recorded with the exact URL a real one sends and its
// transcript, but never sent (the fake router receives nothing for it while the real conversion of the same click,
// reported after it, is received); it is labelled `test` in /v1/fires and on the dashboard; it takes neither the
// order id nor the per-visitor repeat rule from the real conversion that follows; and neither replay (the API, the
// dashboard's button, `sspx-relay replay`) nor the dispatcher, should the fire be queued again, ever sends it.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReplay } from '../../collector/commands/replay.js';
import { installOrderId } from '../../collector/ingest/installs.js';
import type { SqliteStore } from '../../collector/store/sqlite.js';
import { ADMIN_KEY, APP_KEY, bearer, BASE_CONFIG, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { captureIo } from '../support/io.js';
import { fetchDocumented } from '../support/openapi.js';
import { describePg, pgQuery } from '../support/pg.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { until } from '../dispatch/fixture.js';

const PIXELS = {
  // one conversion per visitor (min_minutes_per_conv null): the repeat rule a test conversion must not take
  purchase: { id: 59633, trigger_type: 'hybrid', post_click_expire_mins: 43_200, post_view_expire_mins: 1_440, min_minutes_per_conv: null },
  install: { id: 61000, on_install: true, sources: ['app'] },
} as const;
const UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const browser = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8', 'user-agent': UA };

/** the click a case's conversions name: the landing page's cookie and click id, or the token itself */
interface Click {
  token: string;
  cookie?: string;
  cid?: string;
  install_id?: string;
}
interface Report {
  order_id?: string;
  value?: string;
  test?: true;
}
/** what the route answered: the outcome and fire, where it answers them (the image fallback and app open do not) */
interface Answer {
  outcome?: string;
  fire_id?: string | null;
}
interface Route {
  name: string;
  click(c: TestCollector, token: string): Promise<Click>;
  convert(c: TestCollector, click: Click, report: Report): Promise<Answer>;
  /** the order id the route gives the conversion itself (an install's) */
  orderOf?(click: Click): string;
}

async function landing(c: TestCollector, t: string): Promise<Click> {
  const res = await post(c.url + '/t', { t, u: `${SITE}/landing?sspdata=${t}` }, browser);
  expect(res.status, res.text).toBe(200);
  return { token: t, cid: res.json.cid, cookie: /sspx_vid=[^;]+/.exec(res.headers.get('set-cookie') ?? '')![0] };
}

async function backend(c: TestCollector, key: string, click: Click, report: Report): Promise<Answer> {
  const res = await post(c.url + '/v1/conversions', { pixel: 'purchase', token: click.token, ...report }, bearer(key));
  expect(res.status, res.text).toBe(200);
  return res.json;
}

let installs = 0;
const ROUTES: Route[] = [
  {
    name: 'POST /c',
    click: landing,
    async convert(c, click, report) {
      const res = await post(c.url + '/c', { pixel: 'purchase', ...report }, { ...browser, cookie: click.cookie! });
      expect(res.status, res.text).toBe(200);
      return res.json;
    },
  },
  {
    name: 'GET /c?b= (the image fallback)',
    click: landing,
    async convert(c, click, report) {
      const b = encodeURIComponent(JSON.stringify({ pixel: 'purchase', ...report, cid: click.cid }));
      const res = await fetchDocumented(`${c.url}/c?b=${b}`, { headers: { referer: `${SITE}/thanks`, 'user-agent': UA, cookie: click.cookie! } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('image/gif');
      await res.arrayBuffer();
      return {};
    },
  },
  { name: 'POST /v1/conversions (server key)', click: async (_c, t) => ({ token: t }), convert: (c, click, r) => backend(c, SERVER_KEY, click, r) },
  { name: 'POST /v1/conversions (app key)', click: async (_c, t) => ({ token: t }), convert: (c, click, r) => backend(c, APP_KEY, click, r) },
  {
    name: 'POST /v1/app/open (an on_install pixel)',
    click: async (c, t) => ({ ...(await landing(c, t)), install_id: `inst-${++installs}` }),
    async convert(c, click, report) {
      const res = await post(c.url + '/v1/app/open', { install_id: click.install_id, platform: 'android', cid: click.cid, ...(report.test && { test: true }) }, bearer(APP_KEY));
      expect(res.status, res.text).toBe(200);
      expect(res.json).toMatchObject({ bound: true, method: 'deep_link' });
      expect(res.json.test).toBe(report.test);
      return {};
    },
    orderOf: (click) => installOrderId(click.install_id!),
  },
];

/** how the test sets a fire's state by hand in each store (a state no route gives a test fire today) */
interface StoreKind {
  /** the store's URL; none: the test collector's own SQLite file */
  url?: string;
  setFire(c: TestCollector, id: string, state: string, next_attempt_at: number | null): Promise<void>;
}

function suite(name: string, kind: () => StoreKind) {
  describe(name, () => {
    let c: TestCollector;
    let router: TestRouter;
    let store: StoreKind;
    let session: string;
    let configPath: string;
    let n = 0;
    const tag = name.slice(0, 2);

    beforeAll(async () => {
      router = await startRouter();
      store = kind();
      c = await startTestCollector({ ...(store.url && { store: store.url }), router: router.url, dispatcher: true, poll_interval_ms: 20, pixels: PIXELS as never });
      configPath = join(c.dir, 'sspx.config.json');
      writeFileSync(configPath, JSON.stringify({ store: c.ctx.config.store, router: router.url, allow_insecure_router: true, keys: BASE_CONFIG.keys, pixels: PIXELS }));
      const login = await fetchDocumented(c.url + '/admin/login', { method: 'POST', body: new URLSearchParams({ key: ADMIN_KEY, next: '/admin' }), redirect: 'manual' });
      session = login.headers.get('set-cookie')!.split(';')[0];
    });
    afterAll(async () => {
      await c?.stop();
      await router?.close();
    });

    const admin = async (path: string) => {
      const res = await fetchDocumented(c.url + path, { headers: bearer(ADMIN_KEY) });
      expect(res.status, path).toBe(200);
      return res.json();
    };
    const sentWith = (t: string) => router.fires.filter((f) => f.params.sspdata === t);
    /** the fire of a conversion: the one the route answered, else the one of its order id and kind */
    const fireOf = async (answer: Answer, order_id: string | undefined, test: boolean): Promise<string> => {
      if (answer.fire_id) return answer.fire_id;
      const { fires } = await until('the fire', () => admin(`/v1/fires?order_id=${order_id}`), (r) => r.fires.some((f: any) => f.test === test));
      return fires.find((f: any) => f.test === test).id;
    };
    const recorded = (id: string, attempts = 1) =>
      until('the test fire to be recorded', () => admin(`/v1/fires/${id}`), (f) => f.attempts.length >= attempts && f.state !== 'in_flight' && f.state !== 'queued');
    const dashboardRow = async (id: string) => {
      const res = await fetchDocumented(c.url + '/admin/fires?limit=1000', { headers: { cookie: session } });
      expect(res.status).toBe(200);
      return new RegExp(`<tr data-fire="${id}">[\\s\\S]*?</tr>`).exec(await res.text())?.[0];
    };

    // [route, which rule the test conversion must not take from the real one after it]
    const cases = ROUTES.flatMap((route) => [
      [route.name, 'order id', route] as const,
      // the repeat rule decides only without an order id: routes that answer the fire (an install always has an order id)
      ...(route.orderOf || route.name.startsWith('GET') ? [] : [[route.name, 'repeat rule', route] as const]),
    ]);
    it.each(cases)('%s: a test conversion is recorded, not sent, labelled, and takes no %s from the real one', async (_name, rule, route) => {
      const t = token(`test-${tag}-${++n}`);
      const click = await route.click(c, t);
      const order_id = route.orderOf?.(click) ?? (rule === 'order id' ? `T-${tag}-${n}` : undefined);
      const report: Report = { ...(order_id && !route.orderOf && { order_id }), value: '12.5' };

      const testAnswer = await route.convert(c, click, { ...report, test: true });
      if (testAnswer.outcome) expect(testAnswer.outcome).toBe('attributed');
      const testId = await fireOf(testAnswer, order_id, true);
      const testFire = await recorded(testId);
      expect(testFire).toMatchObject({ test: true, dry_run: true, state: 'fired', token: t });
      expect(sentWith(t), 'the router received nothing for the test conversion').toEqual([]);

      // the real conversion of the same click and order, reported after it: attributed and sent, once
      const realAnswer = await route.convert(c, click, report);
      if (realAnswer.outcome) expect(realAnswer.outcome).toBe('attributed');
      const realId = await fireOf(realAnswer, order_id, false);
      expect(realId).not.toBe(testId);
      await router.waitFor(() => sentWith(t).length > 0);
      const real = await recorded(realId);
      expect(real).toMatchObject({ test: false, dry_run: false, state: 'fired' });
      const [sent] = sentWith(t);
      expect(sentWith(t)).toHaveLength(1);

      // the recorded request is exactly the one the real conversion sent, with its transcript
      const [attempt] = testFire.attempts;
      expect(attempt.url).toBe(router.origin + sent.url);
      expect(attempt.transcript).toContain(`* test conversion ("test": true): this request was recorded and NOT sent to 127.0.0.1`);
      expect(attempt.transcript).toContain(`> GET ${sent.url} HTTP/1.1`);

      // labelled in the list and on the dashboard
      const { fires } = await admin('/v1/fires?limit=1000');
      expect(fires.find((f: any) => f.id === testId)).toMatchObject({ test: true });
      expect(fires.find((f: any) => f.id === realId)).toMatchObject({ test: false });
      // and filtered: ?test=true lists test fires only, ?test=false real ones only
      const tests = (await admin('/v1/fires?test=true&limit=1000')).fires;
      const reals = (await admin('/v1/fires?test=false&limit=1000')).fires;
      expect(tests.map((f: any) => f.id)).toContain(testId);
      expect(tests.every((f: any) => f.test === true)).toBe(true);
      expect(reals.map((f: any) => f.id)).toContain(realId);
      expect(reals.every((f: any) => f.test === false)).toBe(true);
      expect(tests.length + reals.length).toBe(fires.length);
      const bad = await fetchDocumented(`${c.url}/v1/fires?test=yes`, { headers: bearer(ADMIN_KEY) });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: 'bad_test' });
      expect(await dashboardRow(testId)).toContain('test · not sent');
      expect(await dashboardRow(realId)).not.toContain('test · not sent');
    });

    it('replay never sends a test fire: the API and the command refuse it, and a queued one is recorded again, not sent', async () => {
      const t = token(`replay-${tag}`);
      const answer = await backend(c, SERVER_KEY, { token: t }, { order_id: `R-${tag}`, test: true });
      const id = answer.fire_id!;
      await recorded(id);
      const replay = () => fetchDocumented(`${c.url}/v1/fires/${id}/replay`, { method: 'POST', headers: bearer(ADMIN_KEY) });
      expect((await replay()).status).toBe(409);

      // failed (as a lease lost over and over would leave it): still refused, by the API, the page and the command
      await store.setFire(c, id, 'failed', null);
      const refused = await replay();
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ error: 'not_replayable', message: expect.stringMatching(/test fire/) });
      const page = await (await fetchDocumented(`${c.url}/admin/fires/${id}`, { headers: { cookie: session } })).text();
      expect(page).toContain('test · not sent');
      expect(page).not.toContain('Replay this fire');
      const io = captureIo();
      expect(await runReplay({ config: configPath, state: 'failed' }, io)).toBe(0);
      expect(io.stdout()).toMatch(/^replayed 0 failed fires; 1 test fire\(s\) left alone/);
      expect((await admin(`/v1/fires/${id}`)).state).toBe('failed');

      // queued again by any path: the dispatcher records it again and still sends nothing
      await store.setFire(c, id, 'queued', c.clock.now());
      const again = await recorded(id, 2);
      expect(again.attempts[1]).toMatchObject({ outcome: 'fired', url: again.attempts[0].url });
      expect(again.attempts[1].transcript).toContain('* test conversion ("test": true): this request was recorded and NOT sent');
      expect(sentWith(t)).toEqual([]);
    });
  });
}

const SET_FIRE = 'UPDATE fires SET state = $1, next_attempt_at = $2 WHERE id = $3';

suite('SQLite', () => ({
  async setFire(c, id, state, next) {
    (c.ctx.store as SqliteStore).db.prepare(SET_FIRE.replace(/\$\d/g, '?')).run(state, next, id);
  },
}));
describePg('PostgreSQL', (pgc) =>
  suite('PostgreSQL store', () => {
    const schema = pgc.newSchema();
    const url = new URL(pgc.url);
    url.searchParams.set('schema', schema);
    return {
      url: url.href,
      async setFire(_c, id, state, next) {
        await pgQuery(pgc.url, SET_FIRE.replace('UPDATE fires', `UPDATE "${schema}".fires`), [state, next, id]);
      },
    };
  }),
);
