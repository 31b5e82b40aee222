// Guards issue 15's "crashes must not double fires": a collector process is SIGKILLed under a stream of S2S
// conversions, and a new process on the same SQLite file drains the queue. An attempt commits its sending mark before
// its request is written, so the restart tells the fires in flight apart:
// - marked (the request may have reached the router): with on_ambiguous "hold" each is held with an ambiguous attempt,
//   and every other acknowledged conversion is logged exactly once (none lost, none doubled); with "retry" each is
//   fired again, and the orders the router got twice are exactly those with an ambiguous attempt;
// - unmarked (it surely never left: the router could not be reached): fired again at once at the restart, long before
//   their lease (600 s here) would have expired — measured on the collector's clock, from the file.
// The kill point is chosen so that what was marked is known to be at the router: the router holds its requests until
// the dispatcher is full (no claim, no mark can follow), or it is a blackhole whose TLS handshake never ends (no
// request can be marked). A kill at any other point may fall between a mark's commit and the socket write, where a
// fire counts as ambiguous though it never left; crash-figures.ts measures that case with 3,000 conversions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBlackhole, startRouter, type TestRouter } from '../support/router.js';
import { crashRun, type CrashRun } from './crash-run.js';
import { readDb, until, type Rows } from './db.js';

const CONVERSIONS = 300;
const MAX_IN_FLIGHT = 8;
/** in flight from which the dispatcher claims no more (dispatcher.ts room(): less than half of max_in_flight free) */
const FULL = MAX_IN_FLIGHT - Math.ceil(MAX_IN_FLIGHT / 2) + 1;
const CONFIG = {
  max_in_flight: MAX_IN_FLIGHT,
  // far longer than the test: a fire that waited for its lease to expire would not be fired within it
  lease_seconds: 600,
  request_timeout_ms: 300_000,
  connect_timeout_ms: 300_000,
};

let router: TestRouter;
const runs: CrashRun[] = [];
beforeAll(async () => {
  router = await startRouter();
});
afterAll(async () => {
  for (const p of runs.flatMap((r) => r.procs)) await p.stop(2000).catch(() => undefined);
  await router?.close();
});

const inFlight = (dbPath: string) => readDb(dbPath, (d) => d.prepare("SELECT order_id, sending_at FROM fires WHERE state = 'in_flight'").all() as Rows);

