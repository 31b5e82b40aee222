// Guards dashboard logouts beyond one process: a logged-out session cookie stays refused after the collector
// restarts on the same SQLite file, and in every collector process sharing a PostgreSQL store — the logout is a row
// in the store (migration 11), not a process's memory. Before, a restart or another process took the cookie again
// (the session's signature derives from the store's secret and the admin keys, which both outlive the process).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../collector/clock.js';
import { PostgresStore } from '../../collector/store/postgres.js';
import { ADMIN_KEY, startTestCollector, type TestCollector } from '../support/collector.js';
import { fetchDocumented } from '../support/openapi.js';
import { describePg } from '../support/pg.js';

const running: TestCollector[] = [];
afterAll(async () => {
  for (const c of running.splice(0)) await c.stop();
});

const page = (c: TestCollector, path: string, cookie: string) => fetchDocumented(c.url + path, { headers: { cookie }, redirect: 'manual' });

async function login(c: TestCollector): Promise<string> {
  const res = await fetchDocumented(c.url + '/admin/login', { method: 'POST', body: new URLSearchParams({ key: ADMIN_KEY, next: '/admin' }), redirect: 'manual' });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0];
}

async function logout(c: TestCollector, cookie: string): Promise<void> {
  const overview = await page(c, '/admin', cookie);
  expect(overview.status).toBe(200);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await overview.text())![1];
  const out = await fetchDocumented(c.url + '/admin/logout', { method: 'POST', headers: { cookie }, body: new URLSearchParams({ _csrf: csrf }), redirect: 'manual' });
  expect(out.status).toBe(303);
}

describe('on the embedded store', () => {
  it('a logout survives a restart on the same file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sspx-logout-'));
    const clock = new ManualClock(Date.now());
    try {
      const first = await startTestCollector({}, { dir, clock });
      const loggedOut = await login(first);
      const kept = await login(first);
      await logout(first, loggedOut);
      await first.stop();
      const again = await startTestCollector({}, { dir, clock });
      running.push(again);
      expect((await page(again, '/admin', loggedOut)).status, 'the logged-out cookie').toBe(303);
      expect((await page(again, '/admin', kept)).status, 'another session, still logged in').toBe(200);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describePg('on a shared PostgreSQL store', (pg) => {
  it('a logout in one process ends the session in every process', async () => {
    const schema = pg.newSchema();
    const clock = new ManualClock(Date.now());
    const a = await startTestCollector({}, { clock, store: new PostgresStore(pg.url, { schema, poolSize: 2 }) });
    running.push(a);
    const b = await startTestCollector({}, { clock, store: new PostgresStore(pg.url, { schema, poolSize: 2 }) });
    running.push(b);
    const cookie = await login(a);
    expect((await page(b, '/admin', cookie)).status, 'one session, every process').toBe(200);
    await logout(a, cookie);
    expect((await page(b, '/admin', cookie)).status).toBe(303);
    expect((await page(a, '/admin', cookie)).status).toBe(303);
  });
});
