// The hostile material shared by the table (hostile-input.test.ts) and the fuzzer (fuzz.test.ts): each JSON
// route's valid body and headers, and the strings and numbers that have broken collectors somewhere.
import { ADMIN_KEY, APP_KEY, SERVER_KEY, SITE, token } from '../support/collector.js';

export const T = token('hostile');
export const VID = 'forgedButWellFormed0123';
export const UA = 'Mozilla/5.0 (X11; Linux x86_64; hostile)';
export const RECENTLY = Date.now() - 60_000;
export const browser = { origin: SITE, 'user-agent': UA, 'content-type': 'text/plain;charset=UTF-8' };
export const server = { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' };
export const app = { authorization: `Bearer ${APP_KEY}`, 'content-type': 'application/json' };
export const admin = { authorization: `Bearer ${ADMIN_KEY}` };

/** the valid body of each JSON route, and the headers it needs: every field of each is made hostile below */
export const ROUTES = {
  '/t': { headers: browser, body: { t: T, u: `${SITE}/landing?x=1`, r: 'https://news.example/', w: 390, h: 844, d: 3, l: 'en-US', z: 'Europe/Paris', mo: true, pf: 'iPhone', p: 'sspdata', ids: { idfa: 'AEBE52E7-03EE-455A-B3C4-E57283966239' } } },
  '/c': { headers: browser, body: { pixel: 'purchase', order_id: 'C-1', value: '10.50', other: 'blue', cid: 'AAAAAAAAAAAAAAAAAAAAAA' } },
  '/v1/touches': { headers: server, body: { token: T, kind: 'click', visitor_id: VID, device_id: 'aebe52e7-03ee-455a-b3c4-e57283966239', ip: '203.0.113.9', user_agent: UA, url: `${SITE}/l`, occurred_at: RECENTLY } },
  '/v1/conversions': { headers: server, body: { pixel: 'purchase', order_id: 'S-1', value: 10, other: 'x', visitor_id: VID, token: T, cid: 'AAAAAAAAAAAAAAAAAAAAAA', install_id: 'inst-1', device_id: 'aebe52e7-03ee-455a-b3c4-e57283966239', occurred_at: RECENTLY } },
  '/v1/app/open': { headers: app, body: { install_id: 'install-1', platform: 'ios', cid: 'AAAAAAAAAAAAAAAAAAAAAA', referrer: 'sspx_cid=AAAAAAAAAAAAAAAAAAAAAA', token: T, device_id: 'aebe52e7-03ee-455a-b3c4-e57283966239', referrer_click_ts: 1, install_begin_ts: 2, os_version: '17.1', language: 'en-US' } },
} as const;

/** strings that have broken collectors somewhere */
export const NASTY_STRINGS = [
  'a\u0000b', 'a\r\nSet-Cookie: evil=1', 'x\u001b[31mred', 'tab\there', '\u2028\u2029\u0085', 'é', 'Ωmega', '😀', '\ud800', 'a\udfffb', '\u202eevil',
  '', ' ', '${SSP_DATA}', '%24%7BSSP_DATA%7D', '[SSPDATA]', '<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', '%00', 'x%0d%0aSet-Cookie:%20evil=1',
  `${T}&id=1`, `${T}#frag`, `${T}&sspdata=evil`, `${T}%00`, 'A'.repeat(3000), '__proto__', 'javascript:alert(1)',
];
/** numbers, written into the JSON text raw (1e309 is Infinity once parsed, -0 is -0) */
export const NASTY_NUMBERS = ['-1', '0', '-0', '1e309', '-1e309', '1.5', '9007199254740993', '1e21', '1e-7', '12345678901234567890'];
