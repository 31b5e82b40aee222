// Guards how the auction token is read from the landing URL: the script sends a touch when a value under data-params
// may be the token or its macro, and the collector reads it from the URLs sent (tokenOf reads the body as the
// collector does): byte-exact tokens from the query or the fragment, the first valid one winning, also when another
// script rewrote the URL before ours ran (the navigation entry's URL is read first); the macro rule of
// snippet/token.ts over every spelling and encoding depth; and every unreplaced-macro form sent once and counted, no
// touch. Also that the landing URL has the token params removed (the collector strips them from the URL the script
// sends, with the one shared parser: landingOf reads the body as the collector does; what it then keeps of the URL
// is test/collector/stored-fields.test.ts's).
import { describe, expect, test } from 'vitest';
import { params, tokenValues } from '../../snippet/landing.js';
import { decodeValue, isMacro, isToken } from '../../snippet/token.js';
import { diagnostics, landingOf, openLanding, readTouch, tokenOf, touches } from './harness.js';

const LANDING = 'https://shop.example/landing';
const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';

describe('a valid token is sent byte for byte', () => {
  const cases: { name: string; url: string; params?: string; token: string; u?: string }[] = [
    { name: 'plain, trailing period kept', url: `${LANDING}?sspdata=${TOKEN}`, token: TOKEN, u: LANDING },
    { name: 'a $ inside the token', url: `${LANDING}?sspdata=ams1$AB.`, token: 'ams1$AB.' },
    { name: 'percent-encoded, decoded once', url: `${LANDING}?sspdata=ams1%2BAB%2FCD%3D.`, token: 'ams1+AB/CD=.' },
    { name: '+ stays +, not a space', url: `${LANDING}?sspdata=ams1+AB+.`, token: 'ams1+AB+.' },
    { name: '= inside the value', url: `${LANDING}?sspdata=ams1AB==.`, token: 'ams1AB==.' },
    { name: 'a second configured param', url: `${LANDING}?token=${TOKEN}`, params: 'sspdata,token', token: TOKEN },
    { name: 'params list with spaces', url: `${LANDING}?token=${TOKEN}`, params: ' sspdata , token ', token: TOKEN },
    { name: 'first valid token wins', url: `${LANDING}?token=first.&sspdata=second.`, params: 'sspdata,token', token: 'first.' },
    { name: 'a macro beside a valid token: the token', url: `${LANDING}?sspdata=\${SSP_DATA}&token=${TOKEN}`, params: 'sspdata,token', token: TOKEN },
    { name: 'in the fragment', url: `${LANDING}#sspdata=${TOKEN}`, token: TOKEN, u: LANDING },
    { name: 'in a fragment route', url: `${LANDING}#/offer?sspdata=${TOKEN}&x=1`, token: TOKEN, u: `${LANDING}#/offer?x=1` },
    { name: 'query before fragment', url: `${LANDING}?sspdata=query.#sspdata=fragment.`, token: 'query.' },
    // the collector tells the macro from a token (isMacro): a real token that merely mentions SSP and DATA is one
    { name: 'a token that looks like the macro', url: `${LANDING}?sspdata=ams1SSPxDATA.`, token: 'ams1SSPxDATA.' },
    { name: 'a token after one that looks like the macro: the first', url: `${LANDING}?token=ams1SSPxDATA.&sspdata=${TOKEN}`, params: 'sspdata,token', token: 'ams1SSPxDATA.' },
  ];
  test.each(cases)('$name', async ({ url, params, token }) => {
    const page = await openLanding({ url, attrs: params ? { params } : {} });
    expect(touches(page).map((s) => tokenOf(s.body))).toEqual([token]);
    expect(diagnostics(page)).toEqual([]);
    expect(page.errors).toEqual([]);
  });
  test.each(cases.filter((c) => c.u))('$name: u has no token', async ({ url, params, u }) => {
    const page = await openLanding({ url, attrs: params ? { params } : {} });
    expect(landingOf(touches(page)[0].body).url).toBe(u);
  });
});

describe('the landing URL (u) loses only the token params', () => {
  const cases = [
    { url: `${LANDING}?a=1&sspdata=${TOKEN}&b=2#top`, u: `${LANDING}?a=1&b=2#top` },
    { url: `${LANDING}?sspdata=${TOKEN}&b=2`, u: `${LANDING}?b=2` },
    { url: `${LANDING}?a=1&sspdata=${TOKEN}`, u: `${LANDING}?a=1` },
    { url: `${LANDING}?sspdata=${TOKEN}#top`, u: `${LANDING}#top` },
    { url: `${LANDING}?q=a+b%20c&sspdata=${TOKEN}`, u: `${LANDING}?q=a+b%20c` },
    { url: `${LANDING}?sspdata=${TOKEN}&token=x.&idfa=X1`, u: `${LANDING}?idfa=X1`, params: 'sspdata,token' },
  ];
  test.each(cases)('$url', async ({ url, u, params }) => {
    const page = await openLanding({ url, attrs: params ? { params } : {} });
    expect(landingOf(touches(page)[0].body).url).toBe(u);
  });
});

