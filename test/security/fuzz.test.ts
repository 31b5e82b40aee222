// Guards every public route against generated hostile input (fast-check): bodies built from each route's own
// fields with values drawn from nasty strings, arbitrary UTF-16 (unpaired surrogates included), numbers at the
// edges and wrong types; raw bodies; random content types, origins, cookies and user agents; random query strings
// and fire ids. Property: never a 5xx, every answer comes from the app (or is the HTTP parser's own 4xx), and the
// collector keeps answering. Afterwards every stored row passes the schema's own checks. Bounded: a fixed number
// of runs per route (SSPX_FUZZ_RUNS to change it).
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, APP_KEY, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { json, send, type Sent } from '../support/proc.js';
import { NASTY_STRINGS, ROUTES } from './cases.js';
import { readStoredRows, storedRowProblems } from './stored-rows.js';

const RUNS = Number(process.env.SSPX_FUZZ_RUNS ?? 150);
const T = token('fuzz');

/** UTF-16 code units, any of them: lone surrogates, NUL, C1 controls, BOM */
const codeUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }).map((u) => String.fromCharCode(...u));
const nastyString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  codeUnits,
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 60 }),
  fc.constantFrom('&id=1', '#frag', '%00', '&sspdata=x', '?id=2', '%26id%3D1', '\r\n', '.').map((s) => T + s),
  fc.string({ maxLength: 20 }).map((s) => s.repeat(200)),
);
const nastyNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, -0, 1e21, Number.MAX_SAFE_INTEGER + 2, 1e-7, 2 ** 31, Date.now(), Date.now() + 1e12));
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 2, arbitrary: nastyNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [1, 'a'], { __proto__: { polluted: 1 } }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/** a route's valid body with some fields made hostile, some dropped and maybe a stranger added */
function bodyOf(valid: Record<string, unknown>): fc.Arbitrary<string> {
  const fields = Object.keys(valid);
  const object = fc
    .record({
      changed: fc.dictionary(fc.constantFrom(...fields), nastyValue, { maxKeys: 3 }),
      dropped: fc.subarray(fields, { maxLength: 2 }),
      extra: fc.option(fc.tuple(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'router', 'id')), nastyValue), { nil: undefined }),
    })
    .map(({ changed, dropped, extra }) => {
      const body: Record<string, unknown> = { ...valid, ...changed };
      for (const d of dropped) delete body[d];
      if (extra) body[extra[0]] = extra[1];
      return JSON.stringify(body);
    });
  const raw = fc.oneof(codeUnits, fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('', '{', '[]', 'null', '{"a":' + '['.repeat(2000)));
  return fc.oneof({ weight: 5, arbitrary: object }, { weight: 1, arbitrary: raw });
}

/** header values node:http will send: tab, printable ASCII and latin1 */
const headerValue = fc.array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(9)), { maxLength: 60 }).map((c) => String.fromCharCode(...c));
const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('text/plain', 'application/json', 'text/plain;charset=UTF-8') },
  { weight: 1, arbitrary: fc.constantFrom('application/x-www-form-urlencoded', 'text/html', 'application/json; charset=klingon', 'multipart/form-data', '*/*', '') },
  { weight: 1, arbitrary: headerValue },
);
const browserHeaders = fc.record({
  'content-type': contentType,
  origin: fc.constantFrom(SITE, 'https://evil.example', 'null', 'https://shop.example.evil.example', undefined),
  'user-agent': fc.constantFrom('Mozilla/5.0 (X11; Linux x86_64; fuzz)', 'Googlebot/2.1', '', 'Mozilla/5.0 \u0085\u009b (fuzz)'),
  cookie: fc.option(fc.oneof(headerValue, headerValue.map((v) => `sspx_vid=${v}`), fc.constant('sspx_vid=ForgedForgedForgedForged')), { nil: undefined }),
  'sec-gpc': fc.constantFrom(undefined, '1'),
  'x-forwarded-for': fc.option(headerValue, { nil: undefined }),
});
const keyed = (key: string) =>
  fc.record({
    'content-type': contentType,
    authorization: fc.oneof({ weight: 6, arbitrary: fc.constant(`Bearer ${key}`) }, { weight: 1, arbitrary: headerValue }),
  });

const clean = (h: Record<string, string | undefined>) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>;