describe('SIGKILL under a stream of S2S conversions, restart on the same SQLite file', () => {
  it.each(['hold', 'retry'] as const)('on_ambiguous %s: the fires whose request was at the router are held or doubled with an ambiguous attempt; the rest logged once', async (on_ambiguous) => {
    const tag = `KS${on_ambiguous[0].toUpperCase()}`;
    let hungFrom = -1;
    const run = await crashRun({
      tag, conversions: CONVERSIONS, on_ambiguous, router, config: CONFIG,
      async killWhen({ dbPath, acked }) {
        // a third of the stream in, the router stops answering fires: it holds each request it gets
        await until('a third of the stream acknowledged', () => acked() >= (CONVERSIONS * 2) / 3);
        hungFrom = router.fires.length;
        router.otherwise((req) => (req.path === '/sspx' ? { hang: true } : { status: 200, body: 'logged' }));
        // until the dispatcher is full of held requests: every fire in flight marked and at the router, no claim to come
        await until('the dispatcher to be full of requests the router holds', () => {
          const rows = inFlight(dbPath);
          const held = new Set(router.fires.slice(hungFrom).map((q) => q.params.order_id));
          return rows.length >= FULL && rows.every((f) => f.sending_at != null && held.has(f.order_id)) && held.size === rows.length;
        }, 30_000, () => inFlight(dbPath));
      },
    });
    runs.push(run);
    const { figures: f, inFlightAtKill, fires, sspx, logged } = run;
    console.log(`[crash-sending ${on_ambiguous}] ${JSON.stringify(f)}; ${run.resent} requests resent after the kill`);
    expect(f.acknowledged).toBe(CONVERSIONS);
    expect(f.in_flight_at_kill.unmarked).toBe(0);
    expect(f.in_flight_at_kill.marked).toBeGreaterThanOrEqual(FULL);
    const atRouter = new Set(inFlightAtKill.map((x) => x.id));
    const ambiguousOf = (id: string) => fires.get(id)!.attempts.filter((a) => a.outcome === 'ambiguous').length;

    for (const [id, fire] of fires) {
      const sent = atRouter.has(id);
      expect(ambiguousOf(id), `fire of ${fire.order_id}`).toBe(sent ? 1 : 0);
      if (sent && on_ambiguous === 'hold') {
        // held with its ambiguous attempt; the router has its one request, which it never logged
        expect([fire.state, sspx.get(fire.order_id), logged.get(fire.order_id)]).toEqual(['held', 1, undefined]);
      } else {
        // logged exactly once; a retried one was sent twice, as its ambiguous attempt says
        expect([fire.state, sspx.get(fire.order_id), logged.get(fire.order_id)], `order ${fire.order_id}`).toEqual(['fired', sent ? 2 : 1, 1]);
      }
    }
    expect(f.lost).toBe(0);
    if (on_ambiguous === 'hold') {
      expect([f.held, f.doubled, f.logged_once]).toEqual([atRouter.size, 0, CONVERSIONS - atRouter.size]);
    } else {
      expect([f.held, f.logged_once]).toEqual([0, CONVERSIONS]);
      expect(f.doubled).toBe(f.ambiguous);
    }
    // taken back at the restart, not when the 600 s lease ran out: the ambiguous attempt is dated at its mark and the
    // retry, if any, was due (and fired) before the old lease's expiry, on the collector's own clock
    for (const x of inFlightAtKill) {
      const attempts = fires.get(x.id)!.attempts;
      const ambiguous = attempts.find((a) => a.outcome === 'ambiguous')!;
      expect(ambiguous.started_at).toBe(x.sending_at);
      if (on_ambiguous === 'retry') expect(attempts.at(-1)!.started_at).toBeLessThan(x.lease_expires_at);
      else expect(ambiguous.next_attempt_at).toBeNull();
    }
  }, 240_000);

  it('fires that never reached the router (its TLS handshake never ended) are fired at once after the restart, not after their lease', async () => {
    const blackhole = await startBlackhole();
    try {
      const run = await crashRun({
        tag: 'KSU', conversions: 100, on_ambiguous: 'hold', router, config: CONFIG,
        firstRouter: `https://127.0.0.1:${blackhole.port}/sspx`,
        async killWhen({ dbPath }) {
          // the dispatcher full of fires whose connection never comes up: none can be marked
          await until('the dispatcher to be full of fires still connecting', () => inFlight(dbPath).length >= FULL, 30_000, () => inFlight(dbPath));
        },
      });
      runs.push(run);
      const { figures: f, inFlightAtKill, fires, sspx, logged } = run;
      console.log(`[crash-sending unmarked] ${JSON.stringify(f)}`);
      expect(f.in_flight_at_kill).toEqual({ marked: 0, unmarked: inFlightAtKill.length });
      expect(inFlightAtKill.length).toBeGreaterThanOrEqual(FULL);
      expect([f.acknowledged, f.logged_once, f.held, f.doubled, f.lost, f.ambiguous]).toEqual([100, 100, 0, 0, 0, 0]);
      for (const x of inFlightAtKill) {
        const attempts = fires.get(x.id)!.attempts;
        // taken back at the restart (a lease_expired attempt: it never left), then fired, before the lease's expiry
        expect(attempts.map((a) => a.outcome)).toEqual(['lease_expired', 'fired']);
        expect(attempts[1].started_at).toBeLessThan(x.lease_expires_at);
        expect([sspx.get(fires.get(x.id)!.order_id), logged.get(fires.get(x.id)!.order_id)]).toEqual([1, 1]);
      }
    } finally {
      await blackhole.close();
    }
  }, 240_000);
});
