// Guards GET /metrics: the sspx_* counters move as touches, conversions and fire attempts happen, the queue gauges
// are read from the store on scrape, ingest latency is labelled by route pattern (never by raw path), each collector
// has its own registry, and a store outage does not break the scrape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptEvent } from '../../collector/dispatch/dispatcher.js';
import { ADMIN_KEY, bearer, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { parseMetrics, sample, scrape } from './support.js';

const browser = { origin: SITE, 'content-type': 'text/plain;charset=UTF-8' };

describe('counters, gauges and ingest latency (no dispatcher)', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector();
  });
  afterAll(() => c.stop());

  it('serves Prometheus text with default process metrics', async () => {
    const res = await fetch(`${c.url}/metrics`, { headers: bearer(ADMIN_KEY) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of ['sspx_touches_total', 'sspx_conversions_total', 'sspx_fire_attempts_total', 'sspx_ingest_duration_seconds', 'sspx_commit_to_fire_seconds', 'sspx_router_duration_seconds', 'sspx_queue_depth', 'sspx_oldest_due_age_seconds']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_total_bytes \d/m);
  });

  it('counts touches by outcome and reason', async () => {
    const ua = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; test)' };
    expect((await post(`${c.url}/t`, { t: token(1) }, browser)).status).toBe(200);
    expect((await fetch(`${c.url}/i?sspdata=${encodeURIComponent(token(2))}`, { headers: ua })).status).toBe(200);
    expect((await fetch(`${c.url}/i?sspdata=${encodeURIComponent(token(3))}`, { headers: { 'user-agent': 'Googlebot/2.1' } })).status).toBe(202);
    expect((await fetch(`${c.url}/i?sspdata=${encodeURIComponent('${SSP_DATA}')}`, { headers: ua })).status).toBe(400);
    expect((await fetch(`${c.url}/i?sspdata=a%20b`, { headers: ua })).status).toBe(400);
    const m = await scrape(c.url);
    expect(sample(m, 'sspx_touches_total', { outcome: 'stored', reason: 'click' })).toBe(1);
    expect(sample(m, 'sspx_touches_total', { outcome: 'stored', reason: 'view' })).toBe(1);
    expect(sample(m, 'sspx_touches_total', { outcome: 'dropped', reason: 'bot' })).toBe(1);
    expect(sample(m, 'sspx_touches_total', { outcome: 'refused', reason: 'unreplaced_macro' })).toBe(1);
    expect(sample(m, 'sspx_touches_total', { outcome: 'refused', reason: 'invalid_token' })).toBe(1);
  });

  it('counts conversions by outcome and source, and reads the queue from the store', async () => {
    const conv = { pixel: 'purchase', token: token(1), order_id: 'M-1' };
    expect((await post(`${c.url}/v1/conversions`, conv, bearer(SERVER_KEY))).json.outcome).toBe('attributed');
    expect((await post(`${c.url}/v1/conversions`, conv, bearer(SERVER_KEY))).json.outcome).toBe('duplicate');
    expect((await post(`${c.url}/c`, { pixel: 'purchase', order_id: 'M-2' }, browser)).json.outcome).toBe('unattributed');
    let m = await scrape(c.url);
    expect(sample(m, 'sspx_conversions_total', { outcome: 'attributed', source: 'server' })).toBe(1);
    expect(sample(m, 'sspx_conversions_total', { outcome: 'duplicate', source: 'server' })).toBe(1);
    expect(sample(m, 'sspx_conversions_total', { outcome: 'unattributed', source: 'browser' })).toBe(1);
    expect(sample(m, 'sspx_queue_depth')).toBe(1);
    expect(sample(m, 'sspx_fires_in_state', { state: 'queued' })).toBe(1);
    expect(sample(m, 'sspx_oldest_due_age_seconds')).toBe(0);

    c.clock.advance(90_000); // nobody fires it: the fire has now waited 90 s past its due time
    m = await scrape(c.url);
    expect(sample(m, 'sspx_oldest_due_age_seconds')).toBe(90);
    expect(sample(m, 'sspx_queue_depth')).toBe(1);
  });

  it('times ingest routes by their pattern, and nothing else', async () => {
    await fetch(`${c.url}/v1/fires/f_does_not_exist`);
    await fetch(`${c.url}/v1/fires/f_nor_this_one`);
    await fetch(`${c.url}/v1/no-such-route`);
    await fetch(`${c.url}/healthz`);
    const m = await scrape(c.url);
    const count = (route: string) => sample(m, 'sspx_ingest_duration_seconds_count', { route });
    expect(count('/t')).toBe(1);
    expect(count('/i')).toBe(4);
    expect(count('/c')).toBe(1);
    expect(count('/v1/conversions')).toBe(2);
    expect(count('/v1/fires/:id')).toBe(2);
    const routes = new Set(m.filter((s) => s.name === 'sspx_ingest_duration_seconds_count').map((s) => s.labels.route));
    expect([...routes].sort()).toEqual(['/c', '/i', '/t', '/v1/conversions', '/v1/fires/:id']);
  });

  it('keeps answering when the store is gone (the gauges keep their last values)', async () => {
    const other = await startTestCollector();
    await post(`${other.url}/v1/conversions`, { pixel: 'purchase', token: token(5) }, bearer(SERVER_KEY));
    expect(sample(await scrape(other.url), 'sspx_queue_depth')).toBe(1);
    await other.ctx.store.close();
    const res = await fetch(`${other.url}/metrics`, { headers: bearer(ADMIN_KEY) });
    expect(res.status).toBe(200);
    expect(sample(parseMetrics(await res.text()), 'sspx_queue_depth')).toBe(1);
    await other.stop();
  });
});

