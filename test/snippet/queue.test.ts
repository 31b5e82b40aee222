// Guards the command queue and the commands: calls queued by the stub before the script loaded are replayed
// in order, then window.sspx is the real function; convert posts the conversion (with the click id) to /c and
// hands the answer to its callback; cid yields this visit's click id, or the stored one on a later page; and
// with data-consent="pending" nothing at all leaves the page until consent, while a refusal drops it all.
import { describe, expect, test } from 'vitest';
import { conversions, diagnostics, openLanding, STUB, touches } from './harness.js';

const LANDING = 'https://shop.example/landing';
const WITH_TOKEN = `${LANDING}?sspdata=ams1AB.`;
const THANK_YOU = 'https://shop.example/thank-you';

/** a page script that queues calls and records what their callbacks receive in window.seen */
const queued = (...calls: string[]) => `${STUB}window.seen=[];${calls.join(';')}`;

describe('the queue', () => {
  test('calls made before load are replayed in order, then sspx is the real function', async () => {
    const page = await openLanding({
      url: WITH_TOKEN,
      before: queued(
        `sspx('cid', function (c) { seen.push('cid ' + c) })`,
        `sspx('convert', { pixel: 'purchase', order_id: 'A-1' }, function (a) { seen.push('convert ' + a.outcome) })`,
        `sspx('convert', { pixel: 'purchase', order_id: 'A-2' }, function (a) { seen.push('convert2 ' + a.outcome) })`,
        `seen.push('page script done')`,
      ),
    });
    expect(page.window.seen).toEqual(['page script done', 'cid cid-1', 'convert attributed', 'convert2 attributed']);
    expect(page.sent.map((s) => [s.path, s.body.order_id])).toEqual([
      ['/t', undefined],
      ['/c', 'A-1'],
      ['/c', 'A-2'],
    ]);
    expect(page.window.sspx.q).toBeUndefined();
    expect(page.window.sspx.sspx).toBe(page.window.sspx); // the mark a second copy of the tag looks for
  });

  test('without the stub, calling sspx after load works too', async () => {
    const page = await openLanding({ url: WITH_TOKEN });
    const seen: unknown[] = [];
    page.window.sspx('cid', (c: unknown) => seen.push(c));
    await page.flush();
    expect(seen).toEqual(['cid-1']);
  });

  test('an unknown command warns and breaks nothing', async () => {
    const page = await openLanding({ url: WITH_TOKEN, before: queued(`sspx('conversion', {})`) });
    expect(page.warnings).toEqual(['[sspx] conversion']);
    expect(touches(page)).toHaveLength(1);
  });
});

describe('convert', () => {
  test('posts {pixel, order_id, value, other, cid} and the callback gets the answer', async () => {
    const page = await openLanding({ url: WITH_TOKEN });
    const answers: unknown[] = [];
    page.window.sspx('convert', { pixel: 'purchase', order_id: 'A-1001', value: '49.90', other: 'blue' }, (a: unknown) => answers.push(a));
    await page.flush();
    const [conversion] = conversions(page);
    expect(conversion.url).toBe('https://collect.example/c');
    expect(conversion.body).toEqual({ pixel: 'purchase', order_id: 'A-1001', value: '49.90', other: 'blue', cid: 'cid-1' });
    expect(conversion.init).toMatchObject({ method: 'POST', credentials: 'include' });
    expect(new Request(conversion.url, conversion.init).keepalive).toBe(true); // the script's 1, as the browser reads it
    expect(answers).toEqual([{ outcome: 'attributed', conversion_id: 'conv-1', fire_id: 'fire-1' }]);
  });

  test('on a thank-you page without a token it carries the stored click id', async () => {
    const page = await openLanding({ url: THANK_YOU, storage: { sspx_cid: 'stored-cid' }, before: queued(`sspx('convert', { pixel: 59633 })`) });
    expect(page.sent.map((s) => s.body)).toEqual([{ pixel: 59633, cid: 'stored-cid' }]);
  });

  test('with nothing stored, no cid key (the collector binds through the sspx_vid cookie)', async () => {
    const page = await openLanding({ url: THANK_YOU, before: queued(`sspx('convert', { pixel: 'purchase' })`) });
    expect(page.sent.map((s) => s.body)).toEqual([{ pixel: 'purchase' }]);
  });

  test('a failed request gives the callback an {error} object', async () => {
    const page = await openLanding({ url: THANK_YOU, transport: 'fetch-rejects' });
    const answers: any[] = [];
    page.window.sspx('convert', { pixel: 'purchase' }, (a: unknown) => answers.push(a));
    await page.flush();
    expect(answers).toEqual([{ error: 'TypeError: Failed to fetch' }]);
  });

  test('a body that cannot be serialised gives the callback an {error}, not an exception', async () => {
    const page = await openLanding({ url: THANK_YOU });
    const answers: any[] = [];
    const cyclic: any = { pixel: 'purchase' };
    cyclic.other = cyclic;
    page.window.sspx('convert', cyclic, (a: unknown) => answers.push(a));
    await page.flush();
    expect(answers).toHaveLength(1);
    expect(answers[0].error).toMatch(/TypeError/);
    expect(page.errors).toEqual([]);
  });
});

