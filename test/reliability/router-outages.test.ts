// Guards fault 2, router outages: the router refusing connections for a while and then coming up, answering 500s,
// hanging past request_timeout_ms, answering 429 with Retry-After, failing on the redirect hop, or failing for
// good. Every fire that can be delivered is, on the compressed retry schedule (never earlier than scheduled,
// Retry-After honoured); one that cannot ends `failed` when the schedule runs out; and GET /v1/fires/:id shows
// every attempt, in order, with its outcome and error class.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, SERVER_KEY, token } from '../support/collector.js';
import { json, send } from '../support/proc.js';
import { startRouter, type RouterRequest, type Step, type TestRouter } from '../support/router.js';
import { until } from './db.js';
import { startLiveCollector, tcpForwarder, type LiveCollector } from './support.js';

const SCHEDULE = [0, 0.2, 0.2, 0.5, 1];
/** long enough that a local router's answer is never mistaken for a timeout on a busy machine */
const TIMEOUT_MS = 2000;
/**
 * A generous bound on how late an attempt may start after it was due, and on how long after an attempt ended its
 * retry was scheduled, on a busy 2-core machine. The exact delay arithmetic (schedule, jitter, Retry-After) is
 * asserted with an injected clock by nextStep's table in test/dispatch/dispatcher.test.ts.
 */
const LATE_MS = 10_000;
/** how long to poll for fires to settle: a bound for a broken build, not a timing */
const SETTLE_MS = 90_000;

const outageConfig = (router: string) => ({
  router,
  allow_insecure_router: true,
  dispatcher: true,
  retry_schedule_seconds: SCHEDULE,
  retry_jitter: 0,
  request_timeout_ms: TIMEOUT_MS,
  connect_timeout_ms: TIMEOUT_MS,
  lease_seconds: 5,
  poll_interval_ms: 100,
});

interface AttemptView {
  n: number;
  outcome: string;
  error_class: string | null;
  status: number | null;
  started_at: number;
  duration_ms: number;
  next_attempt_at: number | null;
  hops: { request: { url: string }; response?: { status: number } }[];
  transcript: string;
}

async function convert(c: LiveCollector, order_id: string): Promise<string> {
  const res = await send(c.url + '/v1/conversions', {
    headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pixel: 'purchase', token: token(order_id), order_id }),
  });
  expect(res.status, res.body).toBe(200);
  expect(json(res).outcome).toBe('attributed');
  return json(res).fire_id;
}