describe('fire attempts (dispatcher against the local router)', () => {
  let router: TestRouter;
  let c: TestCollector;
  beforeAll(async () => {
    router = await startRouter();
    c = await startTestCollector({ dispatcher: true, router: router.url, poll_interval_ms: 50 });
  });
  afterAll(async () => {
    await c.stop();
    await router.close();
  });

  const convert = async (order_id: string) => {
    const attempt = new Promise<AttemptEvent>((resolve) => c.dispatcher!.once('attempt', resolve));
    const res = await post(`${c.url}/v1/conversions`, { pixel: 'purchase', token: token(order_id), order_id }, bearer(SERVER_KEY));
    expect(res.json.outcome).toBe('attributed');
    return await attempt;
  };

  it('counts a fired attempt with its router and commit-to-fire durations', async () => {
    const e = await convert('F-1');
    expect(e.attempt.outcome).toBe('fired');
    const m = await scrape(c.url);
    expect(sample(m, 'sspx_fire_attempts_total', { outcome: 'fired', error_class: 'none' })).toBe(1);
    expect(sample(m, 'sspx_router_duration_seconds_count')).toBe(1);
    expect(sample(m, 'sspx_commit_to_fire_seconds_count')).toBe(1);
    expect(sample(m, 'sspx_queue_depth')).toBe(0);
    expect(sample(m, 'sspx_fires_in_state', { state: 'fired' })).toBe(1);
  });

  it('counts a retry by its error class, and the fire stays in the queue', async () => {
    router.script({ status: 500 });
    const e = await convert('F-2');
    expect(e.attempt.outcome).toBe('retry');
    const m = await scrape(c.url);
    expect(sample(m, 'sspx_fire_attempts_total', { outcome: 'retry', error_class: 'http_5xx' })).toBe(1);
    expect(sample(m, 'sspx_fire_attempts_total', { outcome: 'fired', error_class: 'none' })).toBe(1);
    expect(sample(m, 'sspx_router_duration_seconds_count')).toBe(2);
    expect(sample(m, 'sspx_commit_to_fire_seconds_count')).toBe(1);
    expect(sample(m, 'sspx_queue_depth')).toBe(1);
  });

  it('has a registry of its own: nothing the other collectors counted shows here', async () => {
    const m = await scrape(c.url);
    expect(sample(m, 'sspx_touches_total', { outcome: 'stored', reason: 'view' })).toBe(0);
    expect(sample(m, 'sspx_conversions_total', { outcome: 'attributed', source: 'server' })).toBe(2);
  });
});
