// Guards /healthz and /readyz: liveness answers while the process runs, whatever the store does; readiness answers
// 200 only while the store is reachable and its migrations are current, and 503 with a named reason otherwise.
import { afterEach, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../support/collector.js';

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
};

describe('health and readiness', () => {
  let c: TestCollector | undefined;
  afterEach(async () => {
    await c?.stop();
    c = undefined;
  });

  it('is live and ready on a migrated store', async () => {
    c = await startTestCollector();
    expect(await get(`${c.url}/healthz`)).toEqual({ status: 200, json: { status: 'ok' } });
    expect(await get(`${c.url}/readyz`)).toEqual({ status: 200, json: { status: 'ready', store: 'sqlite' } });
  });

  it('is not ready while migrations are pending, and ready once they are applied', async () => {
    c = await startTestCollector({ migrate_on_start: false });
    const r = await get(`${c.url}/readyz`);
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ status: 'unready', error: 'migrations_pending' });
    expect(typeof r.json.message).toBe('string');
    expect((await get(`${c.url}/healthz`)).status).toBe(200);
    await c.ctx.store.migrate();
    expect(await get(`${c.url}/readyz`)).toEqual({ status: 200, json: { status: 'ready', store: 'sqlite' } });
  });

  it('is not ready once the store is unreachable, but still live', async () => {
    c = await startTestCollector();
    await c.ctx.store.close();
    const r = await get(`${c.url}/readyz`);
    expect(r.status).toBe(503);
    expect(r.json).toMatchObject({ status: 'unready', error: 'store_unreachable' });
    expect(typeof r.json.message).toBe('string');
    expect(await get(`${c.url}/healthz`)).toEqual({ status: 200, json: { status: 'ok' } });
  });
});
