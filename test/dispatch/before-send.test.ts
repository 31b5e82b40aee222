// Guards the sending mark's hook in one attempt (http-fire.ts `beforeSend`): the dispatcher commits that a request may
// reach the router there, so the request's bytes must not leave before the hook resolved, must not leave at all when
// it rejects (the lease was lost, the store failed), and the hook must not run for a connection that never came up
// (such a fire surely never reached the router). Once per attempt, whatever the number of hops.
import { describe, expect, it } from 'vitest';
import { FireAgents, httpFire } from '../../collector/dispatch/http-fire.js';
import { routerForFile, startBlackhole, type TestRouter } from '../support/router.js';

let router: TestRouter;
let agents: FireAgents;
const fire = (beforeSend: () => Promise<void>, url = `${router.url}?id=1&sspdata=T.`, o = {}) =>
  httpFire(url, { connect_timeout_ms: 2000, request_timeout_ms: 10_000, max_redirects: 5, agents, allow_insecure: true, beforeSend, ...o });

routerForFile((fixture) => ({ router, agents } = fixture), () => agents);

describe('beforeSend: the request leaves only once the sending mark is committed', () => {
  it.each([false, true])('holds the request until the hook resolves, once per attempt over both hops (keep-alive socket reused: %s)', async (reused) => {
    if (reused) await fire(async () => undefined);
    router.reset();
    let release!: () => void;
    const calls: number[] = [];
    const attempt = fire(() => {
      calls.push(router.requests.length);
      return new Promise<void>((r) => (release = r));
    });
    await new Promise<void>((r) => { const check = () => (calls.length ? r() : setTimeout(check, 5)); check(); });
    // the connection is up and the hook is pending: the router has had every chance to see a request, and has none
    await new Promise((r) => setTimeout(r, 200));
    expect(router.requests).toHaveLength(0);
    release();
    const result = await attempt;
    expect(result).toMatchObject({ outcome: 'fired', status: 200 });
    expect(result.hops).toHaveLength(2);
    expect(calls).toEqual([0]);
    expect(router.logged).toHaveLength(1);
  });

  it('a rejected hook sends nothing: the attempt is aborted, not_marked, its hop not sent', async () => {
    const result = await fire(() => Promise.reject(new Error('the lease was lost')));
    expect(result).toMatchObject({ outcome: 'aborted', error_class: 'not_marked', status: null });
    expect(result.hops.map((h) => [h.connected, h.sent])).toEqual([[true, false]]);
    expect(result.error).toContain('the lease was lost');
    // the same pool then fires normally, and that is the only request the router ever got
    await fire(async () => undefined);
    expect(router.fires).toHaveLength(1);
  });

  it('is never called for a connection that never came up (a TLS handshake that never ends): retry, unsent', async () => {
    const blackhole = await startBlackhole();
    try {
      let calls = 0;
      const result = await fire(async () => void calls++, `https://127.0.0.1:${blackhole.port}/sspx?id=1&sspdata=T.`, { connect_timeout_ms: 300 });
      expect(result).toMatchObject({ outcome: 'retry', error_class: 'connect_timeout' });
      expect(calls).toBe(0);
      expect(result.hops.every((h) => !h.sent)).toBe(true);
    } finally {
      await blackhole.close();
    }
  });
});
