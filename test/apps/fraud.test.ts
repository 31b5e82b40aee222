// Guards the click-injection signals of POST /v1/app/open: a referrer click after the install began is refused
// with a named reason and binds nothing (the click stays free for its real install); a click under ten seconds
// before the open — or before the install began — binds but is flagged `possible_click_injection`, stored on the
// install for operators and answered again on every repeat. Times come from the injected clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOrderId } from '../../collector/ingest/installs.js';
import { startTestCollector, token, type TestCollector } from '../support/collector.js';
import { appOpen, installId, openOk, scriptTouch, storedInstall } from './support.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector({ pixels: { install: { id: 7001, on_install: true, sources: ['app'] } } });
});
afterAll(() => c.stop());

let n = 0;
const click = () => scriptTouch(c, { t: token(`fraud${++n}`) });
const S = 1000;

interface Case {
  name: string;
  /** ms from the click to the open */
  clickToOpen: number;
  /** the Play referrer's timestamps, relative to the click (seconds as Play gives them, or ms) */
  referrer?: { click: number; begin: number; unit: 's' | 'ms' };
  flags: Record<string, number> | null;
}

const cases: Case[] = [
  { name: 'a minute from click to open', clickToOpen: 60 * S, flags: null },
  { name: 'exactly ten seconds', clickToOpen: 10 * S, flags: null },
  { name: 'under ten seconds from click to open', clickToOpen: 4 * S, flags: { click_to_open_ms: 4 * S } },
  { name: 'click and open in the same instant', clickToOpen: 0, flags: { click_to_open_ms: 0 } },
  { name: 'referrer: install began 3 s after the click (seconds)', clickToOpen: 60 * S, referrer: { click: 0, begin: 3, unit: 's' }, flags: { click_to_install_begin_ms: 3 * S } },
  { name: 'referrer: install began 2.5 s after the click (ms)', clickToOpen: 60 * S, referrer: { click: 0, begin: 2500, unit: 'ms' }, flags: { click_to_install_begin_ms: 2500 } },
  { name: 'referrer: a normal install', clickToOpen: 5 * 60 * S, referrer: { click: 0, begin: 40, unit: 's' }, flags: null },
  { name: 'both signals', clickToOpen: 5 * S, referrer: { click: 0, begin: 1, unit: 's' }, flags: { click_to_open_ms: 5 * S, click_to_install_begin_ms: 1 * S } },
];

describe('click injection', () => {
  it.each(cases)('$name', async ({ clickToOpen, referrer, flags }) => {
    const clickedAt = c.clock.now();
    const cid = await click();
    c.clock.advance(clickToOpen);
    const id = installId();
    const ts = (offset: number, unit: 's' | 'ms') => (unit === 's' ? Math.floor(clickedAt / S) + offset : clickedAt + offset);
    const body: Record<string, unknown> = { install_id: id, referrer: `utm_source=ads&sspx_cid=${cid}` };
    if (referrer) Object.assign(body, { referrer_click_ts: ts(referrer.click, referrer.unit), install_begin_ts: ts(referrer.begin, referrer.unit) });
    const answer = await openOk(c, body);
    expect(answer).toMatchObject({ bound: true, method: 'referrer' });
    const expected = flags && { possible_click_injection: flags };
    expect(answer.flags ?? null).toEqual(expected);
    expect((await storedInstall(c, id))!.flags).toEqual(expected);
    // flagged installs still convert: the flag is for operators to judge
    expect(await c.ctx.store.listFires({ pixel_id: 7001, order_id: installOrderId(id) })).toHaveLength(1);
    c.clock.advance(60 * S);
    expect(await openOk(c, { install_id: id }), 'the flags are part of the repeated answer').toEqual(answer);
  });

  it('a click time (Play seconds) floored below the touch time is not an injection on its own', async () => {
    const clickedAt = c.clock.now();
    const cid = await click();
    c.clock.advance(90 * S);
    const answer = await openOk(c, { install_id: installId(), referrer: `sspx_cid=${cid}`, referrer_click_ts: Math.floor(clickedAt / S), install_begin_ts: Math.floor(clickedAt / S) + 30 });
    expect(answer.flags).toBeUndefined();
  });

  it.each([
    { name: 'seconds', click: 1_767_225_660, begin: 1_767_225_600 },
    { name: 'milliseconds', click: 1_767_225_600_500, begin: 1_767_225_600_000 },
  ])('a referrer click after the install began is refused ($name), binding nothing', async ({ click: clickTs, begin }) => {
    const cid = await click();
    c.clock.advance(60 * S);
    const id = installId();
    const fires = (await c.ctx.store.listFires({ pixel_id: 7001 })).length;
    const res = await appOpen(c, { install_id: id, platform: 'android', referrer: `sspx_cid=${cid}`, referrer_click_ts: clickTs, install_begin_ts: begin });
    expect(res.status, res.text).toBe(400);
    expect(res.json.error).toBe('click_after_install_begin');
    expect(await storedInstall(c, id)).toBeUndefined();
    expect((await c.ctx.store.listFires({ pixel_id: 7001 })).length, 'no install conversion').toBe(fires);
    // the click is still free for the install it really earned
    expect(await openOk(c, { install_id: installId(), referrer: `sspx_cid=${cid}` })).toMatchObject({ bound: true, method: 'referrer' });
  });

  it('zero timestamps (what Play reports when it does not know) are no evidence either way', async () => {
    const cid = await click();
    c.clock.advance(60 * S);
    const answer = await openOk(c, { install_id: installId(), referrer: `sspx_cid=${cid}`, referrer_click_ts: 0, install_begin_ts: 0 });
    expect(answer).toMatchObject({ bound: true, method: 'referrer' });
    expect(answer.flags).toBeUndefined();
  });
});
