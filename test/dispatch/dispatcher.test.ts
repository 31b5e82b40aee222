// Guards the dispatcher end to end over a real SQLite file and the local router: every router behaviour ends in the
// right fire state with one attempt row per try (schedule, Retry-After, ambiguous retry vs hold), a crash between
// sending and recording is recovered as a `lease_expired` attempt and a new fire, a graceful stop releases what it
// could not finish, a committed conversion wakes an idle dispatcher at once, and max_in_flight bounds concurrency.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import { parseConfig, type ConfigInput } from '../../collector/config.js';
import { Dispatcher, nextStep } from '../../collector/dispatch/dispatcher.js';
import type { FireDetail } from '../../collector/store/store.js';
import { startBlackhole, startRouter, type Step, type TestRouter } from '../support/router.js';
import { harness, queueFire, until, type Harness } from './fixture.js';

let router: TestRouter;
const open: { h: Harness; d?: Dispatcher }[] = [];

beforeAll(async () => {
  router = await startRouter();
});
afterEach(async () => {
  const entries = open.splice(0);
  for (const { d } of entries) await d?.stop(100);
  for (const { h } of entries) await h.close();
  router.reset();
});
afterAll(() => router.close());

async function setup(config: ConfigInput = {}, clock?: ManualClock) {
  const h = await harness({ router: router.url, ...config }, clock);
  const entry: { h: Harness; d?: Dispatcher } = { h };
  open.push(entry);
  const dispatcher = (opts = {}) => (entry.d = new Dispatcher(h.ctx, { random: () => 0.5, ...opts }));
  return { h, dispatcher };
}

// a bound for a broken build, not a timing: the test timeout (30 s) comes later only for the slowest cases
const settled = (h: Harness, id: string, timeoutMs = 25_000) =>
  until('the fire to settle', () => h.store.getFire(id), (f) => !!f && ['fired', 'failed', 'held'].includes(f.state), timeoutMs) as Promise<FireDetail>;

describe('nextStep: where a fire goes after an attempt', () => {
  const config = parseConfig({ retry_schedule_seconds: [0, 5, 300], retry_jitter: 0.2, on_ambiguous: 'retry' });
  const hold = parseConfig({ ...config, on_ambiguous: 'hold' });
  const now = 1_000_000;
  const r = (outcome: 'fired' | 'retry' | 'failed' | 'ambiguous', retry_after_ms: number | null = null) => ({ outcome, error: 'e', error_class: 'x', retry_after_ms });
  it.each([
    ['fired', r('fired'), 0, config, 0.5, { state: 'fired', next_attempt_at: null, last_error: null }],
    ['4xx fails at once', r('failed'), 0, config, 0.5, { state: 'failed', next_attempt_at: null }],
    ['first retry waits schedule[1]', r('retry'), 0, config, 0.5, { state: 'queued', next_attempt_at: now + 5000 }],
    ['second retry waits schedule[2]', r('retry'), 1, config, 0.5, { state: 'queued', next_attempt_at: now + 300_000 }],
    ['jitter low end', r('retry'), 0, config, 0, { state: 'queued', next_attempt_at: now + 4000 }],
    ['jitter high end', r('retry'), 0, config, 1, { state: 'queued', next_attempt_at: now + 6000 }],
    ['Retry-After longer than the schedule wins', r('retry', 60_000), 0, config, 0.5, { state: 'queued', next_attempt_at: now + 60_000 }],
    ['Retry-After shorter than the schedule does not', r('retry', 1000), 0, config, 0.5, { state: 'queued', next_attempt_at: now + 5000 }],
    ['schedule exhausted', r('retry'), 2, config, 0.5, { state: 'failed', next_attempt_at: null }],
    ['ambiguous retries under on_ambiguous retry', r('ambiguous'), 0, config, 0.5, { state: 'queued', next_attempt_at: now + 5000 }],
    ['ambiguous is held under on_ambiguous hold', r('ambiguous'), 0, hold, 0.5, { state: 'held', next_attempt_at: null }],
  ] as const)('%s', (_name, result, count, cfg, random, expected) => {
    expect(nextStep(result, count, cfg, now, () => random)).toMatchObject(expected);
  });
});