async function fireView(c: LiveCollector, id: string) {
  const res = await send(`${c.url}/v1/fires/${id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  expect(res.status, res.body).toBe(200);
  return json(res) as { state: string; attempt_count: number; attempts: AttemptView[]; last_error: string | null };
}

/** attempts numbered 1.. in order, each started no earlier than the previous one scheduled it, and not much later */
function expectOnSchedule(attempts: AttemptView[], minWaitMs: (i: number) => number = (i) => SCHEDULE[i] * 1000) {
  expect(attempts.map((a) => a.n)).toEqual(attempts.map((_, i) => i + 1));
  for (let i = 1; i < attempts.length; i++) {
    const prev = attempts[i - 1];
    const finished = prev.started_at + prev.duration_ms;
    expect(prev.next_attempt_at, `attempt ${i} scheduled a next one`).not.toBeNull();
    // the wait the dispatcher chose: the schedule's delay (no jitter here), or Retry-After when that is longer
    expect(prev.next_attempt_at! - finished).toBeGreaterThanOrEqual(minWaitMs(i) - 5);
    expect(prev.next_attempt_at! - finished).toBeLessThanOrEqual(minWaitMs(i) + LATE_MS);
    expect(attempts[i].started_at).toBeGreaterThanOrEqual(prev.next_attempt_at!);
    expect(attempts[i].started_at).toBeLessThanOrEqual(prev.next_attempt_at! + LATE_MS);
  }
}

describe('router outages', () => {
  let router: TestRouter;
  const collectors: LiveCollector[] = [];
  beforeAll(async () => {
    router = await startRouter();
  });
  afterAll(async () => {
    for (const c of collectors) await c.stop();
    await router.close();
  });

  it('connection refused for a while, then up: retried on the schedule, then fired', async () => {
    const forwarder = await tcpForwarder(router.port); // down: nothing listens on its port yet
    const c = await startLiveCollector(outageConfig(`http://127.0.0.1:${forwarder.port}/sspx`));
    collectors.push(c);
    const ids = await Promise.all(['REF-1', 'REF-2', 'REF-3'].map((o) => convert(c, o)));
    await until('two refused attempts each', async () => {
      for (const id of ids) if ((await fireView(c, id)).attempts.length < 2) return false;
      return true;
    }, SETTLE_MS);
    await forwarder.up();
    await until('all fired', async () => {
      for (const id of ids) if ((await fireView(c, id)).state !== 'fired') return false;
      return true;
    }, SETTLE_MS);
    for (const id of ids) {
      const f = await fireView(c, id);
      const refused = f.attempts.slice(0, -1);
      expect(refused.length).toBeGreaterThanOrEqual(2);
      for (const a of refused) expect([a.outcome, a.error_class]).toEqual(['retry', 'connect_refused']);
      expect(f.attempts.at(-1)!.outcome).toBe('fired');
      expect(f.attempts.at(-1)!.hops.map((h) => h.response?.status)).toEqual([302, 200]);
      expect(f.attempts[0].transcript).toMatch(/Connection refused/);
      expectOnSchedule(f.attempts);
    }
    for (const o of ['REF-1', 'REF-2', 'REF-3']) expect(router.logged.filter((q) => q.params.order_id === o)).toHaveLength(1);
    await forwarder.close();
  }, 2 * SETTLE_MS);

  it('500s, a hang past the timeout, 429 with Retry-After, a failing redirect hop, a router down for good', async () => {
    // what the router does per order_id: the listed answers to its first requests, then the usual 302 → logged
    const plans: Record<string, Step[]> = {
      'OUT-500': [{ status: 500 }, { status: 503, body: 'busy' }],
      'OUT-HANG': [{ hang: true }],
      'OUT-429': [{ status: 429, headers: { 'Retry-After': '1' } }],
      'OUT-HOP': [{ redirect: '/logged-broken' }],
      'OUT-DOWN': Array.from({ length: 10 }, () => ({ status: 502 })),
    };
    const seen = new Map<string, number>();
    router.otherwise((req: RouterRequest): Step => {
      if (req.path === '/logged-broken') return { status: 500 };
      if (req.path === '/logged') return { status: 200, body: 'logged' };
      const order = req.params.order_id;
      const n = seen.get(order) ?? 0;
      seen.set(order, n + 1);
      return plans[order]?.[n] ?? { redirect: `/logged${req.url.slice(req.path.length)}` };
    });
    const c = await startLiveCollector(outageConfig(router.url));
    collectors.push(c);
    const orders = Object.keys(plans);
    const ids = Object.fromEntries(await Promise.all(orders.map(async (o) => [o, await convert(c, o)] as const)));
    await until('every fire settled', async () => {
      for (const o of orders) if (!['fired', 'failed'].includes((await fireView(c, ids[o])).state)) return false;
      return true;
    }, SETTLE_MS);
    const view = Object.fromEntries(await Promise.all(orders.map(async (o) => [o, await fireView(c, ids[o])] as const)));
    const outcomes = (o: string) => view[o].attempts.map((a: AttemptView) => `${a.outcome}:${a.error_class ?? '-'}`);

    expect(outcomes('OUT-500')).toEqual(['retry:http_5xx', 'retry:http_5xx', 'fired:-']);
    expect(view['OUT-500'].attempts.map((a: AttemptView) => a.status)).toEqual([500, 503, 200]);
    expectOnSchedule(view['OUT-500'].attempts);

    // the router may have logged the hung request: ambiguous, and with on_ambiguous: retry, fired again
    expect(outcomes('OUT-HANG')).toEqual(['ambiguous:timeout_after_send', 'fired:-']);
    expect(view['OUT-HANG'].attempts[0].duration_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(view['OUT-HANG'].attempts[0].transcript).toMatch(/timed out/i);
    expectOnSchedule(view['OUT-HANG'].attempts);

    expect(outcomes('OUT-429')).toEqual(['retry:http_429', 'fired:-']);
    expectOnSchedule(view['OUT-429'].attempts, () => 1000); // Retry-After: 1 beats the schedule's 0.2 s

    expect(outcomes('OUT-HOP')).toEqual(['retry:http_5xx', 'fired:-']);
    expect(view['OUT-HOP'].attempts[0].hops.map((h: AttemptView['hops'][number]) => [new URL(h.request.url).pathname, h.response?.status])).toEqual([
      ['/sspx', 302],
      ['/logged-broken', 500],
    ]);

    // down for good: one attempt per entry of the schedule, every one recorded, then the fire is failed
    expect(view['OUT-DOWN'].state).toBe('failed');
    // the last attempt is the one that failed the fire
    expect(outcomes('OUT-DOWN')).toEqual([...Array(SCHEDULE.length - 1).fill('retry:http_5xx'), 'failed:http_5xx']);
    expect(view['OUT-DOWN'].last_error).toMatch(/retry schedule is exhausted/);
    expectOnSchedule(view['OUT-DOWN'].attempts.slice(0, -1));
    expect(view['OUT-DOWN'].attempts.at(-1)!.next_attempt_at).toBeNull();

    for (const o of orders.filter((x) => x !== 'OUT-DOWN')) {
      expect(view[o].state).toBe('fired');
      expect(router.logged.filter((q) => q.params.order_id === o)).toHaveLength(1);
    }
    // the router received exactly the attempts the store recorded
    for (const o of orders) expect(seen.get(o)).toBe(view[o].attempts.length);
    router.reset();
  }, 2 * SETTLE_MS);
});
