// Guards device-hint matching of installs: off by default (nothing binds by hints, no keys are stored); on, an
// open binds `method: "hint"` with a confidence only when exactly one unbound click in the window shares the
// address prefix (/24, /48), OS major version and language — never two, never outside the window, never over a
// deterministic binding — the key is a daily-salted hash (never the raw address), and keys older than a day are
// cleared by the function the retention job calls.
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY, MINUTE } from '../../collector/clock.js';
import { clearExpiredHints, hintKey, osFromUserAgent } from '../../collector/ingest/hints.js';
import { startTestCollector, token, type TestCollector } from '../support/collector.js';
import { ANDROID_UA, IPHONE_UA, installId, openOk, REDUCED_ANDROID_UA, scriptTouch, storedInstall, touchByCid } from './support.js';

let c: TestCollector;
beforeAll(async () => {
  c = await startTestCollector({ hint_matching: true, trust_proxy: 1 });
});
afterAll(() => c.stop());

let n = 0;
/** a network of its own for every case: 198.51.<n>.0/24 */
const network = () => `198.51.${++n}`;

interface TouchSpec {
  ua?: string;
  l?: string;
  pf?: string;
  /** host part, or a whole address */
  ip?: string;
}
interface OpenSpec {
  platform?: string;
  os_version?: string;
  language?: string;
  headers?: Record<string, string>;
  ip?: string;
}
interface Case {
  name: string;
  touches: TouchSpec[];
  open: OpenSpec;
  /** ms between the last touch and the open */
  after?: number;
  /** index of the touch that must be bound, or null */
  binds: number | null;
}

const ios: TouchSpec = { ua: IPHONE_UA, l: 'en-US' };
const iosApp: OpenSpec = { platform: 'ios', os_version: '17.2', language: 'en-US' };
const android: TouchSpec = { ua: ANDROID_UA, l: 'de-DE', pf: 'Android' };
const androidApp: OpenSpec = { platform: 'android', os_version: '14', language: 'de-DE' };

const cases: Case[] = [
  { name: 'one candidate (iOS)', touches: [ios], open: iosApp, binds: 0 },
  { name: 'one candidate (Android)', touches: [android], open: androidApp, binds: 0 },
  { name: 'two candidates: no guess', touches: [ios, ios], open: iosApp, binds: null },
  { name: 'another /24', touches: [ios], open: { ...iosApp, ip: '203.0.113.9' }, binds: null },
  { name: 'another OS major version', touches: [ios], open: { ...iosApp, os_version: '16.7.2' }, binds: null },
  { name: 'another OS', touches: [ios], open: { ...iosApp, platform: 'android' }, binds: null },
  { name: 'another language', touches: [ios], open: { ...iosApp, language: 'fr-FR' }, binds: null },
  { name: 'language spelled en_us', touches: [ios], open: { ...iosApp, language: 'en_us' }, binds: 0 },
  { name: 'language from Accept-Language', touches: [ios], open: { platform: 'ios', os_version: '17', headers: { 'accept-language': 'en-US,en;q=0.9' } }, binds: 0 },
  { name: 'OS from the app User-Agent', touches: [ios], open: { platform: 'ios', language: 'en-US', headers: { 'user-agent': 'Shop/3.1 (iPhone; iOS 17.1.1; Scale/3.00)' } }, binds: 0 },
  { name: 'no OS version at all', touches: [ios], open: { platform: 'ios', language: 'en-US' }, binds: null },
  { name: 'inside the window (119 min)', touches: [ios], open: iosApp, after: 119 * MINUTE, binds: 0 },
  { name: 'outside the window (121 min)', touches: [ios], open: iosApp, after: 121 * MINUTE, binds: null },
  { name: 'reduced Chrome User-Agent (Android 10; K) gives no key', touches: [{ ...android, ua: REDUCED_ANDROID_UA }], open: { ...androidApp, os_version: '10' }, binds: null },
  { name: 'platform hint disagreeing with the User-Agent gives no key', touches: [{ ...ios, pf: 'Windows' }], open: iosApp, binds: null },
  { name: 'IPv6: the same /48', touches: [{ ...ios, ip: '2001:db8:ab{n}:1::10' }], open: { ...iosApp, ip: '2001:db8:ab{n}:ff00::2' }, binds: 0 },
  { name: 'IPv6: another /48', touches: [{ ...ios, ip: '2001:db8:ab{n}:1::10' }], open: { ...iosApp, ip: '2001:db8:ac{n}:1::10' }, binds: null },
];

