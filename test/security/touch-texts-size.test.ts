// Guards touch_texts against a text too long for its unique index. A landing URL or referrer is read only when its
// raw text is at most 2,048 characters, but serialising it percent-encodes every non-ASCII character (一 becomes
// %E4%B8%80): 2,000 of them make an 18 KB URL, a random IDN host a 6 KB origin. PostgreSQL's unique index on
// touch_texts.text refuses an entry past 2,704 bytes: such a text in a touch would fail its whole group commit (every
// visitor's touch sharing the flush answered 500), and a store holding one written before issue 15 (which kept the
// whole serialised URL) could not run migration 13. What a touch keeps of a URL is at most 2,048 characters as
// serialised; a longer one is not kept. On SQLite and on PostgreSQL, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import type { Store } from '../../collector/store/store.js';
import { touchHashes } from '../../collector/store/touch-hashes.js';
import { SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { describePg, pgQuery } from '../support/pg.js';
import { send } from '../support/proc.js';
import { touch } from '../store/rows.js';
import { cleanUrl, landingUrl, referrerOrigin } from '../../collector/ingest/client.js';
import { MAX_TOUCH_TEXT } from '../../collector/store/touch-texts.js';
import { browser } from './cases.js';

/** `n` CJK characters, varied (a repeated one would compress under PostgreSQL's index limit) */
const cjk = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919 + seed * 104729) % 20000))).join('');

/** a landing URL of under 2,048 characters that serialises to ~18 KB */
const LONG_LANDING = `${SITE}/${cjk(2000)}`;
/** a referrer whose origin serialises to ~6 KB (punycode of a long IDN label) */
const LONG_REFERRER = `https://${cjk(2000, 2)}.example/`;

describe('what a touch keeps of a URL', () => {
  it('is at most MAX_TOUCH_TEXT characters as serialised, whatever the raw text expands to', () => {
    // the URL's raw text passes the raw limit; its serialisation does not
    expect(LONG_LANDING.length).toBeLessThanOrEqual(MAX_TOUCH_TEXT);
    expect([cleanUrl(LONG_LANDING), landingUrl(LONG_LANDING), referrerOrigin(LONG_REFERRER)]).toEqual([null, null, null]);
    // a short non-ASCII URL is kept, serialised
    expect(landingUrl(`${SITE}/商品?utm_source=ニュース`)).toBe(`${SITE}/%E5%95%86%E5%93%81?utm_source=%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9`);
  });
});

function sizeSuite(label: string, open: () => Promise<{ c: TestCollector; store: () => Store }>) {
  describe(`a touch whose URLs serialise long (${label})`, () => {
    let c: TestCollector;
    let store: () => Store;
    beforeAll(async () => {
      ({ c, store } = await open());
    });
    afterAll(() => c?.stop());

    const touchOf = (t: string, u: string, r = '') =>
      send(`${c.url}/t`, { method: 'POST', headers: browser, body: JSON.stringify({ u: `${u}?sspdata=${t}`, v: `${u}?sspdata=${t}`, a: {}, r }) });

    it('is stored without the URL it cannot keep, and fails no touch that shares its commit', async () => {
      expect(LONG_LANDING.length).toBeLessThan(2048);
      expect(new URL(LONG_LANDING).href.length).toBeGreaterThan(2704);
      expect(new URL(LONG_REFERRER).origin.length).toBeGreaterThan(2704);
      // sent together: most often one group commit, where a text its index refused would fail all three
      const [hostile, hostileReferrer, visitor] = await Promise.all([
        touchOf(token('long-url'), LONG_LANDING),
        touchOf(token('long-ref'), `${SITE}/landing`, LONG_REFERRER),
        touchOf(token('visitor'), `${SITE}/landing`, 'https://news.example/a'),
      ]);
      expect([hostile.status, hostileReferrer.status, visitor.status]).toEqual([200, 200, 200]);
      const stored = await store().touchByCid(JSON.parse(visitor.body).cid);
      expect(stored).toMatchObject({ url: `${SITE}/landing`, referrer: 'https://news.example' });
      const long = await store().touchByCid(JSON.parse(hostile.body).cid);
      expect(long).toMatchObject({ token: token('long-url'), url: null });
      const longReferrer = await store().touchByCid(JSON.parse(hostileReferrer.body).cid);
      expect(longReferrer).toMatchObject({ token: token('long-ref'), url: `${SITE}/landing`, referrer: null });
    });
  });
}

sizeSuite('SQLite', async () => {
  const c = await startTestCollector();
  return { c, store: () => c.ctx.store };
});

describePg('touch texts on PostgreSQL', (pg) => {
  sizeSuite('PostgreSQL', async () => {
    const store: Store = new PostgresStore(pg.url, { schema: pg.newSchema(), poolSize: 4 });
    const c = await startTestCollector({}, { store });
    return { c, store: () => store };
  });

  it('migration 13 upgrades a store holding a touch with a URL too long to index: the touch stays, without it', async () => {
    const schema = pg.newSchema();
    const store = new PostgresStore(pg.url, { schema, poolSize: 2 });
    try {
      await store.migrate(12);
      // as a build before issue 15 stored it: its landing URL and referrer whole and serialised, as long as they came
      const t = touch({ url: new URL(LONG_LANDING).href, referrer: new URL(LONG_REFERRER).origin });
      const row: Record<string, unknown> = { ...t, id: 't_mintedAtRandom01', install_id: undefined, ...touchHashes(t) };
      const entries = Object.entries(row).filter(([, v]) => v !== undefined);
      await pgQuery(
        pg.url,
        `INSERT INTO "${schema}".touches (${entries.map(([k]) => k).join(', ')}) VALUES (${entries.map((_, i) => `$${i + 1}`).join(', ')})`,
        entries.map(([, v]) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v)),
      );
      await store.migrate();
      expect(await store.migrationsCurrent()).toBe(true);
      expect(await store.touchByCid(t.cid)).toMatchObject({ token: t.token, user_agent: t.user_agent, url: null, referrer: null });
    } finally {
      await store.close();
    }
  });
});