describe('cid', () => {
  test('this visit: the id from the /t answer, also stored for later pages', async () => {
    const page = await openLanding({ url: WITH_TOKEN, storage: { sspx_cid: 'old-cid' } });
    const seen: unknown[] = [];
    page.window.sspx('cid', (c: unknown) => seen.push(c));
    await page.flush();
    expect(seen).toEqual(['cid-1']);
    expect(page.window.localStorage.getItem('sspx_cid')).toBe('cid-1');
  });

  test('a later page without a token: the stored id', async () => {
    const page = await openLanding({ url: THANK_YOU, storage: { sspx_cid: 'stored-cid' }, before: queued(`sspx('cid', function (c) { seen.push(c) })`) });
    expect(page.window.seen).toEqual(['stored-cid']);
    expect(page.sent).toEqual([]);
  });

  test('nothing known: undefined', async () => {
    const page = await openLanding({ url: THANK_YOU, before: queued(`sspx('cid', function (c) { seen.push(c) })`) });
    expect(page.window.seen).toEqual([undefined]);
  });

  test('storage that throws is survived: the touch and this visit\'s id still work', async () => {
    const page = await openLanding({ url: WITH_TOKEN, storage: 'throws', before: queued(`sspx('cid', function (c) { seen.push(c) })`) });
    expect(page.window.seen).toEqual(['cid-1']);
    expect(page.errors).toEqual([]);
  });

  test('storage that throws on a page without a token: undefined', async () => {
    const page = await openLanding({ url: THANK_YOU, storage: 'throws', before: queued(`sspx('cid', function (c) { seen.push(c) })`) });
    expect(page.window.seen).toEqual([undefined]);
  });

  test('the macro diagnostic answers a drop, no id: the stored one stays', async () => {
    const page = await openLanding({
      url: `${LANDING}?sspdata=\${SSP_DATA}`,
      storage: { sspx_cid: 'stored-cid' },
      before: queued(`sspx('cid', function (c) { seen.push(c) })`),
    });
    expect(diagnostics(page)).toHaveLength(1);
    expect(page.window.seen).toEqual(['stored-cid']);
  });
});

describe('consent', () => {
  test('pending: nothing is sent, not even the diagnostic or a conversion, until consent', async () => {
    const page = await openLanding({
      url: WITH_TOKEN,
      attrs: { consent: 'pending', debug: '' },
      before: queued(`sspx('convert', { pixel: 'purchase' })`, `sspx('cid', function (c) { seen.push(c) })`),
    });
    expect(page.sent).toEqual([]);
    expect(page.window.seen).toEqual([]);
    expect(page.logs).toContain('[sspx] pending');
    page.window.sspx('consent', true);
    await page.flush();
    expect(page.sent.map((s) => [s.path, s.body.cid])).toEqual([
      ['/t', undefined],
      ['/c', 'cid-1'],
    ]);
    expect(page.window.seen).toEqual(['cid-1']);
  });

  test('pending holds the macro diagnostic too', async () => {
    const page = await openLanding({ url: `${LANDING}?sspdata=[SSPDATA]`, attrs: { consent: 'pending' } });
    expect(page.sent).toEqual([]);
    page.window.sspx('consent', true);
    await page.flush();
    expect(diagnostics(page)).toHaveLength(1);
  });

  test('consent queued before the script loaded is honoured in order', async () => {
    const page = await openLanding({
      url: WITH_TOKEN,
      attrs: { consent: 'pending' },
      before: queued(`sspx('consent', true)`, `sspx('convert', { pixel: 'purchase' })`),
    });
    expect(page.sent.map((s) => s.path)).toEqual(['/t', '/c']);
  });

  test('refused: what was held is dropped and nothing further is sent', async () => {
    const page = await openLanding({
      url: WITH_TOKEN,
      attrs: { consent: 'pending' },
      before: queued(`sspx('convert', { pixel: 'purchase' })`),
    });
    page.window.sspx('consent', false);
    page.window.sspx('convert', { pixel: 'purchase', order_id: 'later' });
    await page.flush();
    expect(page.sent).toEqual([]);
    expect(page.window.localStorage.getItem('sspx_cid')).toBeNull();
  });

  test('refused after a default grant: later conversions are not sent', async () => {
    const page = await openLanding({ url: WITH_TOKEN });
    page.window.sspx('consent', false);
    page.window.sspx('convert', { pixel: 'purchase' });
    await page.flush();
    expect(page.sent.map((s) => s.path)).toEqual(['/t']);
  });

  test('only a literal true grants', async () => {
    const page = await openLanding({ url: WITH_TOKEN, attrs: { consent: 'pending' } });
    page.window.sspx('consent', 'yes');
    page.window.sspx('consent', 1);
    await page.flush();
    expect(page.sent).toEqual([]);
  });
});