const address = (net: string, spec: string | undefined, host: number) =>
  spec === undefined ? `${net}.${host}` : spec.replace('{n}', String(n % 10));

describe('hint matching on', () => {
  it.each(cases)('$name', async ({ touches, open, after, binds }) => {
    const net = network();
    const cids: string[] = [];
    for (const [i, t] of touches.entries()) {
      cids.push(await scriptTouch(c, { t: token(`hint${n}-${i}`), ua: t.ua, l: t.l, pf: t.pf, ip: address(net, t.ip, 7 + i) }));
      c.clock.advance(1000);
    }
    c.clock.advance(after ?? 30 * 1000);
    const id = installId();
    const { headers, ip, ...body } = open;
    const answer = await openOk(c, { install_id: id, ...body }, { 'x-forwarded-for': address(net, ip, 200), ...headers });
    if (binds === null) {
      expect(answer).toEqual({ install_id: id, bound: false, method: null, touch: null });
      return;
    }
    expect(answer).toMatchObject({ bound: true, method: 'hint', confidence: 0.6, touch: { cid: cids[binds] } });
    expect(await storedInstall(c, id)).toMatchObject({ method: 'hint', confidence: 0.6, touch_id: answer.touch!.touch_id });
  });

  it('a click bound deterministically is no candidate: hints never override', async () => {
    const net = network();
    const cid = await scriptTouch(c, { t: token(`det${n}`), ...ios, ip: `${net}.7` });
    c.clock.advance(30_000);
    expect((await openOk(c, { install_id: installId(), platform: 'ios', cid })).method).toBe('deep_link');
    const answer = await openOk(c, { install_id: installId(), ...iosApp }, { 'x-forwarded-for': `${net}.8` });
    expect(answer.bound).toBe(false);
  });

  it('deterministic evidence wins over a hint match, and leaves the hinted click free', async () => {
    const net = network();
    const hinted = await scriptTouch(c, { t: token(`hinted${n}`), ...ios, ip: `${net}.7` });
    const linked = await scriptTouch(c, { t: token(`linked${n}`), ...ios, ip: '192.0.2.1' });
    c.clock.advance(30_000);
    const answer = await openOk(c, { install_id: installId(), ...iosApp, cid: linked }, { 'x-forwarded-for': `${net}.8` });
    expect(answer).toMatchObject({ method: 'deep_link', touch: { cid: linked } });
    expect(answer.confidence, 'a deterministic binding is fully trusted').toBe(1);
    const other = await openOk(c, { install_id: installId(), ...iosApp }, { 'x-forwarded-for': `${net}.9` });
    expect(other).toMatchObject({ method: 'hint', touch: { cid: hinted } });
  });

  it('a hinted install keeps its binding when asked again, even with a click id now (that click re-engages it)', async () => {
    const net = network();
    await scriptTouch(c, { t: token(`again${n}`), ...ios, ip: `${net}.7` });
    const other = await scriptTouch(c, { t: token(`again-other${n}`), ...ios, ip: '192.0.2.2' });
    c.clock.advance(30_000);
    const id = installId();
    const first = await openOk(c, { install_id: id, ...iosApp }, { 'x-forwarded-for': `${net}.8` });
    expect(first.method).toBe('hint');
    c.clock.advance(30_000);
    const { reengagement, ...binding } = await openOk(c, { install_id: id, platform: 'ios', cid: other });
    expect(binding).toEqual(first);
    expect(reengagement).toMatchObject({ method: 'deep_link', kind: 'click' });
  });

  it('a window across UTC midnight matches the key of the day before', async () => {
    const net = network();
    const midnight = Math.ceil(c.clock.now() / DAY) * DAY;
    c.clock.set(midnight - 20 * MINUTE);
    const cid = await scriptTouch(c, { t: token(`midnight${n}`), ...ios, ip: `${net}.7` });
    c.clock.set(midnight + 30 * MINUTE);
    const answer = await openOk(c, { install_id: installId(), ...iosApp }, { 'x-forwarded-for': `${net}.8` });
    expect(answer).toMatchObject({ method: 'hint', touch: { cid } });
  });

  it('keeps no raw address: only the /24 and a salted hash', async () => {
    const net = network();
    const cid = await scriptTouch(c, { t: token(`raw${n}`), ...ios, ip: `${net}.77` });
    c.clock.advance(30_000);
    const id = installId();
    await openOk(c, { install_id: id, ...iosApp }, { 'x-forwarded-for': `${net}.199` });
    const touch = await touchByCid(c, cid);
    expect(touch.ip_prefix).toBe(`${net}.0/24`);
    expect(touch.hint_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const db = new Database(c.dbPath, { readonly: true });
    try {
      const dump = JSON.stringify([db.prepare('SELECT * FROM touches').all(), db.prepare('SELECT * FROM installs').all()]);
      expect(dump).not.toContain(`${net}.77`);
      expect(dump).not.toContain(`${net}.199`);
    } finally {
      db.close();
    }
  });

  it('the salt changes every UTC day and is the same all day', async () => {
    const hints = { ip_prefix: '198.51.100.0/24', os: 'ios 17', language: 'en-us' };
    const day = Date.UTC(2026, 2, 1);
    const morning = await hintKey(c.ctx.store, hints, day + 1000);
    expect(await hintKey(c.ctx.store, hints, day + DAY - 1)).toBe(morning);
    expect(await hintKey(c.ctx.store, hints, day + DAY)).not.toBe(morning);
    expect(await hintKey(c.ctx.store, { ...hints, language: null }, day)).toBeNull();
  });

  it('hint keys older than a day are cleared', async () => {
    const net = network();
    const old = await scriptTouch(c, { t: token(`old${n}`), ...ios, ip: `${net}.7` });
    c.clock.advance(DAY - 10 * MINUTE);
    const young = await scriptTouch(c, { t: token(`young${n}`), ...ios, ip: `${network()}.7` });
    c.clock.advance(20 * MINUTE);
    expect(await clearExpiredHints(c.ctx.store, c.clock.now())).toBeGreaterThanOrEqual(1);
    expect((await touchByCid(c, old)).hint_key).toBeNull();
    expect((await touchByCid(c, young)).hint_key).not.toBeNull();
    expect(await clearExpiredHints(c.ctx.store, c.clock.now())).toBe(0);
  });
});

describe('hint matching off (the default)', () => {
  let off: TestCollector;
  beforeAll(async () => {
    off = await startTestCollector({ trust_proxy: 1 });
  });
  afterAll(() => off.stop());

  it('stores no hint key and binds nothing by hints', async () => {
    const cid = await scriptTouch(off, { t: token('off'), ...ios, ip: '198.51.250.7' });
    expect((await touchByCid(off, cid)).hint_key).toBeNull();
    off.clock.advance(30_000);
    const answer = await openOk(off, { install_id: installId(), ...iosApp }, { 'x-forwarded-for': '198.51.250.8' });
    expect(answer).toMatchObject({ bound: false, method: null, touch: null });
  });
});

describe('OS from a User-Agent', () => {
  it.each([
    [IPHONE_UA, 'ios 17'],
    ['Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15', 'ios 16'],
    [ANDROID_UA, 'android 14'],
    [REDUCED_ANDROID_UA, null],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15', null],
    ['Shop/3.1 (iPhone; iOS 17.1.1; Scale/3.00)', 'ios 17'],
    ['okhttp/4.12.0', null],
  ])('%s → %s', (ua, os) => expect(osFromUserAgent(ua)).toBe(os));
});