describe('Dispatcher: router behaviours end in the right state', () => {
  type Case = { name: string; steps: Step[]; config?: ConfigInput; state: string; outcomes: string[]; classes: (string | null)[]; logged: number };
  const cases: Case[] = [
    { name: 'redirect then 200: fired on the first attempt', steps: [], state: 'fired', outcomes: ['fired'], classes: [null], logged: 1 },
    { name: '500 twice then success', steps: [{ status: 500 }, { status: 500 }], state: 'fired', outcomes: ['retry', 'retry', 'fired'], classes: ['http_5xx', 'http_5xx', null], logged: 1 },
    { name: '500 until the schedule is exhausted', steps: [{ status: 500 }, { status: 502 }, { status: 503 }], state: 'failed', outcomes: ['retry', 'retry', 'failed'], classes: ['http_5xx', 'http_5xx', 'http_5xx'], logged: 0 },
    { name: '404 fails without retrying', steps: [{ status: 404 }], state: 'failed', outcomes: ['failed'], classes: ['http_4xx'], logged: 0 },
    { name: 'a redirect loop is followed to max_redirects, then fails without retrying', steps: [{ redirect: '/a' }, { redirect: '/sspx' }, { redirect: '/a' }], config: { max_redirects: 2 }, state: 'failed', outcomes: ['failed'], classes: ['too_many_redirects'], logged: 0 },
    { name: 'a reset is retried', steps: [{ reset: true }], state: 'fired', outcomes: ['retry', 'fired'], classes: ['reset', null], logged: 1 },
    { name: 'a timeout after sending is retried under on_ambiguous retry', steps: [{ hang: true }], config: { request_timeout_ms: 2000 }, state: 'fired', outcomes: ['ambiguous', 'fired'], classes: ['timeout_after_send', null], logged: 1 },
    { name: 'a timeout after sending is held under on_ambiguous hold', steps: [{ hang: true }], config: { request_timeout_ms: 2000, on_ambiguous: 'hold' }, state: 'held', outcomes: ['ambiguous'], classes: ['timeout_after_send'], logged: 0 },
  ];

  it.each(cases)('$name', async (c) => {
    const { h, dispatcher } = await setup(c.config);
    router.script(...c.steps);
    const fire = await queueFire(h.store);
    const d = dispatcher();
    d.start();
    const done = await settled(h, fire.id);
    // the last attempt's row is visible once committed; its log line follows its fsync
    await until('the last attempt to finish', () => d.inFlightCount, (n) => n === 0);
    expect(done.state).toBe(c.state);
    expect(done.attempts.map((a) => a.outcome)).toEqual(c.outcomes);
    expect(done.attempts.map((a) => a.error_class)).toEqual(c.classes);
    expect(done.attempts.map((a) => a.n)).toEqual(c.outcomes.map((_, i) => i + 1));
    expect(done.attempt_count).toBe(c.outcomes.length);
    expect(router.logged).toHaveLength(c.logged);
    expect(done.lease_owner).toBeNull();
    for (const a of done.attempts) {
      expect(a.owner).toBe(d.owner);
      expect(a.url).toBe(`${router.url}?id=59633&sspdata=${fire.token}`);
      expect(a.hops!.length).toBeGreaterThan(0);
    }
    if (c.state === 'fired') expect(done.fired_at).not.toBeNull();
    else expect(done.last_error).toBeTruthy();
    // one JSON log line per attempt, with what an operator greps for
    const lines = h.logs.filter((l) => l.msg === 'attempt' && l.fire_id === fire.id);
    expect(lines.map((l) => l.outcome)).toEqual(c.outcomes);
    for (const l of lines) expect(l).toHaveProperty('duration_ms');
    expect(lines[0]).toMatchObject({ attempt: 1 });
  });

  it('waits at least Retry-After before the next attempt, even with a shorter schedule', async () => {
    const { h, dispatcher } = await setup({ retry_schedule_seconds: [0, 0.01, 0.01] });
    router.script({ status: 429, headers: { 'Retry-After': '1' } });
    const fire = await queueFire(h.store);
    dispatcher().start();
    const done = await settled(h, fire.id);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['retry', 'fired']);
    const [first, second] = done.attempts;
    expect(first).toMatchObject({ status: 429, error_class: 'http_429' });
    expect(first.next_attempt_at! - (first.started_at + first.duration_ms!)).toBeGreaterThanOrEqual(990);
    expect(second.started_at).toBeGreaterThanOrEqual(first.next_attempt_at!);
  });

  it('schedules on the injected clock: a retry 300 s away happens only when the clock gets there', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { h, dispatcher } = await setup({ retry_schedule_seconds: [0, 300] }, clock);
    router.script({ status: 500 });
    const fire = await queueFire(h.store, {}, clock);
    const d = dispatcher();
    d.start();
    const after1 = await until('the first attempt', () => h.store.getFire(fire.id), (f) => f!.attempt_count === 1);
    expect(after1!.next_attempt_at).toBe(clock.now() + 300_000);
    await new Promise((r) => setTimeout(r, 100)); // several polls: nothing is due yet
    expect(router.fires).toHaveLength(1);
    clock.advance(300_000);
    d.wake();
    const done = await settled(h, fire.id);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['retry', 'fired']);
    expect(done.attempts[1].started_at).toBe(Date.UTC(2026, 0, 1) + 300_000);
  });
});

