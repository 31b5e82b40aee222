// Guards how POST /v1/app/open binds an install to its touch: each deterministic method (deep-link click id, the
// Play install referrer in every form the store hands it over, the raw token, the advertising id), the order
// between them, the named refusals, that one click binds one install (409 for the next, also under a race), and
// that an install asking again — with any body — gets the same answer, while an unbound one may bind later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installOrderId, readReferrer } from '../../collector/ingest/installs.js';
import { BIND_CONFIDENCE, type BindMethod } from '../../collector/vocabulary.js';
import { bearer, SERVER_KEY, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { appOpen, idfa, impression, installId, later, openOk, scriptTouch, storedInstall } from './support.js';

let c: TestCollector;
/** a second token param, so the referrer is read under every configured name */
const TOKEN_PARAMS = ['sspdata', 'ad_token'];
beforeAll(async () => {
  c = await startTestCollector({ token_params: TOKEN_PARAMS });
});
afterAll(() => c.stop());

let n = 0;
const fresh = () => token(`bind${++n}`);

/** what a case starts from: a click by the script (with its idfa) and, optionally, a view from an impression tracker */
interface Evidence {
  cid: string;
  token: string;
  idfa: string;
  viewToken: string;
  viewIdfa: string;
}

async function evidence(): Promise<Evidence> {
  const e = { token: fresh(), idfa: idfa(), viewToken: fresh(), viewIdfa: idfa() } as Evidence;
  e.cid = await scriptTouch(c, { t: e.token, ids: { idfa: e.idfa } });
  await impression(c, e.viewToken, { idfa: e.viewIdfa });
  later(c);
  return e;
}

interface Case {
  name: string;
  body: (e: Evidence) => Record<string, unknown>;
  method: string | null;
  /** which touch must be bound: the script's click, the impression's view, or one the open recorded itself */
  touch?: 'click' | 'view' | 'recorded';
}

const cases: Case[] = [
  // deep links (iOS Universal Links, Android App Links) carry sspx_cid
  { name: 'deep link click id', body: (e) => ({ platform: 'ios', cid: e.cid }), method: 'deep_link', touch: 'click' },
  // the Play install referrer, in the forms the Play Store hands it over
  { name: 'referrer: sspx_cid=X', body: (e) => ({ referrer: `sspx_cid=${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: URL-encoded sspx_cid%3DX', body: (e) => ({ referrer: `sspx_cid%3D${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: among other params', body: (e) => ({ referrer: `utm_source=google&sspx_cid=${e.cid}&utm_medium=cpc` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: among other params, URL-encoded', body: (e) => ({ referrer: `utm_source%3Dgoogle%26sspx_cid%3D${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: double-encoded', body: (e) => ({ referrer: `utm_source%253Dgoogle%2526sspx_cid%253D${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: the whole Play URL', body: (e) => ({ referrer: `https://play.google.com/store/apps/details?id=com.shop&referrer=utm_source%3Dads%26sspx_cid%3D${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: organic install', body: () => ({ referrer: 'utm_source=google-play&utm_medium=organic' }), method: null },
  { name: 'referrer: a click id nobody minted', body: () => ({ referrer: 'sspx_cid=AAAAAAAAAAAAAAAAAAAAAA' }), method: null },
  // the Play referrer carrying the token itself (an in-app ad linking straight to Play with referrer=sspdata%3D${SSP_DATA})
  { name: 'referrer: the token of a recorded touch', body: (e) => ({ referrer: `utm_source=ads&sspdata=${e.token}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: a token no touch was recorded for, encoded', body: () => ({ referrer: `sspdata%3D${encodeURIComponent(fresh())}` }), method: 'referrer', touch: 'recorded' },
  { name: 'referrer: a token under another token param, in the whole Play URL', body: (e) => ({ referrer: `https://play.google.com/store/apps/details?id=com.shop&referrer=utm_source%3Dads%26ad_token%3D${encodeURIComponent(e.token)}` }), method: 'referrer', touch: 'click' },
  { name: 'referrer: a token under a name not in token_params', body: (e) => ({ referrer: `other=${e.token}` }), method: null },
  { name: 'referrer: an unreplaced macro', body: () => ({ referrer: 'utm_source=ads&sspdata=%24%7BSSP_DATA%7D' }), method: null },
  // the raw token, when the app's own deep link carried ${SSP_DATA}
  { name: 'token of a recorded touch', body: (e) => ({ token: e.token }), method: 'token', touch: 'click' },
  { name: 'token no touch was recorded for', body: () => ({ token: fresh() }), method: 'token', touch: 'recorded' },
  // advertising ids from the landing URL (click) or an impression tracker (view: post-view for apps)
  { name: 'idfa from the landing URL', body: (e) => ({ platform: 'ios', device_id: e.idfa }), method: 'device_id', touch: 'click' },
  { name: 'idfa from an impression tracker', body: (e) => ({ platform: 'ios', device_id: e.viewIdfa }), method: 'device_id', touch: 'view' },
  { name: 'idfa in upper case', body: (e) => ({ platform: 'ios', device_id: e.idfa.toUpperCase() }), method: 'device_id', touch: 'click' },
  { name: 'zeroed idfa (limited ad tracking) is no id', body: () => ({ platform: 'ios', device_id: '00000000-0000-0000-0000-000000000000' }), method: null },
  // order: deep link, referrer, token, device id
  { name: 'deep link before referrer', body: (e) => ({ cid: e.cid, referrer: 'sspx_cid=AAAAAAAAAAAAAAAAAAAAAA' }), method: 'deep_link', touch: 'click' },
  { name: 'an unknown deep link falls through to the referrer', body: (e) => ({ cid: 'AAAAAAAAAAAAAAAAAAAAAA', referrer: `sspx_cid=${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: 'token before device id', body: (e) => ({ token: e.token, device_id: e.viewIdfa }), method: 'token', touch: 'click' },
  { name: "the referrer's click id before its token", body: (e) => ({ referrer: `sspdata=${fresh()}&sspx_cid=${e.cid}` }), method: 'referrer', touch: 'click' },
  { name: "the token field before the referrer's token", body: (e) => ({ token: e.token, referrer: `sspdata=${fresh()}` }), method: 'token', touch: 'click' },
  { name: "the referrer's token before the device id", body: (e) => ({ referrer: `sspdata=${e.token}`, device_id: e.viewIdfa }), method: 'referrer', touch: 'click' },
  { name: 'nothing at all', body: () => ({}), method: null },
];

describe('binding', () => {
  it.each(cases)('$name', async ({ body, method, touch }) => {
    const e = await evidence();
    const id = installId();
    const answer = await openOk(c, { install_id: id, ...body(e) });
    expect(answer.install_id).toBe(id);
    expect(answer.method).toBe(method);
    expect(answer.bound).toBe(method !== null);
    const stored = await storedInstall(c, id);
    expect(stored, 'every open is stored, bound or not').toBeDefined();
    expect(stored!.method).toBe(method);
    if (!method) {
      expect(answer.touch).toBeNull();
      expect(stored!.touch_id).toBeNull();
      return;
    }
    expect(answer.flags, 'a minute from click to open is no injection').toBeUndefined();
    expect(answer.confidence, 'every binding says how far it is trusted').toBe(BIND_CONFIDENCE[method as BindMethod]);
    expect(stored!.touch_id).toBe(answer.touch!.touch_id);
    const bound = (await c.ctx.store.transaction((tx) => tx.touchById(answer.touch!.touch_id)))!;
    expect(answer.touch).toEqual({ touch_id: bound.id, cid: bound.cid, kind: bound.kind, occurred_at: bound.occurred_at });
    if (touch === 'click') expect(bound.cid).toBe(e.cid);
    if (touch === 'view') expect([bound.kind, bound.token]).toEqual(['view', e.viewToken]);
    if (touch === 'recorded') expect([bound.kind, bound.source]).toEqual(['click', 'app']);
  });
});

describe('the referrer reader: the click id and the token, one parser', () => {
  const cid = 'Zm9vYmFyYmF6cXV4MTIzNA';
  // a token with a `+` (a token byte, never a space) and the trailing period
  const T = 'ams1AAAAAAAAkQC8rFPu+lI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';
  const enc = encodeURIComponent;
  it.each([
    [`sspx_cid=${cid}`, cid, null],
    [`sspx_cid%3D${cid}`, cid, null],
    [`sspx_cid%253D${cid}`, cid, null],
    [`sspx_cid%25253D${cid}`, cid, null],
    [`utm_source=a+b&sspx_cid=${cid}`, cid, null],
    [`?sspx_cid=${cid}&x=1`, cid, null],
    [`xsspx_cid=${cid}`, null, null],
    ['sspx_cid=short', null, null],
    ['utm_source=google-play&utm_medium=organic', null, null],
    ['%E0%A4%A', null, null],
    ['', null, null],
    [`sspdata=${T}`, null, T],
    [`utm_source=ads&sspdata=${T}&utm_medium=cpc`, null, T],
    [`sspdata=${enc(T)}`, null, T],
    [`sspdata%3D${enc(T)}`, null, T],
    [`utm_source%3Dads%26sspdata%3D${enc(T)}`, null, T],
    [`sspdata%253D${enc(enc(T))}`, null, T],
    [`utm_source%253Dads%2526sspdata%253D${enc(enc(T))}`, null, T],
    [`https://play.google.com/store/apps/details?id=com.shop&referrer=utm_source%3Dads%26sspdata%3D${enc(T)}`, null, T],
    [`ad_token=${T}`, null, T],
    [`sspdata=${T}&sspx_cid=${cid}`, cid, T],
    [`other=${T}`, null, null],
    [`xsspdata=${T}`, null, null],
    ['sspdata=', null, null],
    ['sspdata=${SSP_DATA}', null, null],
    ['sspdata%3D%2524%257BSSP_DATA%257D', null, null],
    ['sspdata=a"b', null, null],
  ])('%s → cid %s, token %s', (referrer, expectedCid, expectedToken) => {
    const read = readReferrer(referrer, TOKEN_PARAMS);
    expect([read.cid, read.token]).toEqual([expectedCid, expectedToken]);
  });

  it('an unreplaced macro in a token param is reported, to be counted', () => {
    expect(readReferrer('utm_source=ads&sspdata=%24%7BSSP_DATA%7D', TOKEN_PARAMS).macro).toBe(true);
    expect(readReferrer(`sspdata=${T}`, TOKEN_PARAMS).macro).toBe(false);
  });
});

describe('one click binds one install', () => {
  it('a second install claiming a bound click id gets 409 and nothing is stored for it', async () => {
    const e = await evidence();
    const first = await openOk(c, { install_id: installId(), cid: e.cid });
    expect(first.method).toBe('deep_link');
    for (const body of [{ cid: e.cid }, { referrer: `sspx_cid%3D${e.cid}` }, { token: e.token }, { referrer: `sspdata%3D${e.token}` }]) {
      const other = installId();
      const res = await appOpen(c, { install_id: other, platform: 'android', ...body });
      expect(res.status, JSON.stringify(body)).toBe(409);
      expect(res.json.error).toBe('cid_already_bound');
      expect(await storedInstall(c, other)).toBeUndefined();
    }
  });

  it('two installs racing for one click id: exactly one binds, the other gets 409', async () => {
    const e = await evidence();
    const ids = [installId(), installId(), installId(), installId()];
    const results = await Promise.all(ids.map((id) => appOpen(c, { install_id: id, platform: 'android', referrer: `sspx_cid=${e.cid}` })));
    const won = results.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    expect(won[0].json).toMatchObject({ bound: true, method: 'referrer' });
    expect(results.filter((r) => r.status === 409).map((r) => r.json.error)).toEqual(['cid_already_bound', 'cid_already_bound', 'cid_already_bound']);
    const owner = await c.ctx.store.transaction(async (tx) => tx.installByTouch((await tx.touchByCid(e.cid))!.id));
    expect(owner!.install_id).toBe(won[0].json.install_id);
  });

  it('the same install opening many times at once gets one answer', async () => {
    const e = await evidence();
    const id = installId();
    const results = await Promise.all([0, 1, 2, 3].map(() => appOpen(c, { install_id: id, platform: 'android', cid: e.cid })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const r of results) expect(r.json).toEqual(results[0].json);
  });
});

describe('asking again', () => {
  it('a bound install keeps its binding, whatever the body says now (a deep link adds a re-engagement: reengagement.test.ts)', async () => {
    const [a, b] = [await evidence(), await evidence()];
    const id = installId();
    const first = await openOk(c, { install_id: id, cid: a.cid });
    later(c);
    for (const body of [{ cid: a.cid }, { token: a.token }, { referrer: `sspx_cid=${b.cid}` }, { referrer: `sspdata=${b.token}` }, { device_id: b.idfa }, {}, { referrer_click_ts: 200, install_begin_ts: 100 }]) {
      expect(await openOk(c, { install_id: id, ...body }), JSON.stringify(body)).toEqual(first);
    }
    for (const body of [{ cid: b.cid }, { token: b.token }]) {
      const { reengagement, ...binding } = await openOk(c, { install_id: id, ...body });
      expect(binding, JSON.stringify(body)).toEqual(first);
      expect(reengagement, JSON.stringify(body)).toMatchObject({ kind: 'click' });
    }
    // b's click was not taken by those opens: a re-engagement is no binding
    expect((await openOk(c, { install_id: installId(), cid: b.cid })).bound).toBe(true);
  });

  it('an unbound install stays unbound until an open brings evidence, then binds', async () => {
    const e = await evidence();
    const id = installId();
    const unbound = { install_id: id, bound: false, method: null, touch: null };
    expect(await openOk(c, { install_id: id, platform: 'ios' })).toEqual(unbound);
    expect(await openOk(c, { install_id: id, platform: 'ios' })).toEqual(unbound);
    later(c);
    const bound = await openOk(c, { install_id: id, platform: 'ios', device_id: e.idfa });
    expect(bound).toMatchObject({ bound: true, method: 'device_id', touch: { cid: e.cid } });
    expect(await openOk(c, { install_id: id, platform: 'ios' })).toEqual(bound);
    const stored = await storedInstall(c, id);
    expect(stored).toMatchObject({ platform: 'ios', method: 'device_id', device_id: e.idfa.toLowerCase() });
    expect(stored!.bound_at).toBeGreaterThan(stored!.created_at);
  });

  it('a device id an unbound install reports later is kept for its conversions', async () => {
    const id = installId();
    const late = idfa();
    await openOk(c, { install_id: id, platform: 'ios' });
    expect((await openOk(c, { install_id: id, platform: 'ios', device_id: late })).bound).toBe(false);
    expect((await storedInstall(c, id))!.device_id).toBe(late.toLowerCase());
  });

  it('a reinstall on a device whose touch is bound stays unbound (no 409: an advertising id is not a click claim)', async () => {
    const e = await evidence();
    expect((await openOk(c, { install_id: installId(), device_id: e.idfa })).method).toBe('device_id');
    expect(await openOk(c, { install_id: installId(), device_id: e.idfa })).toMatchObject({ bound: false, method: null });
  });
});

describe('refusals', () => {
  const good = { install_id: 'install-1', platform: 'android' };
  it.each([
    { name: 'no key', body: good, headers: { authorization: '' }, status: 401, error: 'missing_key' },
    { name: 'a server key', body: good, headers: bearer(SERVER_KEY), status: 401, error: 'invalid_key' },
    { name: 'not JSON', body: '{"install_id":', status: 400, error: 'malformed_json' },
    { name: 'an array', body: '[]', status: 400, error: 'malformed_json' },
    { name: 'no install_id', body: { platform: 'ios' }, status: 400, error: 'invalid_install_id' },
    { name: 'install_id with spaces', body: { ...good, install_id: 'a b' }, status: 400, error: 'invalid_install_id' },
    { name: 'install_id too long', body: { ...good, install_id: 'x'.repeat(129) }, status: 400, error: 'invalid_install_id' },
    { name: 'no platform', body: { install_id: 'x' }, status: 400, error: 'invalid_platform' },
    { name: 'platform with spaces', body: { ...good, platform: 'i os' }, status: 400, error: 'invalid_platform' },
    { name: 'an unknown field', body: { ...good, screen: '390x844' }, status: 400, error: 'unknown_field' },
    { name: 'a malformed cid', body: { ...good, cid: 'short' }, status: 400, error: 'invalid_cid' },
    { name: 'a cid that is a number', body: { ...good, cid: 12 }, status: 400, error: 'invalid_cid' },
    { name: 'an unreplaced macro token', body: { ...good, token: '${SSP_DATA}' }, status: 400, error: 'unreplaced_macro' },
    { name: 'an encoded macro token', body: { ...good, token: '%24%7BSSP_DATA%7D' }, status: 400, error: 'unreplaced_macro' },
    { name: 'a token with a space', body: { ...good, token: 'abc def' }, status: 400, error: 'invalid_token' },
    { name: 'a device id with a slash', body: { ...good, device_id: 'a/b' }, status: 400, error: 'invalid_device_id' },
    { name: 'a referrer too long', body: { ...good, referrer: 'x'.repeat(4097) }, status: 400, error: 'invalid_referrer' },
    { name: 'a negative click time', body: { ...good, referrer_click_ts: -1 }, status: 400, error: 'invalid_referrer_click_ts' },
    { name: 'an install begin as text', body: { ...good, install_begin_ts: 'yesterday' }, status: 400, error: 'invalid_install_begin_ts' },
  ])('$name → $status $error', async ({ body, headers, status, error }) => {
    const res = await appOpen(c, body, headers ?? {});
    expect(res.status, res.text).toBe(status);
    expect(res.json.error).toBe(error);
    expect(res.json.message).toEqual(expect.any(String));
  });

  it('nulls stand for absent fields (what many JSON encoders send)', async () => {
    const answer = await openOk(c, { install_id: installId(), cid: null, referrer: null, token: null, device_id: null, referrer_click_ts: null, install_begin_ts: null });
    expect(answer.bound).toBe(false);
  });

  it('an unreplaced macro is counted as a diagnostic', async () => {
    await c.touches.drain();
    const day = new Date(c.clock.now()).toISOString().slice(0, 10);
    const before = (await c.ctx.store.diagnostics(day, day)).find((d) => d.site === 'app')?.count ?? 0;
    await appOpen(c, { install_id: installId(), platform: 'ios', token: '[SSPDATA]' });
    await c.touches.drain();
    const after = (await c.ctx.store.diagnostics(day, day)).find((d) => d.site === 'app')?.count ?? 0;
    expect(after).toBe(before + 1);
  });
});

describe('install order ids', () => {
  it.each([
    ['short', 'install-short'],
    ['0f3c2a1e-7b4d-4c8a', 'install-0f3c2a1e-7b4d-4c8a'],
  ])('%s → %s', (id, order) => expect(installOrderId(id)).toBe(order));
  it('ids that do not fit become a digest: valid, stable, distinct', () => {
    const a = installOrderId('0f3c2a1e-7b4d-4c8a-9e21-000000000001');
    const b = installOrderId('0f3c2a1e-7b4d-4c8a-9e21-000000000002');
    const colon = installOrderId('app:1');
    for (const o of [a, b, colon]) expect(o).toMatch(/^install-[A-Za-z0-9]{1,28}$/);
    expect(a).not.toBe(b);
    expect(installOrderId('0f3c2a1e-7b4d-4c8a-9e21-000000000001')).toBe(a);
  });
});