describe('no token, no touch', () => {
  const cases = [
    { name: 'no parameter at all', url: LANDING },
    { name: 'an unrelated parameter', url: `${LANDING}?utm_source=ads` },
    { name: 'a token under a param that is not configured', url: `${LANDING}?token=${TOKEN}` },
    { name: 'a 10,000-character value', url: `${LANDING}?sspdata=${'A'.repeat(10_000)}` },
    { name: 'a value with a space', url: `${LANDING}?sspdata=ams1%20AB.` },
    { name: 'a value with a quote', url: `${LANDING}?sspdata=ams1%22AB.` },
    // the script decodes with unescape: a broken UTF-8 escape is not kept raw (as decodeURIComponent's failure did)
    { name: 'a value with a stray non-ASCII escape', url: `${LANDING}?sspdata=ams1%E2.` },
  ];
  test.each(cases)('$name: nothing is sent', async ({ url }) => {
    const page = await openLanding({ url, attrs: { debug: '' } });
    expect(page.sent).toEqual([]);
    expect(page.logs).toContain('[sspx] no token');
  });
});

/** every spelling of the unreplaced macro an ad server or a site builder leaves behind (issue 14, item 8) */
const MACRO_NAMES = ['SSP_DATA', 'SSPDATA', 'SSP-DATA', 'ssp_data', 'sspdata', 'ssp-data', 'Ssp_Data'];
const MACRO_WRAPS: ((name: string) => string)[] = [(n) => `\${${n}}`, (n) => `[${n}]`, (n) => `%%${n}%%`, (n) => `__${n}__`, (n) => `$${n}`, (n) => n, (n) => `{${n}}`];
/** percent-encoded `depth` times, as a redirect chain or a template engine may do */
const encoded = (value: string, depth: number) => Array.from({ length: depth }).reduce<string>((v) => encodeURIComponent(v), value);

const macroForms = MACRO_NAMES.flatMap((name) => MACRO_WRAPS.map((wrap) => wrap(name))).flatMap((macro) =>
  [0, 1, 2, 3, 5].map((depth) => ({ macro, depth, value: encoded(macro, depth) })),
);
const strayPercent = ['${SSP_DATA}%', '%${SSP_DATA}', '%24%7BSSP_DATA%7D%', '%%SSP_DATA%', '%2524%257BSSP_DATA%257D%25', '%%5BSSPDATA%5D%'];

describe('the macro rule (snippet/token.ts, shared by the script and the collector)', () => {
  test.each(macroForms)('$macro encoded $depth times is a macro, never a token', ({ value }) => {
    expect(isMacro(value)).toBe(true);
    expect(isToken(value)).toBe(false);
    // also once decoded as the script decodes, which is how the collector reads it from the script's URLs
    expect(isMacro(decodeValue(value))).toBe(true);
  });

  test.each(strayPercent)('with a stray percent sign: %s', (value) => {
    expect(isMacro(value)).toBe(true);
    expect(isMacro(decodeValue(value))).toBe(true);
  });

  test('an empty value is a macro (the ad server replaced it with nothing)', () => {
    expect(isMacro('')).toBe(true);
  });

  test.each([
    { name: 'a real token', value: TOKEN },
    { name: 'a real token, percent-encoded three times', value: encoded(TOKEN, 3) },
    { name: 'SSPDATA inside a token', value: 'ams1SSPDATAx.' },
    { name: 'the name with a letter around it', value: 'xSSP_DATA' },
    { name: 'the name with a digit around it', value: '${SSP_DATA2}' },
    { name: 'another macro', value: '${AUCTION_ID}' },
  ])('$name is not a macro', ({ value }) => {
    expect(isMacro(value)).toBe(false);
  });

  test('a long hostile value is decided in bounded work', () => {
    expect(isMacro('%25'.repeat(5000) + '24%7BSSP_DATA%7D')).toBe(true);
    expect(isMacro('%2525'.repeat(2000))).toBe(false);
  });
});

