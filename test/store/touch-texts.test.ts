// Guards the touch texts (migration 13, collector/store/touch-texts.ts) on both stores: what a request says about its
// client and page is kept once per distinct text, whichever write path named it, and each touch reads back its own;
// a rolled-back transaction's new texts are not taken for kept ones; and retention sweeps the texts no touch names
// any more once the touch purge is done, while a store that remembered a swept text adds it again for a later touch.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { storedTouch, TOUCH_STORED_COLUMNS } from '../../collector/store/schema.js';
import { noPurgeCounts, type PurgeCutoffs, type Store } from '../../collector/store/store.js';
import { splitUrl, TextCache, touchTexts } from '../../collector/store/touch-texts.js';
import { landingUrl } from '../../collector/ingest/client.js';
import { describePg, pgQuery } from '../support/pg.js';
import { T0, conversion, touch } from './rows.js';

interface Site {
  /** a store; a second one on the same file or schema stands for another process (PostgreSQL) or a restart */
  open(): Store;
  /** the kept texts, sorted */
  texts(): Promise<string[]>;
}

const DAY = 86_400_000;
const OLD = T0 - 100 * DAY;
const cutoffs: PurgeCutoffs = { records_before: T0 - 50 * DAY, clicks_before: T0 - 50 * DAY, views_before: T0 - 50 * DAY, transcripts_before: T0 - 50 * DAY };
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36';
const PAGE = { site: 'https://shop.example', ip_prefix: '203.0.113.0/24', user_agent: UA, url: 'https://shop.example/landing?utm_source=bing', referrer: 'https://www.bing.com', hints: { l: 'en-us', mo: false, pf: 'Linux' } };
const PAGE_TEXTS = ['script', PAGE.site, PAGE.ip_prefix, UA, PAGE.url, PAGE.referrer, JSON.stringify(PAGE.hints)];

async function purgeTouches(store: Store): Promise<void> {
  for (const step of ['conversions', 'touches'] as const) while ((await store.purgeBatch(step, cutoffs, 1))[step] === 1);
}

function suite(name: string, makeSite: () => Site) {
  describe(name, () => {
    const stores: Store[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
    });
    const fresh = async () => {
      const site = makeSite();
      const open = async () => {
        const s = site.open();
        stores.push(s);
        await s.migrate();
        return s;
      };
      return { site, open, store: await open() };
    };

    it("keeps a landing URL's click ids and advertising ids in the touch's row: 200 clicks of one campaign, each with its own msclkid, name one URL text and read back their own URL", async () => {
      const { site, store } = await fresh();
      const clicks = Array.from({ length: 200 }, (_, i) => touch({ ...PAGE, url: `${PAGE.url}&msclkid=${i.toString(16).padStart(32, '0')}${i % 2 ? `&idfa=${i}` : ''}` }));
      await store.insertTouches(clicks);
      for (const t of clicks) expect((await store.touchByCid(t.cid))?.url).toBe(t.url);
      expect(await site.texts()).toEqual([...PAGE_TEXTS].sort());
    });

    it('keeps each text once, whichever write named it, and reads each touch back with its own', async () => {
      const { site, store } = await fresh();
      const batch = [touch(PAGE), touch(PAGE), touch({ ...PAGE, user_agent: 'Mozilla/5.0 (iPhone)', hints: null })];
      await store.insertTouches(batch);
      const inTx = touch({ ...PAGE, referrer: null });
      await store.transaction((tx) => tx.insertTouch(inTx));
      const reengaged = touch({ ...PAGE, install_id: 'inst-1' });
      expect(await store.transaction((tx) => tx.insertInstallTouch(reengaged))).toBe(true);
      for (const t of [...batch, inTx, reengaged]) expect(await store.touchByCid(t.cid)).toEqual(t);
      expect(await site.texts()).toEqual([...PAGE_TEXTS, 'Mozilla/5.0 (iPhone)'].sort());
    });

    it('does not take a rolled-back transaction\'s new text for a kept one', async () => {
      const { site, store } = await fresh();
      const lost = touch({ ...PAGE, user_agent: 'rolled-back-ua' });
      await expect(store.transaction(async (tx) => (await tx.insertTouch(lost), Promise.reject(new Error('boom'))))).rejects.toThrow('boom');
      expect(await site.texts()).toEqual([]);
      const later = touch({ ...PAGE, user_agent: 'rolled-back-ua' });
      await store.insertTouches([later]);
      expect(await store.touchByCid(later.cid)).toEqual(later);
    });

    it('sweeps the texts no touch names once the touch purge is done; a store that remembered one adds it again', async () => {
      const { site, store, open } = await fresh();
      const other = await open();
      const gone = touch({ ...PAGE, user_agent: 'old-ua', occurred_at: OLD, created_at: OLD });
      const kept = touch({ ...PAGE, url: 'https://shop.example/kept', occurred_at: OLD, created_at: OLD });
      const recent = touch({ ...PAGE, occurred_at: T0, created_at: T0 });
      await other.insertTouches([gone]);
      await store.insertTouches([kept, recent]);
      // the kept touch is named by a conversion retention keeps
      await store.transaction((tx) => tx.insertConversion(conversion({ touch_id: kept.id, created_at: T0, occurred_at: T0 })));

      await purgeTouches(store);
      expect(await store.touchByCid(gone.cid)).toBeUndefined();
      expect(await site.texts()).toEqual([...PAGE_TEXTS, kept.url!].sort());
      expect(await store.touchByCid(kept.cid)).toEqual(kept);
      expect(await store.touchByCid(recent.cid)).toEqual(recent);
      expect(await store.purgeCounts(cutoffs)).toEqual(noPurgeCounts());

      // `other` remembers old-ua from the old touch: a touch of today adds it again rather than name a swept row
      const again = touch({ ...PAGE, user_agent: 'old-ua', occurred_at: T0, created_at: T0 });
      await other.insertTouches([again]);
      expect(await other.touchByCid(again.cid)).toEqual(again);
      expect(await site.texts()).toContain('old-ua');
    });
  });
}