describe('Dispatcher: crashes, stops and wake-ups', () => {
  it('recovers a crash between sending and recording: a lease_expired attempt, then the fire is sent again', async () => {
    const { h, dispatcher } = await setup();
    const fire = await queueFire(h.store);
    // a dispatcher claims with a short lease and dies before recording anything
    const claimed = await h.store.claimFires('crashed-host:1:dead', Date.now(), 100, 10);
    expect(claimed.map((f) => f.id)).toEqual([fire.id]);
    await new Promise((r) => setTimeout(r, 150));
    dispatcher().start();
    const done = await settled(h, fire.id);
    expect(done.state).toBe('fired');
    expect(done.attempts.map((a) => a.outcome)).toEqual(['lease_expired', 'fired']);
    expect(done.attempts[0]).toMatchObject({ owner: 'crashed-host:1:dead', hops: null });
    expect(router.logged).toHaveLength(1);
  });

  it('a dispatcher that lost its lease still writes its attempt row but does not move the fire', async () => {
    const { h, dispatcher } = await setup({ lease_seconds: 0.1, request_timeout_ms: 20_000 });
    // far slower than the lease, so the other dispatcher's claim comes first however busy the machine
    router.script({ status: 200, delay_ms: 3000 });
    const fire = await queueFire(h.store);
    // the slow one would otherwise take its own expired lease back at its next poll: make it sleep long
    const slow = new Dispatcher({ ...h.ctx, config: { ...h.ctx.config, poll_interval_ms: 60_000 } }, { owner: 'slow' });
    open.push({ h: { ...h, close: async () => undefined }, d: slow });
    slow.start();
    await router.waitFor((r) => r.fires.length === 1);
    const lost = new Promise((resolve) => slow.once('attempt', resolve));
    await new Promise((r) => setTimeout(r, 150));
    // another process's claim turns the expired lease into a lease_expired attempt and fires again
    const other = new Dispatcher(h.ctx, { owner: 'other' });
    other.start();
    const event = (await lost) as { recorded: boolean };
    expect(event.recorded).toBe(false);
    await settled(h, fire.id);
    await other.stop(1000);
    const done = (await h.store.getFire(fire.id))!;
    expect(done.state).toBe('fired');
    expect(done.attempts.map((a) => [a.owner, a.outcome])).toContainEqual(['slow', 'fired']);
    // the slow request had left (its sending mark was committed), so the take-over records it as ambiguous
    expect(done.attempts.map((a) => a.outcome)).toContain('ambiguous');
    expect(slow.stats.lost_leases).toBe(1);
  });

  it('does not send a fire twice when its own lease expires mid-attempt and its own claim takes it back', async () => {
    const { h, dispatcher } = await setup({ lease_seconds: 0.1, request_timeout_ms: 20_000 });
    router.script({ status: 200, delay_ms: 3000 }); // far past the lease: its own next claim comes first
    const fire = await queueFire(h.store);
    dispatcher().start();
    const done = await settled(h, fire.id);
    expect(done.state).toBe('fired');
    const outcomes = done.attempts.map((a) => a.outcome);
    expect(outcomes[0]).toBe('ambiguous'); // the path under test did happen: its request had left, so not lease_expired
    expect(outcomes.at(-1)).toBe('fired');
    expect(router.fires).toHaveLength(1);
  });

  it('a graceful stop records an attempt cut short after its request reached the router as ambiguous', async () => {
    const { h, dispatcher } = await setup({ request_timeout_ms: 20_000, lease_seconds: 60 });
    router.otherwise({ hang: true });
    const fire = await queueFire(h.store);
    const d = dispatcher();
    d.start();
    await router.waitFor((r) => r.fires.length === 1);
    expect((await h.store.getFire(fire.id))!.state).toBe('in_flight');
    const t0 = Date.now();
    await d.stop(100);
    expect(Date.now() - t0).toBeLessThan(15_000); // far below the request's 20 s timeout: stop did not wait for it
    const after = (await h.store.getFire(fire.id))!;
    // the router may have logged it: evidence for the operator, and on_ambiguous (retry) queues it again
    expect(after).toMatchObject({ state: 'queued', lease_owner: null, attempt_count: 1, last_outcome: 'ambiguous' });
    expect(after.attempts.map((a) => [a.outcome, a.error_class])).toEqual([['ambiguous', 'stopped_after_send']]);
    expect(d.stats.released).toBe(0);
  });

  it('a graceful stop cuts short every attempt still at the router at once (one signal for all), each recorded ambiguous', async () => {
    const { h, dispatcher } = await setup({ request_timeout_ms: 20_000, lease_seconds: 60, max_in_flight: 16 });
    router.otherwise({ hang: true });
    const fires = await Promise.all(Array.from({ length: 12 }, () => queueFire(h.store)));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const d = dispatcher();
      d.start();
      await router.waitFor((r) => r.fires.length === 12);
      await d.stop(100);
      for (const fire of fires) {
        expect((await h.store.getFire(fire.id))!.attempts.map((a) => a.error_class)).toEqual(['stopped_after_send']);
      }
      // twelve attempts listening to one stop signal is by design, not a leak for node to warn about
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a graceful stop releases a fire whose request never left, without an attempt row', async () => {
    const hole = await startBlackhole();
    try {
      // https to a listener that never answers the TLS handshake: connected at TCP, the request never sent
      const { h, dispatcher } = await setup({ router: `https://127.0.0.1:${hole.port}/sspx`, connect_timeout_ms: 20_000, request_timeout_ms: 20_000 });
      const fire = await queueFire(h.store);
      const d = dispatcher();
      d.start();
      await until('the fire to be leased', () => h.store.getFire(fire.id), (f) => f?.state === 'in_flight', 5000);
      await d.stop(100);
      const after = (await h.store.getFire(fire.id))!;
      expect(after).toMatchObject({ state: 'queued', lease_owner: null, attempt_count: 0 });
      expect(after.attempts).toEqual([]);
      expect(d.stats.released).toBe(1);
    } finally {
      await hole.close();
    }
  });

  it('a graceful stop lets an attempt that finishes within the grace period be recorded', async () => {
    const { h, dispatcher } = await setup();
    router.script({ status: 200, delay_ms: 200 });
    const fire = await queueFire(h.store);
    const d = dispatcher();
    d.start();
    await router.waitFor((r) => r.fires.length === 1);
    await d.stop(5000);
    const after = (await h.store.getFire(fire.id))!;
    expect(after.state).toBe('fired');
    expect(after.attempts.map((a) => a.outcome)).toEqual(['fired']);
  });

  it('an idle dispatcher with a long poll interval fires as soon as a conversion commits', async () => {
    const { h, dispatcher } = await setup({ poll_interval_ms: 60_000 });
    const d = dispatcher();
    d.start();
    await new Promise((r) => setTimeout(r, 100)); // let it find nothing and go to sleep for a minute
    const t0 = Date.now();
    const fire = await queueFire(h.store);
    await router.waitFor((r) => r.logged.length === 1, 10_000);
    expect(Date.now() - t0).toBeLessThan(60_000); // the poll would have taken a minute; a bound, not a benchmark
    expect((await settled(h, fire.id)).state).toBe('fired');
  });

  it('keeps at most max_in_flight attempts in flight and fires everything', async () => {
    const { h, dispatcher } = await setup({ max_in_flight: 2 });
    router.otherwise({ status: 200, delay_ms: 50 });
    const fires = await Promise.all(Array.from({ length: 7 }, () => queueFire(h.store)));
    const d = dispatcher();
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, d.inFlightCount)), 2);
    d.start();
    try {
      for (const f of fires) expect((await settled(h, f.id)).state).toBe('fired');
      await until('the last attempt to finish', () => d.inFlightCount, (n) => n === 0);
    } finally {
      clearInterval(sample);
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThan(0);
    expect(router.fires).toHaveLength(7);
    expect(d.stats).toMatchObject({ attempts: 7, fired: 7 });
  });

  it('owner ids differ per dispatcher and name the host and process', async () => {
    const { h } = await setup();
    const a = new Dispatcher(h.ctx);
    const b = new Dispatcher(h.ctx);
    expect(a.owner).not.toBe(b.owner);
    expect(a.owner).toMatch(new RegExp(`:${process.pid}:[0-9a-f]{8}$`));
  });
});
