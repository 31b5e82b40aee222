// Guards issue 15's "store only what attribution needs", on both stores: a touch keeps of its landing URL the origin,
// the path and the allow-listed parameters (utm_*, click ids, device-id names), of its referrer the origin, and of the
// browser's hints those hint matching reads; an e-mail address, a session or a search term in either URL is stored
// nowhere (every stored row of every table is searched for it). SECURITY.md lists every stored field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import type { Store } from '../../collector/store/store.js';
import { bearer, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { describePg } from '../support/pg.js';
import { readStoredRows } from '../security/stored-rows.js';

const browser = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' };
/** what must not be stored: it appears only in parameters and referrer paths that are not attribution's */
const SECRETS = ['jane.doe', 'hunter2', 'private search', 'private+search', 'article', 'uid=42', 'frag'];

interface Case {
  name: string;
  /** posts the touch, answers its cid */
  send: (c: TestCollector, n: number) => Promise<string>;
  url: string | null;
  referrer: string | null;
  hints?: Record<string, unknown> | null;
}

const LANDING = `${SITE}/landing?email=jane.doe%40mail.example&utm_source=bing&utm_campaign=spring&msclkid=mk1&idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC&session=hunter2`;
const REFERRER = 'https://news.example/article?q=private+search&uid=42';

const cases: Case[] = [
  {
    name: 'the script (POST /t): PII params and the referrer\'s path dropped',
    send: async (c, n) => {
      const t = token(`sf${n}`);
      const res = await post(c.url + '/t', { t, u: `${LANDING}&sspdata=${t}#frag`, r: REFERRER, a: { ids: 'idfa' }, w: 1280, h: 720, d: 2, z: { timeZone: 'Europe/Paris' } }, { ...browser, 'accept-language': 'de-DE', 'sec-ch-ua-platform': '"Android"', 'sec-ch-ua-mobile': '?1' });
      expect(res.status, res.text).toBe(200);
      return res.json.cid;
    },
    url: `${SITE}/landing?utm_source=bing&utm_campaign=spring&msclkid=mk1&idfa=6D92078A-8246-4BA4-AE5B-76104861E7DC`,
    referrer: 'https://news.example',
    // screen, pixel ratio and time zone are read by nothing: not kept
    hints: { l: 'de-de', mo: true, pf: 'Android', ids: { idfa: '6d92078a-8246-4ba4-ae5b-76104861e7dc' } },
  },
  {
    name: 'a site backend (POST /v1/touches): its url reduced the same way',
    send: async (c, n) => {
      const res = await post(c.url + '/v1/touches', { token: token(`sf${n}`), url: `${SITE}/p/shoes?session=hunter2&utm_medium=cpc&gclid=g1#frag` }, bearer(SERVER_KEY));
      expect(res.status, res.text).toBe(200);
      return res.json.cid;
    },
    url: `${SITE}/p/shoes?utm_medium=cpc&gclid=g1`,
    referrer: null,
  },
  {
    name: 'a landing URL with nothing allow-listed keeps its origin and path',
    send: async (c, n) => {
      const t = token(`sf${n}`);
      const res = await post(c.url + '/t', { t, u: `${SITE}/?email=jane.doe%40mail.example&sspdata=${t}`, r: 'https://news.example/' }, browser);
      expect(res.status, res.text).toBe(200);
      return res.json.cid;
    },
    url: `${SITE}/`,
    referrer: 'https://news.example',
  },
];

function suite(name: string, open: () => { store?: Store; pg?: { url: string; schema: string } }) {
  describe(name, () => {
    let c: TestCollector;
    let pg: { url: string; schema: string } | undefined;
    beforeAll(async () => {
      const o = open();
      pg = o.pg;
      c = await startTestCollector({}, { store: o.store });
    });
    afterAll(() => c?.stop());

    it.each(cases.map((k, i) => [k.name, k, i] as const))('%s', async (_name, k, i) => {
      const cid = await k.send(c, i);
      const touch = (await c.ctx.store.touchByCid(cid))!;
      expect(touch.url).toBe(k.url);
      expect(touch.referrer).toBe(k.referrer);
      if (k.hints !== undefined) expect(touch.hints).toEqual(k.hints);
    });

    it('no stored row of any table holds the e-mail, the session, the search or the referrer\'s path', async () => {
      const rows = JSON.stringify(await readStoredRows(c.ctx.store, pg));
      for (const secret of SECRETS) expect(rows.includes(secret), secret).toBe(false);
      expect(rows).toContain('utm_source=bing'); // the rows were read
    });
  });
}

suite('SQLite', () => ({}));
describePg('PostgreSQL', (ctx) =>
  suite('PostgreSQL store', () => {
    const schema = ctx.newSchema();
    return { store: new PostgresStore(ctx.url, { schema, poolSize: 2 }), pg: { url: ctx.url, schema } };
  }),
);
