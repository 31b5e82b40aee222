// Guards the fire URL, Microsoft's one hard rule (`sspdata` last) and byte-exact values: whatever token the script
// accepts and whatever order_id/value/other the collector accepts arrive at the router decoded exactly as stored,
// a token's trailing `.` included. Also the field validators the conversion routes share.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fireUrl } from '../../collector/dispatch/fire-url.js';
import { invalidOrderId, invalidOther, invalidValue } from '../../collector/fields.js';
import { FireAgents, httpFire } from '../../collector/dispatch/http-fire.js';
import { isToken } from '../../snippet/token.js';
import { startRouter, type TestRouter } from '../support/router.js';

const R = 'https://sspx-router.adnxs.com/sspx';
const T = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';

describe('fireUrl', () => {
  it.each([
    ['id and token only', { pixel_id: 59633, token: T }, `${R}?id=59633&sspdata=${T}`],
    ['every field, in order, sspdata last', { pixel_id: 59633, order_id: 'A-1_2.3', value: '10.50', other: 'x y', token: T }, `${R}?id=59633&order_id=A-1_2.3&value=10.50&other=x%20y&sspdata=${T}`],
    ['nulls are left out', { pixel_id: 1, order_id: null, value: '10', other: null, token: T }, `${R}?id=1&value=10&sspdata=${T}`],
    ['token bytes that mean something in a URL are encoded', { pixel_id: 1, token: 'a+b&c=d%2F#e?f/' }, `${R}?id=1&sspdata=a%2Bb%26c%3Dd%252F%23e%3Ff%2F`],
    ['other with reserved characters', { pixel_id: 1, other: '&sspdata=evil', token: T }, `${R}?id=1&other=%26sspdata%3Devil&sspdata=${T}`],
  ])('%s', (_name, fields, expected) => {
    expect(fireUrl(R, fields)).toBe(expected);
  });
});

describe('field validators', () => {
  it.each([
    ['A1', null], ['ORD-2026_01.5', null], ['x'.repeat(36), null],
    ['', 'bad'], ['x'.repeat(37), 'bad'], ['a b', 'bad'], ['a/b', 'bad'], ['ä', 'bad'], [12, 'bad'],
  ])('order_id %j', (v, verdict) => {
    expect(invalidOrderId(v) === null ? null : 'bad').toBe(verdict);
  });
  it.each([
    ['10', null], ['10.5', null], ['0.000001', null], [10, null], [10.25, null], ['123456789012345', null],
    ['$10', 'bad'], ['-1', 'bad'], ['1e3', 'bad'], ['10.', 'bad'], ['.5', 'bad'], ['1,5', 'bad'], ['1234567890123456', 'bad'],
    ['1.1234567', 'bad'], [Infinity, 'bad'], [-1, 'bad'], [1e21, 'bad'], [null, 'bad'],
  ])('value %j', (v, verdict) => {
    expect(invalidValue(v) === null ? null : 'bad').toBe(verdict);
  });
  it.each([
    ['campaign 7', null], ['x'.repeat(20), null], ['a&b=c?d#e', null],
    ['', 'bad'], ['x'.repeat(21), 'bad'], ['say "hi"', 'bad'], ["it's", 'bad'], ['<b>', 'bad'], ['a\\b', 'bad'], ['tab\there', 'bad'], ['é', 'bad'],
  ])('other %j', (v, verdict) => {
    expect(invalidOther(v) === null ? null : 'bad').toBe(verdict);
  });
});

describe('what the router receives', () => {
  let router: TestRouter;
  let agents: FireAgents;
  beforeAll(async () => {
    router = await startRouter();
    router.otherwise({ status: 200 });
    agents = new FireAgents(4);
  });
  afterAll(async () => {
    agents.destroy();
    await router.close();
  });

  const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
  const token = fc.string({ unit: printable, minLength: 1, maxLength: 300 }).filter(isToken);
  const tokenWithDot = token.map((t) => (t.length < 1024 ? t + '.' : t)).filter(isToken);
  const orderId = fc.string({ unit: fc.constantFrom(...'abcXYZ0189._-'), minLength: 1, maxLength: 36 });
  const other = fc.string({ unit: printable, minLength: 1, maxLength: 20 }).filter((s) => invalidOther(s) === null);
  const value = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 15n - 1n }), fc.option(fc.integer({ min: 0, max: 999_999 }))).map(([i, d]) => (d == null ? `${i}` : `${i}.${d}`));

  it('decodes every accepted value byte-exact, in order, with sspdata last', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(token, tokenWithDot), fc.option(orderId), fc.option(value), fc.option(other), async (tok, order_id, val, oth) => {
        expect(invalidValue(val ?? '1')).toBeNull();
        const r = await httpFire(fireUrl(router.url, { pixel_id: 59633, order_id, value: val, other: oth, token: tok }), {
          connect_timeout_ms: 1000, request_timeout_ms: 3000, max_redirects: 0, agents, allow_insecure: true, // a local router
        });
        expect(r.outcome).toBe('fired');
        const got = router.fires[router.fires.length - 1].query;
        const want: [string, string][] = [['id', '59633']];
        if (order_id != null) want.push(['order_id', order_id]);
        if (val != null) want.push(['value', val]);
        if (oth != null) want.push(['other', oth]);
        want.push(['sspdata', tok]);
        expect(got).toEqual(want);
      }),
      { numRuns: 150 },
    );
  });
});
