// Guards the transport fallbacks: fetch (keepalive) first; when fetch is missing or throws at once,
// navigator.sendBeacon; when that is missing or refuses, an image GET to the same path with the body in ?b=.
import { expect, test } from 'vitest';
import { openLanding, tokenOf, type PageOptions } from './harness.js';

const URL_WITH_TOKEN = 'https://shop.example/landing?sspdata=ams1AB.';

test.each([
  { transport: 'fetch', via: 'fetch' },
  { transport: 'fetch-throws', via: 'beacon' },
  { transport: 'beacon', via: 'beacon' },
  { transport: 'beacon-false', via: 'image' },
  { transport: 'none', via: 'image' },
] as const)('$transport → the touch goes by $via', async ({ transport, via }) => {
  const page = await openLanding({ url: URL_WITH_TOKEN, transport: transport as PageOptions['transport'] });
  expect(page.sent.map((s) => [s.via, s.path, tokenOf(s.body)])).toEqual([[via, '/t', 'ams1AB.']]);
  expect(page.errors).toEqual([]);
});

test('the image fallback puts the JSON body, URI-encoded, in ?b=', async () => {
  const page = await openLanding({ url: URL_WITH_TOKEN, transport: 'none' });
  const [image] = page.sent;
  expect(image.url.startsWith('https://collect.example/t?b=%7B%22u%22%3A%22https%3A%2F%2Fshop.example%2Flanding%3Fsspdata%3Dams1AB.%22')).toBe(true);
});

test('the beacon carries the same string body fetch would', async () => {
  const page = await openLanding({ url: URL_WITH_TOKEN, transport: 'beacon' });
  expect(typeof page.sent[0].raw).toBe('string');
  const [fetched] = (await openLanding({ url: URL_WITH_TOKEN, transport: 'fetch' })).sent;
  expect(page.sent[0].raw).toBe(fetched.raw);
});

test('without an answer (beacon, image) there is no click id, and conversions still go out', async () => {
  const page = await openLanding({ url: URL_WITH_TOKEN, transport: 'beacon' });
  const answers: unknown[] = [];
  page.window.sspx('cid', (cid: unknown) => answers.push(cid));
  page.window.sspx('convert', { pixel: 'purchase' }, (a: unknown) => answers.push(a));
  await page.flush();
  expect(answers).toEqual([undefined, { error: 'beacon' }]);
  expect(page.sent.map((s) => [s.via, s.path])).toEqual([
    ['beacon', '/t'],
    ['beacon', '/c'],
  ]);
});