describe('a touch\'s insert parameters', () => {
  it('are the base table\'s columns, its texts by the ids the store gave them', () => {
    const t = touch(PAGE);
    const cache = new TextCache();
    const added = new Map<string, number>();
    cache.needs([t], [touchTexts(t)], added).forEach((need, i) => added.set(need.text, i + 1));
    const params = storedTouch(t, touchTexts(t), cache.refs(touchTexts(t), added));
    expect(Object.keys(params).sort()).toEqual([...TOUCH_STORED_COLUMNS].sort());
    expect(params.user_agent_ref).toBe(added.get(UA));
    expect(params.hints_ref).toBe(added.get(JSON.stringify(PAGE.hints)));
    expect(() => cache.refs(touchTexts(touch({ ...PAGE, user_agent: 'never added' })), added)).toThrow();
  });
});

const dir = mkdtempSync(join(tmpdir(), 'sspx-texts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
suite('SQLite', () => {
  const path = join(dir, `${++n}.db`);
  let first: SqliteStore | undefined;
  return {
    open: () => {
      const s = new SqliteStore(path);
      first ??= s;
      return s;
    },
    texts: async () => (first!.db.prepare('SELECT text FROM touch_texts ORDER BY text').all() as { text: string }[]).map((r) => r.text),
  };
});
describePg('PostgreSQL', (pg) => {
  suite('PostgreSQL', () => {
    const schema = pg.newSchema();
    return {
      open: () => new PostgresStore(pg.url, { schema, poolSize: 2 }),
      texts: async () => (await pgQuery<{ text: string }>(pg.url, `SELECT text FROM "${schema}".touch_texts ORDER BY text COLLATE "C"`)).map((r) => r.text),
    };
  });

  describe('PostgreSQL, writes in flight', () => {
    const stores: PostgresStore[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
    });

    it('stores a group commit whose texts were remembered when a sweep made the store forget them while its new text was added', async () => {
      const store = new PostgresStore(pg.url, { schema: pg.newSchema(), poolSize: 4 });
      stores.push(store);
      await store.migrate();
      await store.insertTouches([touch({ ...PAGE, user_agent: 'old-ua', occurred_at: OLD, created_at: OLD })]);
      await store.insertTouches([touch({ ...PAGE, occurred_at: T0, created_at: T0 })]);
      // the purge (another caller of this process: the retention job) runs while the next touch's new URL is added
      const query = store.pool.query.bind(store.pool) as (text: string, values?: unknown[]) => Promise<unknown>;
      let purged = false;
      (store.pool as { query: unknown }).query = async (text: string, values?: unknown[]) => {
        if (!purged && text.includes('INSERT INTO touch_texts')) {
          purged = true;
          await purgeTouches(store);
        }
        return query(text, values);
      };
      const next = touch({ ...PAGE, url: 'https://shop.example/next', occurred_at: T0, created_at: T0 });
      await store.insertTouches([next]);
      expect(purged).toBe(true);
      expect(await store.touchByCid(next.cid)).toEqual(next);
    });
  });
});

describe('a landing URL in two (splitUrl): the part its campaign shares, and the click\'s own', () => {
  it.each([
    ['https://shop.example/landing', ['https://shop.example/landing', null]],
    ['https://shop.example/landing?utm_source=bing', ['https://shop.example/landing?utm_source=bing', null]],
    ['https://shop.example/landing?msclkid=abc', ['https://shop.example/landing', '?msclkid=abc']],
    ['https://shop.example/landing?utm_source=bing&msclkid=abc&idfa=X', ['https://shop.example/landing?utm_source=bing', '&msclkid=abc&idfa=X']],
    // only a parameter's name counts, whole: not a value, nor a longer name
    ['https://shop.example/landing?utm_term=msclkid%3Dx&msclkidx=1', ['https://shop.example/landing?utm_term=msclkid%3Dx&msclkidx=1', null]],
    ['https://shop.example/landing?utm_term=a&gclid', ['https://shop.example/landing?utm_term=a', '&gclid']],
    // out of landingUrl's order the URL is still joined back byte for byte
    ['https://shop.example/landing?gclid=1&utm_source=bing', ['https://shop.example/landing', '?gclid=1&utm_source=bing']],
  ] as const)('%s', (url, parts) => {
    expect(splitUrl(url)).toEqual(parts);
    expect(parts[0] + (parts[1] ?? '')).toBe(url);
  });

  it('landingUrl puts the click\'s own parameters after its campaign\'s, each byte for byte', () => {
    expect(landingUrl('https://shop.example/landing?msclkid=abc&email=a%40b.c&utm_source=bing&idfa=X&utm_campaign=q%2B1#top')).toBe(
      'https://shop.example/landing?utm_source=bing&utm_campaign=q%2B1&msclkid=abc&idfa=X',
    );
  });
});
