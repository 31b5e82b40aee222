// Guards the operators' fire API over real HTTP: admin key required, list filters and their named 400s, one fire
// with its attempts (in order, each with a transcript), the evidence download, and replay (failed/held only);
// every answer as openapi.json describes it (whole-millisecond times included).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Dispatcher } from '../../collector/dispatch/dispatcher.js';
import { errorHandler } from '../../collector/http/errors.js';
import { fireRoutes } from '../../collector/http/routes/fires.js';
import type { Fire } from '../../collector/store/store.js';
import { fetchDocumented } from '../support/openapi.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { ADMIN_KEY, harness, queueFire, until, type Harness } from './fixture.js';

let router: TestRouter;
let h: Harness;
let server: Server;
let base: string;
let wakes = 0;
let failed: Fire;
let fired: Fire;
const older: Fire[] = [];
const T0 = Date.UTC(2026, 0, 1);

const get = (path: string, key: string | null = ADMIN_KEY) =>
  fetchDocumented(base + path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
const post = (path: string) => fetchDocumented(base + path, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_KEY}` } });

beforeAll(async () => {
  router = await startRouter();
  h = await harness({ router: router.url });
  // two fires through the real dispatcher: one refused by the router (404), one logged
  router.script({ status: 404, body: 'no such pixel' });
  failed = await queueFire(h.store, { order_id: 'ORDER-1' });
  const d = new Dispatcher(h.ctx);
  d.start();
  await until('the 404 fire to fail', () => h.store.getFire(failed.id), (f) => f!.state === 'failed');
  fired = await queueFire(h.store, { order_id: 'ORDER-2', pixel_id: 70000 });
  await until('the second fire', () => h.store.getFire(fired.id), (f) => f!.state === 'fired');
  await d.stop(1000);
  // older fires, not due, for paging and time filters
  for (let i = 0; i < 5; i++) older.push(await queueFire(h.store, { created_at: T0 + i * 1000, at: Date.now() + 3_600_000 }));

  const app = express();
  app.use(fireRoutes(h.ctx, { wake: () => wakes++ }));
  app.use(errorHandler(() => undefined));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await h.close();
  await router.close();
});

describe('authentication', () => {
  it.each([
    ['no key', null, 401, 'missing_key'],
    ['a wrong key', 'not-the-admin-key-at-all', 401, 'invalid_key'],
  ])('%s → %i %s', async (_n, key, status, error) => {
    const res = await get('/v1/fires', key);
    expect(res.status).toBe(status);
    expect((await res.json()).error).toBe(error);
  });
  it('does not answer for paths that are not its own', async () => {
    expect((await get('/other', null)).status).toBe(404);
  });
});

describe('GET /v1/fires', () => {
  const ids = async (q: string) => {
    const res = await get(`/v1/fires${q}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { fires: Fire[] }).fires.map((f) => f.id);
  };
  it('lists newest first', async () => {
    expect(await ids('')).toEqual([fired.id, failed.id, ...[...older].reverse().map((f) => f.id)]);
  });
  it.each([
    ['state=failed', () => [failed.id]],
    ['state=fired', () => [fired.id]],
    ['pixel=purchase', () => [failed.id, ...[...older].reverse().map((f) => f.id)]],
    ['pixel=70000', () => [fired.id]],
    ['order_id=ORDER-1', () => [failed.id]],
    [`from=${new Date(T0 + 1000).toISOString()}&to=${T0 + 3000}`, () => [older[2].id, older[1].id]],
    ['limit=2', () => [fired.id, failed.id]],
  ])('filters by %s', async (q, expected) => {
    expect(await ids(`?${q}`)).toEqual(expected());
  });
  it('pages with before', async () => {
    const page1 = await ids('?limit=4');
    const page2 = await ids(`?limit=4&before=${page1[3]}`);
    expect(page2).toHaveLength(3);
    expect([...page1, ...page2]).toEqual(await ids(''));
  });
  it.each([
    ['state=bogus', 'bad_state'],
    ['pixel=nope', 'unknown_pixel'],
    ['order_id=a%20b', 'bad_order_id'],
    ['from=yesterday', 'bad_from'],
    ['to=12x', 'bad_to'],
    ['from=2026-02-01&to=2026-01-01', 'bad_range'],
    ['limit=0', 'bad_limit'],
    ['limit=5000', 'bad_limit'],
    ['limit=abc', 'bad_limit'],
    ['state=failed&state=fired', 'bad_state'],
    ['before=%3Cscript%3E', 'bad_before'],
    ['last_outcome=maybe', 'bad_last_outcome'],
  ])('refuses %s with 400 %s', async (q, error) => {
    const res = await get(`/v1/fires?${q}`);
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error).toBe(error);
    expect(body.message).toBeTruthy();
  });
});

describe('GET /v1/fires/:id', () => {
  it('answers the fire with its attempts in order, each with a transcript, and its conversion', async () => {
    const res = await get(`/v1/fires/${failed.id}`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ id: failed.id, state: 'failed', pixel_id: 59633, pixel: 'purchase', order_id: 'ORDER-1', touch: null });
    expect(body.conversion.id).toBe(failed.conversion_id);
    expect(body.attempts).toHaveLength(1);
    expect(body.attempts[0]).toMatchObject({ n: 1, outcome: 'failed', status: 404, error_class: 'http_4xx' });
    expect(body.attempts[0].transcript).toContain('< HTTP/1.1 404 Not Found');
    expect(body.attempts[0].transcript).toContain('no such pixel');
  });
  it('answers 404 fire_not_found', async () => {
    const res = await get('/v1/fires/no-such-fire');
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe('fire_not_found');
  });
});

describe('GET /v1/fires/:id/evidence', () => {
  it('downloads the evidence as text', async () => {
    const res = await get(`/v1/fires/${fired.id}/evidence`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="?sspx-fire-${fired.id}\\.txt"?$`));
    const text = await res.text();
    expect(text).toContain(`fire:        ${fired.id}`);
    expect(text).toContain('== attempt 1 ·');
    expect(text).toContain('< HTTP/1.1 302 Found');
  });
  it('answers 404 for an unknown fire', async () => {
    expect((await get('/v1/fires/nope/evidence')).status).toBe(404);
  });
});

describe('POST /v1/fires/:id/replay', () => {
  it('queues a failed fire again, due now, and wakes the dispatcher', async () => {
    const before = wakes;
    const res = await post(`/v1/fires/${failed.id}/replay`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ id: failed.id, state: 'queued' });
    expect(wakes).toBe(before + 1);
  });
  it.each([
    ['a fired fire', () => fired.id, 409, 'not_replayable'],
    ['a queued fire', () => older[0].id, 409, 'not_replayable'],
    ['an unknown fire', () => 'nope', 404, 'fire_not_found'],
  ])('refuses %s', async (_n, id, status, error) => {
    const res = await post(`/v1/fires/${id()}/replay`);
    expect(res.status).toBe(status);
    expect((await res.json()).error).toBe(error);
  });
});
