// Guards the one query parser (issue 14, item 6): `+` is a token byte on every route. The same token, with `+` sent
// raw or as %2B, is stored byte for byte from GET /i, POST /t and the image fallbacks (/t?b=, /c?b=), and a `+` in the
// operators' filters (/v1/fires?from=…+02:00) is a `+`; before, Express's parser turned it into a space on /i.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseQuery } from '../../collector/http/query.js';
import { ADMIN_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { json, send } from '../support/proc.js';
import { readStoredRows } from '../security/stored-rows.js';

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const PLUS = (n: string) => `ams1AB+Cd/Ef+${n}==.`;
/** the JSON percent-encoded as a page would, except `+`, which is left raw */
const rawPlus = (v: unknown) => encodeURIComponent(JSON.stringify(v)).replace(/%2B/g, '+');

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector();
});
afterAll(() => c.stop());

const tokens = async () => {
  await c.touches.drain();
  return (await readStoredRows(c.ctx.store)).touches.map((t) => t.token);
};

describe('one query parser', () => {
  const routes: [string, (t: string) => Promise<{ status: number }>][] = [
    ['GET /i, + raw', (t) => send(`${c.url}/i?sspdata=${t}`, { headers: { 'user-agent': UA } })],
    ['GET /i, + as %2B', (t) => send(`${c.url}/i?sspdata=${encodeURIComponent(t)}`, { headers: { 'user-agent': UA } })],
    ['POST /t', (t) => send(`${c.url}/t`, { method: 'POST', headers: { origin: SITE, 'user-agent': UA, 'content-type': 'text/plain' }, body: JSON.stringify({ t }) })],
    ['GET /t?b=, + raw', (t) => send(`${c.url}/t?b=${rawPlus({ t })}`, { headers: { 'user-agent': UA, referer: SITE + '/' } })],
    ['GET /t?b=, + as %2B', (t) => send(`${c.url}/t?b=${encodeURIComponent(JSON.stringify({ t }))}`, { headers: { 'user-agent': UA, referer: SITE + '/' } })],
  ];
  it.each(routes.map(([name, route], i) => [name, route, i] as const))('%s stores the token byte for byte', async (_name, route, i) => {
    const t = PLUS(String(i));
    const res = await route(t);
    expect(res.status).toBe(200);
    expect(await tokens()).toContain(t);
  });

  it('GET /c?b= keeps a raw + in other', async () => {
    const res = await send(`${c.url}/c?b=${rawPlus({ pixel: 'purchase', order_id: 'PLUS-1', other: 'a+b' })}`, { headers: { 'user-agent': UA, referer: SITE + '/' } });
    expect(res.status).toBe(200);
    const rows = await readStoredRows(c.ctx.store);
    expect(rows.conversions.find((r) => r.order_id === 'PLUS-1')?.other).toBe('a+b');
  });

  it('a + in an operator filter is a +: /v1/fires?from=…T00:00+02:00', async () => {
    const res = await send(`${c.url}/v1/fires?from=2026-01-31T00:00+02:00`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(res.status, res.body).toBe(200);
    expect(json(res).fires).toEqual(expect.any(Array));
  });

  it('parses repeated, empty, nameless and malformed parameters as the routes expect', () => {
    expect({ ...parseQuery('a=1&a=2&b=&c&=x&d=%ZZ&e=%2B+') }).toEqual({ a: ['1', '2'], b: '', c: '', '': 'x', d: '%ZZ', e: '++' });
    expect(Object.getPrototypeOf(parseQuery('__proto__=x'))).toBeNull();
    expect(parseQuery('__proto__=x')['__proto__']).toBe('x');
  });
});
