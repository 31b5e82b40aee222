// Guards group commit (collector/batcher.ts): items added in one tick share a flush; what arrives while a flush runs
// (its commit and fsync, the event loop going on) waits and goes in ONE flush after it, not one per tick behind it,
// up to maxBatch; each item is answered with its own result only once its flush ended, and a failed flush fails
// every item in it. The flush is held by the test, so "still waiting" is a pending promise, not a wall-clock margin.
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../collector/batcher.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

/** a flush the test ends: each call waits until released (answering each item doubled) or failed */
function heldFlush() {
  const calls: { items: number[]; release: () => void; fail: (err: Error) => void }[] = [];
  let onCall = () => undefined as void;
  const flush = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ items, release: () => resolve(items.map((i) => i * 2)), fail: reject });
      onCall();
    });
  const called = (n: number) => new Promise<void>((r) => ((onCall = () => calls.length >= n && r()), onCall()));
  return { calls, flush, called };
}

describe('Batcher: group commit', () => {
  it('what arrives during a flush, over several ticks, goes in one flush after it', async () => {
    const f = heldFlush();
    const b = new Batcher<number, number>(f.flush);
    const first = [b.add(1), b.add(2)];
    await f.called(1);
    expect(f.calls[0].items).toEqual([1, 2]);
    const later: Promise<number>[] = [];
    for (const i of [3, 4, 5]) {
      later.push(b.add(i));
      await tick();
    }
    expect(f.calls).toHaveLength(1);
    f.calls[0].release();
    expect(await Promise.all(first)).toEqual([2, 4]);
    await f.called(2);
    expect(f.calls[1].items).toEqual([3, 4, 5]);
    f.calls[1].release();
    expect(await Promise.all(later)).toEqual([6, 8, 10]);
    expect(f.calls).toHaveLength(2);
  });

  it('a batch is never larger than maxBatch, even while a flush runs', async () => {
    const f = heldFlush();
    const b = new Batcher<number, number>(f.flush, 2);
    const all = [1, 2, 3, 4, 5].map((i) => b.add(i));
    await f.called(1);
    f.calls[0].release();
    await f.called(2);
    f.calls[1].release();
    await f.called(3);
    f.calls[2].release();
    expect(await Promise.all(all)).toEqual([2, 4, 6, 8, 10]);
    expect(f.calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('a failed flush fails its items only; drain waits for what was added', async () => {
    const f = heldFlush();
    const b = new Batcher<number, number>(f.flush);
    const lost = b.add(1);
    await f.called(1);
    const kept = b.add(2);
    f.calls[0].fail(new Error('disk full'));
    await expect(lost).rejects.toThrow('disk full');
    await f.called(2);
    const drained = b.drain();
    f.calls[1].release();
    await drained;
    expect(await kept).toBe(4);
  });
});
