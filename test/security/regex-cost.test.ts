// Guards the event loop against hostile input shapes: every regular expression the collector and the script run on
// input (through the function that runs it) is fed its worst shapes — long runs of the characters it repeats,
// near-misses that make it backtrack — and its time is compared with a normal input of the same length, as a ratio
// (never a wall-clock bound). A quadratic pattern (readLanding's old `/[?#&]+(?=#|$)/g`: 8,000 `&` took 100 ms, a
// normal URL 2 ms) shows a ratio in the hundreds; a linear one stays near 1.
import { describe, expect, it } from 'vitest';
import { parseTime } from '../../collector/clock.js';
import { bearer } from '../../collector/http/auth.js';
import { fallbackRefusal, siteForOrigin } from '../../collector/http/cors.js';
import { parseQuery } from '../../collector/http/query.js';
import { deviceIdOf, invalidOrderId, invalidOther, invalidValue, tokenRefusal, ID_PATTERN, INSTALL_ID, VISITOR_ID_PATTERN } from '../../collector/fields.js';
import { cleanUrl, dropReason, headerText, plainText, truncateIp } from '../../collector/ingest/client.js';
import { normalizeLanguage, osFromUserAgent, osOfApp } from '../../collector/ingest/hints.js';
import { scriptTouchFacts } from '../../collector/ingest/touches.js';
import { readReferrer } from '../../collector/ingest/installs.js';
import { parseConfig } from '../../collector/config.js';
import { BASE_CONFIG } from '../support/collector.js';
import { list, PIECE, readLanding } from '../../snippet/landing.js';
import { isMacro, isToken, NOT_TOKEN } from '../../snippet/token.js';

const L = 8000;
const rep = (s: string, n = L) => s.repeat(Math.ceil(n / s.length)).slice(0, n);
/** a normal input of length n: URL-ish text, letters and digits with the odd separator */
const normal = (n = L) => rep('utm_source=news&utm_medium=email&page=2&q=shoes-red-42&', n);
const config = parseConfig({ ...BASE_CONFIG, store: 'sqlite::memory:' });
const text = plainText(L * 4);

interface Case {
  name: string;
  run: (input: string) => unknown;
  /** the worst shapes, at length n */
  worst: (n: number) => string[];
  /** a normal input of length n (URL-ish text unless given) */
  normal?: (n: number) => string;
}

/** data-params or data-ids naming as many parameters as the tag's 512 characters hold */
const TAG_NAMES = ['sspdata', 'token', ...Array.from({ length: 110 }, (_, i) => `p${i}`)].join(',');

