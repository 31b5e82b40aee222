// Guards install binding when several collector processes share one PostgreSQL store: installs racing for one
// click through different processes (first opens and later binds of unbound installs alike) — exactly one binds,
// the others get 409, one install conversion; one install opening through both answers the same; and the daily
// hint salt is the same in every process, so a click seen by one matches an open seen by another.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import { installOrderId } from '../../collector/ingest/installs.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import { startTestCollector, token, type TestCollector } from '../support/collector.js';
import { describePg } from '../support/pg.js';
import { appOpen, installId, IPHONE_UA, later, openOk, scriptTouch } from './support.js';

const INSTALL_PIXEL = 7300;

describePg('installs on a shared PostgreSQL store', (pg) => {
  let a: TestCollector;
  let b: TestCollector;
  beforeAll(async () => {
    const schema = pg.newSchema();
    const clock = new ManualClock(Date.now());
    const config = { hint_matching: true, trust_proxy: 1, pixels: { install: { id: INSTALL_PIXEL, on_install: true } } };
    a = await startTestCollector(config, { clock, store: new PostgresStore(pg.url, { schema, poolSize: 4 }) });
    b = await startTestCollector(config, { clock, store: new PostgresStore(pg.url, { schema, poolSize: 4 }) });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  let n = 0;
  const click = async () => {
    const cid = await scriptTouch(a, { t: token(`pg${++n}`) });
    later(a);
    return cid;
  };
  const installFires = async (id: string) => (await a.ctx.store.listFires({ pixel_id: INSTALL_PIXEL, order_id: installOrderId(id) })).length;

  it('new installs racing through two processes for one click: one binds, the rest 409', async () => {
    const cid = await click();
    const ids = Array.from({ length: 6 }, installId);
    const results = await Promise.all(ids.map((id, i) => appOpen(i % 2 ? a : b, { install_id: id, platform: 'android', referrer: `sspx_cid%3D${cid}` })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409).every((r) => r.json.error === 'cid_already_bound')).toBe(true);
    const winner = results.find((r) => r.status === 200)!.json.install_id;
    expect(await Promise.all(ids.map(installFires))).toEqual(ids.map((id) => (id === winner ? 1 : 0)));
  });

  it('unbound installs racing to bind one click later: one binds, the rest 409 and stay unbound', async () => {
    const ids = Array.from({ length: 4 }, installId);
    for (const id of ids) expect((await openOk(a, { install_id: id })).bound).toBe(false);
    const cid = await click();
    const results = await Promise.all(ids.map((id, i) => appOpen(i % 2 ? a : b, { install_id: id, platform: 'ios', cid })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
    const losers = ids.filter((_, i) => results[i].status === 409);
    for (const id of losers) expect(await openOk(b, { install_id: id })).toMatchObject({ bound: false, method: null });
  });

  it('one install opening through both processes at once: one answer, one install conversion', async () => {
    const cid = await click();
    const id = installId();
    const results = await Promise.all([a, b, a, b].map((c) => appOpen(c, { install_id: id, platform: 'ios', cid })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const r of results) expect(r.json).toEqual(results[0].json);
    expect(results[0].json).toMatchObject({ bound: true, method: 'deep_link' });
    expect(await installFires(id)).toBe(1);
  });

  it('a click hinted in one process matches an open in the other (one salt for all)', async () => {
    const cid = await scriptTouch(a, { t: token(`pg-hint${++n}`), ua: IPHONE_UA, l: 'en-US', ip: '198.18.7.7' });
    later(a);
    const answer = await openOk(b, { install_id: installId(), platform: 'ios', os_version: '17.4', language: 'en-US' }, { 'x-forwarded-for': '198.18.7.200' });
    expect(answer).toMatchObject({ bound: true, method: 'hint', confidence: 0.6, touch: { cid } });
  });
});
