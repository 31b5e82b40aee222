// Guards the page against the script: one touch per page view even with the tag pasted twice, no exception
// from a page callback escaping, the page's own scripts running undisturbed, data-debug explaining on the
// console why it sent or skipped, silence without it, and no global but window.sspx.
import { expect, test } from 'vitest';
import { openLanding, STUB, touches } from './harness.js';

const WITH_TOKEN = 'https://shop.example/landing?sspdata=ams1AB.';

test('the tag pasted twice sends one touch', async () => {
  const page = await openLanding({ url: WITH_TOKEN, tags: 2, before: STUB });
  expect(touches(page)).toHaveLength(1);
  expect(page.errors).toEqual([]);
});

test('a callback that throws does not escape, and later commands still work', async () => {
  const page = await openLanding({
    url: WITH_TOKEN,
    before: `${STUB}sspx('cid', function () { throw new Error('page bug') });sspx('convert', { pixel: 1 }, function () { throw new Error('page bug 2') })`,
  });
  expect(page.errors).toEqual([]);
  expect(page.warnings).toEqual(['[sspx] Error: page bug', '[sspx] Error: page bug 2']);
  const seen: unknown[] = [];
  page.window.sspx('cid', (c: unknown) => seen.push(c));
  await page.flush();
  expect(seen).toEqual(['cid-1']);
});

test('a callback that is not a function is ignored quietly', async () => {
  const page = await openLanding({ url: WITH_TOKEN, before: `${STUB}sspx('cid');sspx('convert', { pixel: 1 }, 'nope')` });
  expect(page.errors).toEqual([]);
});

test("the page's own script runs undisturbed, before and after the tag", async () => {
  const page = await openLanding({
    url: WITH_TOKEN,
    before: `${STUB}document.title = 'page ran'; window.addEventListener('load', function () { document.title += ' and loaded' })`,
  });
  expect(page.window.document.title).toBe('page ran and loaded');
  expect(page.errors).toEqual([]);
});

// what the collector answered (its click id, or why it stored nothing), else why nothing was sent
test.each([
  { name: 'token', url: WITH_TOKEN, log: ['[sspx] {"cid":"cid-1"}'] },
  { name: 'no token', url: 'https://shop.example/landing', log: ['[sspx] no token'] },
  { name: 'macro', url: 'https://shop.example/landing?sspdata=${SSP_DATA}', log: ['[sspx] {"dropped":"unreplaced_macro"}'] },
  { name: 'a bot, as the collector says', url: WITH_TOKEN, answers: { '/t': { dropped: 'bot' } }, log: ['[sspx] {"dropped":"bot"}'] },
  { name: 'a refusal', url: WITH_TOKEN, answers: { '/t': { error: 'origin_not_allowed', message: 'm' } }, log: ['[sspx] {"error":"origin_not_allowed","message":"m"}'] },
  { name: 'no answer (a beacon)', url: WITH_TOKEN, transport: 'beacon' as const, log: ['[sspx] beacon'] },
  { name: 'consent pending', url: WITH_TOKEN, attrs: { consent: 'pending' }, log: ['[sspx] pending'] },
])('data-debug explains: $name', async ({ url, attrs, answers, transport, log }) => {
  const page = await openLanding({ url, attrs: { debug: '', ...attrs }, answers, transport });
  expect(page.logs).toEqual(log);
});

test('without data-debug the console stays quiet', async () => {
  const page = await openLanding({ url: WITH_TOKEN });
  const noToken = await openLanding({ url: 'https://shop.example/landing' });
  expect([...page.logs, ...page.warnings, ...noToken.logs, ...noToken.warnings]).toEqual([]);
});

test('a script without its tag attributes (inlined, no src) warns and leaves the page alone', async () => {
  const { JSDOM, VirtualConsole } = await import('jsdom');
  const { readFileSync } = await import('node:fs');
  const { SCRIPT_PATH } = await import('./harness.js');
  const warnings: string[] = [];
  const errors: unknown[] = [];
  const virtualConsole = new VirtualConsole();
  virtualConsole.on('warn', (...a: unknown[]) => warnings.push(a.join(' ')));
  virtualConsole.on('jsdomError', (e: unknown) => errors.push(e));
  const source = readFileSync(SCRIPT_PATH, 'utf8');
  new JSDOM(`<script>document.title='before'</script><script>${source}</script><script>document.title+=' after'</script>`, {
    url: WITH_TOKEN,
    runScripts: 'dangerously',
    virtualConsole,
  });
  expect(errors).toEqual([]);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/^\[sspx\] /);
});

test('nothing but window.sspx is left in the page globals', async () => {
  const page = await openLanding({ url: WITH_TOKEN, before: 'window.keysBefore = Object.getOwnPropertyNames(window)' });
  const added = Object.getOwnPropertyNames(page.window).filter((k) => !page.window.keysBefore.includes(k));
  expect(added.sort()).toEqual(['keysBefore', 'sspx'].sort());
});
