// Guards link decoration: links matching data-decorate get sspx_cid=<cid> (after an existing query, before a
// fragment), Google Play links get it inside their referrer parameter (first), links added later get it on click,
// no link gets it twice, and no link gets it without consent.
import { expect, test } from 'vitest';
import { openLanding, touches } from './harness.js';

const WITH_TOKEN = 'https://shop.example/landing?sspdata=ams1AB.';
const SELECTOR = "a[href*='apps.apple.com'],a[href*='play.google.com'],a.deep";

const link = (href: string, cls = '') => `<a${cls ? ` class="${cls}"` : ''} href="${href}">x</a>`;
const hrefs = (page: { window: any }) => [...page.window.document.querySelectorAll('a')].map((a: any) => a.href);

test.each([
  { name: 'no query', href: 'https://apps.apple.com/app/id123', out: 'https://apps.apple.com/app/id123?sspx_cid=cid-1' },
  { name: 'an existing query', href: 'https://apps.apple.com/app/id123?mt=8', out: 'https://apps.apple.com/app/id123?mt=8&sspx_cid=cid-1' },
  { name: 'a fragment', href: 'https://apps.apple.com/app/id123?mt=8#top', out: 'https://apps.apple.com/app/id123?mt=8&sspx_cid=cid-1#top' },
  { name: 'a deep link', href: 'shopapp://product/42?ref=ad', out: 'shopapp://product/42?ref=ad&sspx_cid=cid-1', cls: 'deep' },
  { name: 'Google Play without referrer', href: 'https://play.google.com/store/apps/details?id=com.shop', out: 'https://play.google.com/store/apps/details?id=com.shop&referrer=sspx_cid%3Dcid-1' },
  {
    name: 'Google Play with a referrer',
    href: 'https://play.google.com/store/apps/details?referrer=utm_source%3Dads&id=com.shop',
    out: 'https://play.google.com/store/apps/details?referrer=sspx_cid%3Dcid-1%26utm_source%3Dads&id=com.shop',
  },
  { name: 'not matching the selector: untouched', href: 'https://shop.example/about', out: 'https://shop.example/about' },
])('$name', async ({ href, out, cls }) => {
  const page = await openLanding({ url: WITH_TOKEN, attrs: { decorate: SELECTOR }, body: link(href, cls) });
  expect(hrefs(page)).toEqual([out]);
});

test('a link added later is decorated when clicked, and only once', async () => {
  const page = await openLanding({ url: WITH_TOKEN, attrs: { decorate: SELECTOR } });
  const doc = page.window.document;
  doc.body.insertAdjacentHTML('beforeend', '<a href="https://apps.apple.com/app/id9"><span id="inner">get</span></a>');
  const inner = doc.getElementById('inner');
  // The click lands on the span inside the link; stop the navigation jsdom cannot do anyway.
  doc.addEventListener('click', (e: Event) => e.preventDefault());
  inner.click();
  inner.click();
  expect(hrefs(page)).toEqual(['https://apps.apple.com/app/id9?sspx_cid=cid-1']);
});

test('a page without a token decorates with the stored id on click', async () => {
  const page = await openLanding({
    url: 'https://shop.example/product',
    attrs: { decorate: SELECTOR },
    storage: { sspx_cid: 'stored-cid' },
    body: link('https://apps.apple.com/app/id1'),
  });
  expect(hrefs(page)).toEqual(['https://apps.apple.com/app/id1?sspx_cid=stored-cid']);
});

test('no id, no decoration', async () => {
  const page = await openLanding({ url: 'https://shop.example/product', attrs: { decorate: SELECTOR }, body: link('https://apps.apple.com/app/id1') });
  page.window.document.querySelector('a').dispatchEvent(new page.window.MouseEvent('click', { bubbles: true, cancelable: true }));
  expect(hrefs(page)).toEqual(['https://apps.apple.com/app/id1']);
});

test('consent pending: links wait for consent; a refusal keeps them clean', async () => {
  const body = link('https://apps.apple.com/app/id1');
  const granted = await openLanding({ url: WITH_TOKEN, attrs: { decorate: SELECTOR, consent: 'pending' }, body });
  expect(hrefs(granted)).toEqual(['https://apps.apple.com/app/id1']);
  granted.window.sspx('consent', true);
  await granted.flush();
  expect(hrefs(granted)).toEqual(['https://apps.apple.com/app/id1?sspx_cid=cid-1']);

  const refused = await openLanding({ url: WITH_TOKEN, attrs: { decorate: SELECTOR }, body: '' });
  refused.window.sspx('consent', false);
  refused.window.document.body.insertAdjacentHTML('beforeend', body);
  refused.window.document.addEventListener('click', (e: Event) => e.preventDefault());
  refused.window.document.querySelector('a').click();
  expect(hrefs(refused)).toEqual(['https://apps.apple.com/app/id1']);
});

test('a malformed selector warns with [sspx] and the touch still goes out', async () => {
  const page = await openLanding({ url: WITH_TOKEN, attrs: { decorate: 'a[[' }, body: link('https://apps.apple.com/app/id1') });
  expect(touches(page)).toHaveLength(1);
  expect(page.warnings).toHaveLength(1);
  expect(page.warnings[0]).toMatch(/^\[sspx\] .*a\[\[/);
  page.window.document.addEventListener('click', (e: Event) => e.preventDefault());
  page.window.document.querySelector('a').click(); // the listener meets the bad selector again, quietly
  expect(page.errors).toEqual([]);
  expect(hrefs(page)).toEqual(['https://apps.apple.com/app/id1']);
});