const UA = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 ';
const cases: Case[] = [
  { name: 'readLanding (landing URL)', run: (u) => readLanding('https://shop.example/p?' + u, 'sspdata', 'idfa,aaid'), worst: (n) => [rep('&', n), rep('?', n), rep('#', n), rep('&#', n), rep('=', n), rep('a=', n), rep('sspdata=&', n), rep('&', n - 1) + 'x', rep('%', n)] },
  { name: 'PIECE (the script reads the landing URL)', run: (u) => [...u.matchAll(PIECE)].length, worst: (n) => [rep('&', n), rep('=', n), rep('?=', n), rep('a', n)] },
  { name: 'list (data-params, data-ids)', run: (u) => list(u), worst: (n) => [rep(' ,', n), rep(',', n), rep(' ', n), rep('a', n)] },
  { name: 'isToken / NOT_TOKEN', run: (u) => [isToken(u), NOT_TOKEN.test(u)], worst: (n) => [rep('a', n), rep('{', n), rep('%', n), rep('$', n), rep('a', n - 1) + '"'] },
  { name: 'isMacro / tokenRefusal', run: (u) => [isMacro(u), tokenRefusal(u)], worst: (n) => [rep('{SSP', n), rep('%25', n), rep('%7B', n), rep('[SSP_', n), rep('{', n)] },
  { name: 'order_id, value, other', run: (u) => [invalidOrderId(u), invalidValue(u), invalidOther(u)], worst: (n) => [rep('1', n), rep('1', n - 1) + 'x', rep('1.1', n), rep('a', n), rep(' ', n)] },
  { name: 'id patterns (cid, visitor, install, device)', run: (u) => [ID_PATTERN.test(u), VISITOR_ID_PATTERN.test(u), INSTALL_ID.test(u), deviceIdOf(u)], worst: (n) => [rep('a', n), rep('0-', n), rep('0', n - 1) + 'x', rep('a', n - 1) + ' '] },
  { name: 'plainText (stored free text)', run: (u) => text.safeParse(u).success, worst: (n) => [rep('\u0001', n), rep('\ud800', n), rep('a', n - 1) + '\u0000'] },
  { name: 'headerText, cleanUrl, truncateIp', run: (u) => [headerText(u, 512), cleanUrl(u), truncateIp(u)], worst: (n) => [rep('\u0085', n), rep(':', n), rep('http://', n), rep('::', n)] },
  { name: 'dropReason (isbot on the user agent)', run: (u) => dropReason({ 'user-agent': u, 'sec-purpose': u }, true), normal: (n) => rep(UA, n), worst: (n) => [rep('a', n), rep(' ', n), rep('Mozilla/5.0 (', n), rep('bot', n), rep('/', n), rep('http', n), rep('; ', n)] },
  { name: 'bearer (Authorization)', run: (u) => bearer({ headers: { authorization: 'Bearer ' + u } } as never), worst: (n) => [rep(' ', n), rep('a', n), rep(' a', n)] },
  { name: 'siteForOrigin and fallbackRefusal (Origin, Referer)', run: (u) => [siteForOrigin(u, config), fallbackRefusal({ headers: { referer: u, 'sec-fetch-site': 'cross-site' } } as never, config)], worst: (n) => [rep(':', n), rep('1', n), 'https://shop.example:' + rep('1', n - 21)] },
  { name: 'parseQuery (every route)', run: (u) => parseQuery(u), worst: (n) => [rep('&', n), rep('=', n), rep('%', n), rep('a=1&', n), rep('%2', n)] },
  { name: 'parseTime (occurred_at, filters)', run: (u) => parseTime(u), worst: (n) => [rep('1', n), rep('2026-01-01', n), '2026-01-01T' + rep('1', n - 11)] },
  { name: 'hints (user agent, language, OS)', run: (u) => [osFromUserAgent(u), normalizeLanguage(u), osOfApp('ios', u, u)], normal: (n) => rep(UA, n), worst: (n) => [rep('Android ', n), rep('iPhone OS ', n), rep('1_', n), rep('-aa', n), rep('en-', n - 1) + '!', rep(' OS 1', n)] },
  {
    // the collector picks the token itself: every value under data-params in the landing URL, then in a current URL
    // that differs, each told from the macro (isMacro) until a token is found; the tag's data-params may name many
    name: 'scriptTouchFacts (the token in u, then v)',
    run: (u) => scriptTouchFacts({ u: 'https://shop.example/p?' + u, v: 'https://shop.example/q#' + u, a: { params: TAG_NAMES, ids: TAG_NAMES } }),
    worst: (n) => [rep('&', n), rep('p109=&', n), rep('sspdata=&', n), rep('sspdata=${SSP_DATA}&', n), rep('token=%2525%2525%257BSSP_DATA%257D&', n), 'sspdata=' + rep('[', 1000) + '&' + rep('sspdata=%25&', n - 1009), rep('sspdata=' + rep('%', 1024) + '&', n)],
  },
  { name: 'readReferrer (Play install referrer)', run: (u) => readReferrer(u, ['sspdata', 'token']), worst: (n) => [rep('sspx_cid=', n), rep('%25', n), rep('&sspx_cid=a', n), rep('+', n), rep('&sspdata=', n), rep('sspdata%3D', n)] },
];

/** ms per call: the least of many batches (the least is what the code costs; the rest is other processes) */
function cost(run: (s: string) => unknown, inputs: string[], batches: number, perBatch: number): number[] {
  const best = inputs.map(() => Infinity);
  for (let b = 0; b < batches; b++) {
    // interleaved, so a busy moment of the machine falls on every input alike
    inputs.forEach((input, i) => {
      const start = process.hrtime.bigint();
      for (let k = 0; k < perBatch; k++) run(input);
      best[i] = Math.min(best[i], Number(process.hrtime.bigint() - start) / 1e6 / perBatch);
    });
  }
  return best;
}

/**
 * A worst shape may cost this many times a normal input of its length. Linear code costs a constant factor more on
 * some shapes (every character a match, each one allocated; a normal input the engine skips through): up to about
 * ×120 here. A quadratic pattern at 8,000 characters costs thousands of times more: readLanding's old trailing
 * separators regex measured ×1,800 to ×2,200 on `&…&x`.
 */
const MAX_RATIO = 300;

function ratios(c: Case, n: number): number[] {
  const inputs = [(c.normal ?? normal)(n), ...c.worst(n)];
  for (const input of inputs) c.run(input); // compiled and warm
  // batches of at least ~2 ms of normal input, so the clock's resolution is no part of the ratio
  const one = cost(c.run, [inputs[0]], 3, 1)[0];
  const perBatch = Math.max(1, Math.min(5000, Math.ceil(2 / Math.max(one, 1e-4))));
  const [normalCost, ...worstCosts] = cost(c.run, inputs, 15, perBatch);
  return worstCosts.map((w) => w / normalCost);
}

describe('regular expressions on hostile shapes', () => {
  it.each(cases)('$name: no worst shape costs more than ×300 a normal input of its length', (c) => {
    const r = ratios(c, L);
    const report = c.worst(L).map((w, i) => `${JSON.stringify(w.slice(0, 10))}: ×${r[i].toFixed(1)}`).join(', ');
    expect(Math.max(...r), report).toBeLessThan(MAX_RATIO);
  });
});
