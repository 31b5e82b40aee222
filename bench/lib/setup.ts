// What every bench section shares: the collector configuration, the requests it is loaded with, and how long to load.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadRequest, LoadSettings } from './load.js';
import { PIXEL_ID, tokenOf } from './sqlite.js';

export const SITE = 'https://shop.example';
export const SERVER_KEY = 'bench-server-key-0123456789abcdef';

/** SSPX_BENCH_QUICK=1: short runs while developing the bench (numbers not worth quoting) */
export const QUICK = process.env.SSPX_BENCH_QUICK === '1';

/** the same load for every server compared: connections, measured seconds, warm-up seconds */
export const LOAD: LoadSettings = QUICK ? { connections: 50, seconds: 3, warmupSeconds: 1 } : { connections: 50, seconds: 10, warmupSeconds: 2 };
/** shorter loads for the rows that repeat per store size or store */
export const SHORT_LOAD: LoadSettings = QUICK ? { connections: 50, seconds: 2, warmupSeconds: 1 } : { connections: 50, seconds: 5, warmupSeconds: 1 };

/** the collector as the bench runs it: no rate limit (the load comes from one address), quiet logs */
export function collectorConfig(dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    port: 0,
    host: '127.0.0.1',
    store: `sqlite:${join(dir, 'sspx.db')}`,
    router: 'http://127.0.0.1:9/sspx',
    allow_insecure_router: true,
    dispatcher: false,
    rate_limit_per_minute: 0,
    log_level: 'warn',
    sites: [{ origin: SITE, cookie_domain: '.shop.example' }],
    keys: { server: [SERVER_KEY], app: [], admin: [] },
    pixels: { purchase: { id: PIXEL_ID, trigger_type: 'hybrid', post_click_expire_mins: 43_200, post_view_expire_mins: 1_440, min_minutes_per_conv: 0 } },
    ...overrides,
  };
}

/** what the landing-page script posts: a token, the page, screen and locale hints (CORS-simple text/plain) */
export const TOUCH_BODY = JSON.stringify({
  t: tokenOf(1),
  u: 'https://shop.example/landing?utm_source=bing&utm_campaign=spring',
  r: 'https://www.bing.com/',
  w: 390,
  h: 844,
  d: 3,
  l: 'en-US',
  z: 'Europe/Berlin',
  mo: true,
  pf: 'iOS',
});

export const TOUCH_REQUEST: LoadRequest = {
  method: 'POST',
  path: '/t',
  headers: {
    'content-type': 'text/plain;charset=UTF-8',
    origin: SITE,
    'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  },
  body: TOUCH_BODY,
};

/** a site backend's conversion for the touch with `token`, each with its own order id */
export function conversionRequest(token: string, prefix: string): LoadRequest {
  return {
    method: 'POST',
    path: '/v1/conversions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVER_KEY}` },
    bodyOf: (n) => JSON.stringify({ pixel: 'purchase', token, order_id: `${prefix}-${n}`, value: '10.50' }),
  };
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
