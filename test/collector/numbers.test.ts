// Guards issue 14, item 4 on both stores: a computed price sent as a JSON number (`0.1+0.2`, `49.9*1.19`) is rounded
// to at most 6 decimals, trailing zeros trimmed, and fires as such on every route; on the browser route a broken
// optional field (`value`, `other`) is dropped and the conversion still counts and fires without it, the warning kept
// on the conversion (and shown on the dashboard's fire page); /v1/conversions keeps refusing it with a 400 naming
// the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalText } from '../../collector/fields.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import type { Store } from '../../collector/store/store.js';
import { bearer, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { describePg } from '../support/pg.js';
import { firePage } from '../../collector/admin/pages.js';

const browser = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' };

it('decimalText rounds to at most 6 decimals and trims trailing zeros', () => {
  const table: [number, string][] = [
    [0.1 + 0.2, '0.3'], [49.9 * 1.19, '59.381'], [10, '10'], [10.5, '10.5'], [1.0000004, '1'], [1.0000005, '1.000001'],
    [0.000_000_4, '0'], [123_456_789_012_345.5, '123456789012345.5'], [19.99 * 3, '59.97'], [Infinity, ''], [NaN, ''],
  ];
  for (const [n, text] of table) expect(decimalText(n), String(n)).toBe(text);
});

function suite(name: string, store: () => Store | undefined) {
  describe(name, () => {
    let c: TestCollector;
    let visitor: string;
    let n = 0;
    beforeAll(async () => {
      c = await startTestCollector({}, { store: store() });
      const t = await post(c.url + '/t', { t: token('numbers') }, browser);
      visitor = /sspx_vid=([^;]+)/.exec(t.headers.get('set-cookie') ?? '')![1];
    });
    afterAll(() => c?.stop());

    const fireOf = async (fire_id: string) => (await c.ctx.store.getFire(fire_id))!;

    // [what, body (raw JSON text, so the numbers are the computed ones), value and other fired, warning kept]
    const browserCases: [string, string, string | null, string | null, RegExp | null][] = [
      ['0.1+0.2 as a number', `{"pixel":"purchase","value":${0.1 + 0.2}}`, '0.3', null, null],
      ['49.9*1.19 as a number', `{"pixel":"purchase","value":${49.9 * 1.19}}`, '59.381', null, null],
      ['a price with trailing zeros', '{"pixel":"purchase","value":10.500000}', '10.5', null, null],
      ['value "$10" (dropped)', '{"pixel":"purchase","value":"$10","other":"ok"}', null, 'ok', /^value dropped: value must be purely numeric/],
      ['value -1 (dropped)', '{"pixel":"purchase","value":-1}', null, null, /^value dropped/],
      ['value of 16 digits (dropped)', '{"pixel":"purchase","value":"1234567890123456"}', null, null, /^value dropped/],
      ['other of 21 characters (dropped)', `{"pixel":"purchase","value":"5","other":"${'o'.repeat(21)}"}`, '5', null, /^other dropped: other must be 1 to 20/],
      ['both broken (both dropped)', '{"pixel":"purchase","value":"ten","other":"<b>"}', null, null, /^value dropped: .*; other dropped: /],
    ];
    it.each(browserCases)('POST /c, %s: counted and fired, broken fields dropped with a warning', async (_what, body, value, other, warning) => {
      const order = `N-${name.slice(0, 2)}-${++n}`;
      const res = await post(c.url + '/c', body.replace('{', `{"order_id":"${order}",`), { ...browser, cookie: `sspx_vid=${visitor}` });
      expect(res.status, res.text).toBe(200);
      expect(res.json.outcome).toBe('attributed');
      const fire = await fireOf(res.json.fire_id);
      expect([fire.value, fire.other]).toEqual([value, other]);
      expect(fire.conversion!.value).toBe(value);
      if (warning) expect(fire.conversion!.warning).toMatch(warning);
      else expect(fire.conversion!.warning).toBeNull();
      if (warning) {
        const page = firePage({ fire, config: c.ctx.config, csrf: 'x', back: '' }).value;
        expect(page).toMatch(/<dt>warning<\/dt><dd>(value|other) dropped: /);
      }
    });

    it('POST /v1/conversions rounds a computed price and refuses a broken one naming the field', async () => {
      const ok = await post(c.url + '/v1/conversions', `{"pixel":"purchase","token":"${token('numbers')}","order_id":"S-${name.slice(0, 2)}","value":${49.9 * 1.19}}`, bearer(SERVER_KEY));
      expect(ok.status, ok.text).toBe(200);
      expect((await fireOf(ok.json.fire_id)).value).toBe('59.381');
      for (const [body, field] of [['{"value":"$10"}', 'value'], ['{"value":-1}', 'value'], [`{"other":"${'o'.repeat(21)}"}`, 'other']] as const) {
        const bad = await post(c.url + '/v1/conversions', body.replace('{', `{"pixel":"purchase","token":"${token('numbers')}",`), bearer(SERVER_KEY));
        expect(bad.status).toBe(400);
        expect(bad.json.error).toBe(`invalid_${field}`);
      }
    });

    it('a browser conversion still refuses what it cannot count without: a broken order_id', async () => {
      const res = await post(c.url + '/c', { pixel: 'purchase', order_id: 'A 1', value: '$3' }, browser);
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_order_id');
    });
  });
}

suite('SQLite', () => undefined);
describePg('PostgreSQL', (pg) => suite('PostgreSQL store', () => new PostgresStore(pg.url, { schema: pg.newSchema(), poolSize: 2 })));
