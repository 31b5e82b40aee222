// Shared set-up for the dispatch suites: a real SQLite file in a temp dir, a config pointed at the test router,
// captured JSON log lines, and a helper that commits a conversion and its fire the way attribution does.
import { Events } from '../../collector/events.js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../collector/clock.js';
import { parseConfig, type ConfigInput } from '../../collector/config.js';
import type { Context } from '../../collector/context.js';
import { createLogger } from '../../collector/log.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import type { Conversion, Fire } from '../../collector/store/store.js';

export const ADMIN_KEY = 'admin-key-0123456789abcdef';
export const TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';

export interface Harness {
  ctx: Context;
  store: SqliteStore;
  dir: string;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** compressed schedule and short timeouts: every behaviour plays out in milliseconds */
export async function harness(overrides: ConfigInput = {}, clock: Clock = systemClock): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'sspx-dispatch-'));
  const path = join(dir, 'sspx.db');
  const config = parseConfig({
    store: `sqlite:${path}`,
    router: 'http://127.0.0.1:9/sspx',
    allow_insecure_router: true,
    retry_schedule_seconds: [0, 0.05, 0.05],
    retry_jitter: 0,
    poll_interval_ms: 20,
    lease_seconds: 5,
    connect_timeout_ms: 1000,
    request_timeout_ms: 2000,
    keys: { admin: [ADMIN_KEY] },
    pixels: { purchase: { id: 59633 } },
    ...overrides,
  });
  const store = new SqliteStore(path);
  await store.migrate();
  const logs: Record<string, unknown>[] = [];
  const log = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line)) });
  return {
    ctx: { config, store, clock, log, events: new Events() },
    store,
    dir,
    logs,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface FireInput {
  pixel_id?: number;
  token?: string;
  order_id?: string | null;
  value?: string | null;
  other?: string | null;
  /** when it is due; default now */
  at?: number;
  created_at?: number;
}

/** Commits an attributed conversion and its queued fire in one transaction; answers the fire. */
export async function queueFire(store: SqliteStore, f: FireInput = {}, clock: Clock = systemClock): Promise<Fire> {
  const now = clock.now();
  const conversion: Conversion = {
    id: randomUUID(), pixel_id: f.pixel_id ?? 59633, pixel: 'purchase', source: 'server', order_id: f.order_id ?? null,
    value: f.value ?? null, other: f.other ?? null, visitor_id: null, token: f.token ?? TOKEN, cid: null, install_id: null,
    device_id: null, outcome: 'attributed', touch_id: null, user_key: null, dedup_key: null, duplicate_of: null,
    occurred_at: now, created_at: f.created_at ?? now, warning: null, rule: null, superseded_by: null, test: false,
  };
  const fire: Fire = {
    id: randomUUID(), conversion_id: conversion.id, pixel_id: conversion.pixel_id, order_id: conversion.order_id,
    value: conversion.value, other: conversion.other, token: conversion.token!, state: 'queued', dry_run: false, sending_at: null, attempt_count: 0,
    next_attempt_at: f.at ?? now, lease_owner: null, lease_expires_at: null, last_outcome: null, last_error: null,
    created_at: f.created_at ?? now, updated_at: now, fired_at: null, test: false,
  };
  await store.transaction(async (tx) => {
    await tx.insertConversion(conversion);
    await tx.insertFire(fire);
  });
  return fire;
}

/** polls until `pred` holds; fails the test after `timeoutMs` */
export async function until<T>(what: string, fn: () => Promise<T> | T, pred: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (pred(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: last value ${JSON.stringify(v)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