/** encodeURIComponent, except that a lone surrogate becomes its (invalid) UTF-8 bytes instead of a throw */
function enc(s: string): string {
  return Array.from(s, (ch) => {
    const u = ch.charCodeAt(0);
    if (ch.length > 1 || u < 0xd800 || u > 0xdfff) return encodeURIComponent(ch);
    return [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 0x3f), 0x80 | (u & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
  }).join('');
}

/** query strings: known names and strangers, values encoded, half-encoded or raw */
const queryPart = fc.tuple(
  fc.oneof(fc.constantFrom('sspdata', 'idfa', 'aaid', 'b', 'state', 'pixel', 'limit', 'from', 'to', 'before', 'order_id', 'last_outcome', '__proto__', 'sspdata[]'), fc.string({ maxLength: 8 })),
  nastyString,
  fc.constantFrom('encoded', 'raw-safe'),
);
const queryString = fc.array(queryPart, { maxLength: 12 }).map((parts) =>
  parts
    .map(([k, v, how]) => {
      // raw-safe: only what a request target may carry unescaped, with `%` left to fend for itself
      const value = how === 'encoded' ? enc(v) : v.replace(/[^\x21-\x7e]|#/g, (c) => enc(c).replace(/%/g, '%25'));
      return `${enc(k)}=${value}`;
    })
    .join('&'),
);

describe('fuzzing every public route (fast-check)', () => {
  let c: TestCollector;
  const seen = { requests: 0, statuses: {} as Record<number, number> };
  let fireIds: string[] = [];
  beforeAll(async () => {
    c = await startTestCollector();
    // a few real fires, so that generated fire ids sometimes hit one
    for (let i = 0; i < 3; i++) {
      const r = await send(c.url + '/v1/conversions', {
        headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pixel: 'purchase', token: token(`fz${i}`), order_id: `FZ-${i}` }),
      });
      fireIds.push(json(r).fire_id);
    }
  });
  afterAll(() => c?.stop());

  /** the property every answer must have */
  function fine(res: Sent, what: string): boolean {
    seen.requests++;
    seen.statuses[res.status] = (seen.statuses[res.status] ?? 0) + 1;
    const fromApp = res.headers['x-request-id'] !== undefined;
    if (res.status >= 500 || (!fromApp && res.status !== 400 && res.status !== 431)) {
      throw new Error(`${what}: ${res.status} ${res.body.slice(0, 200)}`);
    }
    return true;
  }

  const run = <T>(arb: fc.Arbitrary<T>, f: (v: T) => Promise<boolean>) => fc.assert(fc.asyncProperty(arb, f), { numRuns: RUNS, endOnFailure: true });

  it('POST /t and POST /c (the script)', async () => {
    for (const path of ['/t', '/c'] as const) {
      await run(fc.tuple(browserHeaders, bodyOf(ROUTES[path].body)), async ([h, body]) =>
        fine(await send(c.url + path, { method: 'POST', headers: clean(h), body }), `${path} ${body.slice(0, 100)}`),
      );
    }
  });

  it('GET /i and GET /t?b= (impression trackers, the image fallback)', async () => {
    await run(fc.tuple(browserHeaders, queryString), async ([h, q]) => fine(await send(`${c.url}/i?${q}`, { headers: clean({ ...h, 'content-type': undefined }) }), `/i?${q.slice(0, 100)}`));
    await run(fc.tuple(browserHeaders, bodyOf(ROUTES['/t'].body)), async ([h, b]) =>
      fine(await send(`${c.url}/t?b=${enc(b)}`, { headers: clean({ ...h, 'content-type': undefined, referer: `${SITE}/landing` }) }), `/t?b=${b.slice(0, 100)}`),
    );
  });

  it('POST /v1/touches, /v1/conversions, /v1/app/open (backends and apps)', async () => {
    const routes = [['/v1/touches', SERVER_KEY], ['/v1/conversions', SERVER_KEY], ['/v1/app/open', APP_KEY]] as const;
    for (const [path, key] of routes) {
      await run(fc.tuple(keyed(key), bodyOf(ROUTES[path].body)), async ([h, body]) =>
        fine(await send(c.url + path, { method: 'POST', headers: clean(h), body }), `${path} ${body.slice(0, 100)}`),
      );
    }
  });

  it('GET /v1/fires, /v1/fires/:id, /evidence, POST /replay (operators)', async () => {
    const id = fc.oneof(fc.constantFrom(...fireIds), fc.string({ maxLength: 40 }), codeUnits, fc.constantFrom('..', '%2e%2e', '__proto__', 'f_' + 'a'.repeat(200)));
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    await run(queryString, async (q) => fine(await send(`${c.url}/v1/fires?${q}`, { headers: auth }), `/v1/fires?${q.slice(0, 100)}`));
    await run(fc.tuple(id, fc.constantFrom('', '/evidence', '/replay')), async ([raw, tail]) => {
      const path = `/v1/fires/${enc(raw)}${tail}`;
      return fine(await send(c.url + path, { method: tail === '/replay' ? 'POST' : 'GET', headers: auth }), path.slice(0, 120));
    });
  });

  it('afterwards: the collector answers, and every stored row is one the schema allows', async () => {
    expect((await send(c.url + '/readyz')).status).toBe(200);
    const rows = await readStoredRows(c.ctx.store);
    expect(storedRowProblems(rows, c.ctx.config)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    console.log(`[fuzz] ${seen.requests} generated requests (${RUNS} runs a property): ${JSON.stringify(seen.statuses)}; stored ${rows.touches.length} touches, ${rows.conversions.length} conversions, all valid`);
  });
});
