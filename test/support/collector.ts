// A real collector for tests: a listening HTTP server on 127.0.0.1 over a temporary SQLite file (or a given
// store), with an injected clock. The dispatcher is off unless asked for, so queued fires can be inspected.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ManualClock, type Clock } from '../../collector/clock.js';
import { parseConfig, type ConfigInput } from '../../collector/config.js';
import { startCollector, type Collector, type CollectorOptions } from '../../collector/server.js';
import type { Store } from '../../collector/store/store.js';
import { expectDocumented } from './openapi.js';

// at least 32 characters, as `serve` requires
export const SERVER_KEY = 'server-key-0123456789abcdef0123456';
export const APP_KEY = 'app-key-0123456789abcdef0123456789';
export const ADMIN_KEY = 'admin-key-0123456789abcdef0123456';
export const SITE = 'https://shop.example';

/** a realistic token: base64url-ish with the trailing period Microsoft's tokens often carry */
export const token = (n: number | string = 1) => `ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA${n}.`;

export const BASE_CONFIG: ConfigInput = {
  port: 0,
  host: '127.0.0.1',
  router: 'http://127.0.0.1:9/sspx',
  allow_insecure_router: true,
  dispatcher: false,
  rate_limit_per_minute: 0,
  log_level: 'silent',
  sites: [{ origin: SITE, cookie_domain: '.shop.example' }],
  keys: { server: [SERVER_KEY], app: [APP_KEY], admin: [ADMIN_KEY] },
  pixels: {
    purchase: { id: 59633, trigger_type: 'hybrid', post_click_expire_mins: 43_200, post_view_expire_mins: 1_440, min_minutes_per_conv: 0 },
  },
};

export interface TestCollector extends Collector {
  clock: ManualClock;
  dir: string;
  dbPath: string;
  stop(): Promise<void>;
}

export async function startTestCollector(
  overrides: Partial<ConfigInput> = {},
  opts: { clock?: ManualClock; store?: Store; dir?: string; timeouts?: CollectorOptions['timeouts'] } = {},
): Promise<TestCollector> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'sspx-test-'));
  const dbPath = join(dir, 'sspx.db');
  const clock = opts.clock ?? new ManualClock(Date.now());
  const config = parseConfig({ ...BASE_CONFIG, store: `sqlite:${dbPath}`, ...overrides });
  const collector = await startCollector({ config, clock: clock as Clock, store: opts.store, log: pino({ level: 'silent' }), timeouts: opts.timeouts });
  return {
    ...collector,
    clock,
    dir,
    dbPath,
    async stop() {
      await collector.close(1000);
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** fetch with a JSON body and the answer parsed; the answer must be as openapi.json describes it */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; test)', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  expectDocumented('POST', url, res.status, res.headers.get('content-type'), text);
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
