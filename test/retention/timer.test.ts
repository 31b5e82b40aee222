// Guards the daily retention of a running collector: startCollector starts it (first run shortly after start, then
// daily), it purges what is old, it is off with `retention: false`, and close() stops it without waiting a day.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY, ManualClock } from '../../collector/clock.js';
import { parseConfig } from '../../collector/config.js';
import { startCollector, type Collector } from '../../collector/server.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { BASE_CONFIG } from '../support/collector.js';
import { NOW, RETENTION_CONFIG, seeder } from './purge.suite.js';

describe('the retention timer', () => {
  const dirs: string[] = [];
  let collector: Collector | undefined;
  afterEach(async () => {
    await collector?.close(100);
    collector = undefined;
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function start(retention: false | { firstRunMs?: number; everyMs?: number }) {
    const dir = mkdtempSync(join(tmpdir(), 'sspx-retention-timer-'));
    dirs.push(dir);
    const store = new SqliteStore(join(dir, 'sspx.db'));
    await store.migrate();
    const old = await seeder(store).touch(40 * DAY);
    const config = parseConfig({ ...BASE_CONFIG, ...RETENTION_CONFIG, store: `sqlite:${join(dir, 'sspx.db')}` });
    collector = await startCollector({ config, store, clock: new ManualClock(NOW), log: pino({ level: 'silent' }), retention });
    return { store, old };
  }

  it('purges shortly after start, then again on its interval', async () => {
    const { store, old } = await start({ firstRunMs: 10, everyMs: 50 });
    await expect.poll(() => store.touchByCid(old.cid), { timeout: 5000 }).toBeUndefined();
    const later = await seeder(store).touch(50 * DAY);
    await expect.poll(() => store.touchByCid(later.cid), { timeout: 5000 }).toBeUndefined();
  });

  it('is off with retention: false', async () => {
    const { store, old } = await start(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(await store.touchByCid(old.cid)).toEqual(old);
  });

  it('by default waits minutes before its first run, and close() does not wait for it', async () => {
    const { store, old } = await start({});
    await new Promise((r) => setTimeout(r, 100));
    expect(await store.touchByCid(old.cid)).toEqual(old);
    const t0 = Date.now();
    await collector!.close(100);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