describe('an unreplaced macro is sent once, read by the collector as the macro, and no touch', () => {
  const forms = [
    ...MACRO_WRAPS.map((wrap) => ({ name: wrap('SSP_DATA'), value: wrap('SSP_DATA') })),
    { name: '${ssp-data}', value: '${ssp-data}' },
    { name: 'percent-encoded ${SSP_DATA}', value: '%24%7BSSP_DATA%7D' },
    { name: 'percent-encoded [SSPDATA]', value: '%5BSSPDATA%5D' },
    { name: 'double-encoded ${SSP_DATA}', value: '%2524%257BSSP_DATA%257D' },
    { name: 'triple-encoded %%SSP_DATA%%', value: encoded('%%SSP_DATA%%', 3) },
    { name: 'a stray %', value: '%24%7BSSP_DATA%7D%' },
    { name: 'empty value', value: '' },
  ];
  test.each(forms)('$name', async ({ value }) => {
    const url = `${LANDING}?a=1&sspdata=${value}`;
    const page = await openLanding({ url, attrs: { debug: '' } });
    expect(touches(page)).toEqual([]);
    // the value as the script reads it: the collector classifies it (isMacro), counts it and answers why
    const sent = diagnostics(page).map((s) => tokenOf(s.body));
    expect(sent).toEqual([decodeValue(new URL(url).search.slice(`?a=1&sspdata=`.length))]);
    expect(isMacro(sent[0]!)).toBe(true);
    expect(page.logs).toContain('[sspx] {"dropped":"unreplaced_macro"}');
  });

  test('a parameter without = counts as empty', async () => {
    const page = await openLanding({ url: `${LANDING}?sspdata` });
    expect(diagnostics(page).map((s) => tokenOf(s.body))).toEqual(['']);
  });

  test('two macro params still send a single diagnostic, the first', async () => {
    const page = await openLanding({
      url: `${LANDING}?token=[SSPDATA]#sspdata=\${SSP_DATA}`,
      attrs: { params: 'sspdata,token' },
    });
    expect(diagnostics(page).map((s) => tokenOf(s.body))).toEqual(['[SSPDATA]']);
    expect(page.sent).toHaveLength(1);
  });

  test('the diagnostic goes out once even when the page calls the script again', async () => {
    const page = await openLanding({ url: `${LANDING}?sspdata=\${SSP_DATA}`, before: 'window.sspx=function(){(sspx.q=sspx.q||[]).push(arguments)}', tags: 2 });
    page.window.sspx('cid', () => {});
    await page.flush();
    expect(diagnostics(page)).toHaveLength(1);
  });
});

describe('the URL the page was navigated to (issue 14, item 10)', () => {
  test('a "clean URL" script that removed the query first does not hide the token', async () => {
    const page = await openLanding({ url: LANDING, navigated: `${LANDING}?sspdata=${TOKEN}&utm_source=ads` });
    expect(touches(page).map((s) => [tokenOf(s.body), s.body.u])).toEqual([[TOKEN, `${LANDING}?sspdata=${TOKEN}&utm_source=ads`]]);
  });

  test('a browser without navigation timing reads the current URL: the collector takes it as the landing URL', async () => {
    const page = await openLanding({ url: `${LANDING}#sspdata=${TOKEN}`, navigated: null });
    expect(touches(page).map((s) => [s.body.u, s.body.v])).toEqual([[undefined, `${LANDING}#sspdata=${TOKEN}`]]);
    expect(touches(page).map((s) => [tokenOf(s.body), readTouch(s.body).u])).toEqual([[TOKEN, `${LANDING}#sspdata=${TOKEN}`]]);
    expect(landingOf(touches(page)[0].body).url).toBe(LANDING);
  });

  test('a router that put the token in the current URL after navigating: still found', async () => {
    const page = await openLanding({ url: `${LANDING}#/offer?sspdata=${TOKEN}`, navigated: LANDING });
    expect(touches(page).map((s) => tokenOf(s.body))).toEqual([TOKEN]);
    // the landing URL stays the one navigated to; the current one goes beside it, where the collector found the token
    expect(touches(page).map((s) => [s.body.u, s.body.v])).toEqual([[LANDING, `${LANDING}#/offer?sspdata=${TOKEN}`]]);
  });

  test('the same token in both URLs is one touch', async () => {
    const page = await openLanding({ url: `${LANDING}?sspdata=${TOKEN}` });
    expect(page.sent).toHaveLength(1);
  });
});

describe('the script sends exactly when the collector finds a value to read (touchOf and tokenValues agree)', () => {
  const urls = [
    `${LANDING}?sspdata=${TOKEN}`,
    `${LANDING}#/offer?x=1&sspdata=${TOKEN}`,
    `${LANDING}?sspdata=\${SSP_DATA}`,
    `${LANDING}?sspdata`,
    `${LANDING}?sspdata=`,
    `${LANDING}?utm_source=ads`,
    `${LANDING}?token=${TOKEN}`,
    `${LANDING}?sspdata=ams1%20AB.`,
    `${LANDING}?sspdata=ams1%E2.`,
    `${LANDING}?sspdata=${'A'.repeat(1025)}`,
    `${LANDING}?sspdata=${'A'.repeat(1024)}`,
    `${LANDING}?xsspdata=${TOKEN}&sspdata_=${TOKEN}`,
  ];
  test.each(urls)('%s', async (url) => {
    const page = await openLanding({ url });
    expect(page.sent.length).toBe(tokenValues(url + '#' + url, params()).length ? 1 : 0);
  });
});
