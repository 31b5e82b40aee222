// Waiting for the dispatcher: after a load, a collector keeps firing what it acknowledged; the bench waits until the
// stand-in router has seen at least that many fires and then nothing new for a moment, within a bound.
import { performance } from 'node:perf_hooks';
import type { BenchRouter } from './router.js';
import { sleep } from './setup.js';

/** seconds from the call until the router logged `n` fires and went quiet (NaN: not within `timeoutMs`) */
export async function firesSettled(router: BenchRouter, n: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  let last = -1;
  while (performance.now() - t0 < timeoutMs) {
    if (router.logged >= n && router.logged === last) return (router.lastLoggedAt - t0) / 1000;
    last = router.logged;
    await sleep(router.logged >= n ? 300 : 100);
  }
  return NaN;
}
