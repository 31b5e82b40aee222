// What every bench section shares: the collector's configuration as shipped, the requests it is loaded with (the
// touch a real Chromium sent, a site backend's conversion), and how long to load.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../collector/paths.js';
import { CAPTURED_MSCLKID, type CapturedTouch } from './capture.js';
import { CLICK_ID, FRESH, PICK, type LoadRequest, type LoadSettings } from './load.js';

export const SERVER_KEY = 'bench-server-key-0123456789abcdef';
/** the app and admin keys: the shipped sample's change-me keys would stop `serve` from starting */
const APP_KEY = 'bench-app-key-0123456789abcdef-0123';
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef-012';

/** sspx.config.example.json, the configuration as shipped */
const shipped = (): Record<string, unknown> => JSON.parse(readFileSync(join(packageRoot, 'sspx.config.example.json'), 'utf8')) as Record<string, unknown>;
/** the shipped configuration's pixel, which every conversion of the bench names */
export const PIXEL = 'purchase';
export const PIXEL_ID = (shipped().pixels as Record<string, { id: number }>)[PIXEL].id;

/** SSPX_BENCH_QUICK=1: short runs while developing the bench (numbers not worth quoting) */
export const QUICK = process.env.SSPX_BENCH_QUICK === '1';

/** the same load for every server compared: connections, measured seconds, warm-up seconds */
export const LOAD: LoadSettings = QUICK ? { connections: 50, seconds: 3, warmupSeconds: 1 } : { connections: 50, seconds: 10, warmupSeconds: 2 };
/** shorter loads for the rows that repeat per store */
export const SHORT_LOAD: LoadSettings = QUICK ? { connections: 50, seconds: 2, warmupSeconds: 1 } : { connections: 50, seconds: 5, warmupSeconds: 1 };

/**
 * sspx.config.example.json as shipped, with only what a bench must change: its own port, store and stand-in router
 * (local, so allow_insecure_router), its own keys, and no rate limit (all load comes from one address). The
 * dispatcher is on and request logging is as shipped (info, one line per request, to the log file).
 */
export function collectorConfig(dir: string, router: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const config = shipped();
  return {
    ...config,
    port: 0,
    host: '127.0.0.1',
    store: `sqlite:${join(dir, 'sspx.db')}`,
    router,
    allow_insecure_router: true,
    rate_limit_per_minute: 0,
    keys: { server: [SERVER_KEY], app: [APP_KEY], admin: [ADMIN_KEY] },
    ...overrides,
  };
}

/** a router nobody listens on, for collectors that must not fire (none of the bench's do, but seeding needs a config) */
export const NO_ROUTER = 'http://127.0.0.1:9/sspx';

let runs = 0;
/** a prefix no other run of this bench process uses, so tokens and order ids are fresh across runs on one store */
const runTag = () => (++runs).toString(36).padStart(2, '0');

/** the captured POST /t, replayed with a fresh token (same length, same alphabet) wherever the token appeared */
export function touchRequest(c: CapturedTouch): LoadRequest {
  const digits = 9;
  const keep = c.token.length - 1 - digits - 2; // the token ends with a period, kept
  return {
    method: 'POST',
    path: '/t',
    headers: c.headers,
    template: c.body.split(c.token).join(FRESH).split(CAPTURED_MSCLKID).join(CLICK_ID),
    fresh: { prefix: c.token.slice(0, keep) + runTag(), digits, suffix: '.' },
    idField: 'cid',
  };
}

/** a site backend's S2S conversion: a fresh order id each, attributed by the token of one of `tokens` in turn */
export function conversionRequest(tokens: string[]): LoadRequest {
  return {
    method: 'POST',
    path: '/v1/conversions',
    headers: [
      ['Content-Type', 'application/json'],
      ['Authorization', `Bearer ${SERVER_KEY}`],
      ['User-Agent', 'shop-backend/1.0'],
    ],
    template: JSON.stringify({ pixel: PIXEL, token: PICK, order_id: FRESH, value: '10.50', other: 'EUR' }),
    fresh: { prefix: `B${runTag()}-`, digits: 8, suffix: '' },
    pick: tokens,
    idField: 'conversion_id',
  };
}

/** a token shaped like Microsoft's, unique per n, with the trailing period */
export const tokenOf = (n: number): string => `ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAG${n.toString(36).padStart(8, '0')}.`;

/** `n` touches posted to the collector by a site backend (POST /v1/touches), whose tokens conversions then name */
export async function postTouches(url: string, n: number): Promise<string[]> {
  const tokens = Array.from({ length: n }, (_, i) => tokenOf(1_000_000 + i));
  const post = async (token: string) => {
    const res = await fetch(`${url}/v1/touches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
      body: JSON.stringify({ token }),
    });
    if (res.status !== 200) throw new Error(`POST /v1/touches answered ${res.status}: ${await res.text()}`);
  };
  for (let i = 0; i < n; i += 25) await Promise.all(tokens.slice(i, i + 25).map(post));
  return tokens;
}

/** a scratch directory, removed with everything in it by `cleanup()` */
export function scratch(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sspx-bench-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const round = (n: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** p-th percentile (0–100) of a sample, nearest rank */
export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
