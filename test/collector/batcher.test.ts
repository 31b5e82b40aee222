// Guards group commit (collector/batcher.ts): what arrives while a flush is in flight is flushed together after it,
// not as one small flush per tick queued behind it (each PostgreSQL flush costs its round trips); each item is
// answered with its own result only after its flush; a failed flush fails its items only; drain waits for all.
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../collector/batcher.js';

/** a flush that records each batch and finishes when the test says so */
function heldFlush() {
  const batches: number[][] = [];
  const releases: (() => void)[] = [];
  let failNext = false;
  const flush = (items: number[]) => {
    batches.push(items);
    const fail = failNext;
    failNext = false;
    return new Promise<number[]>((resolve, reject) => releases.push(() => (fail ? reject(new Error('store down')) : resolve(items.map((i) => i * 10)))));
  };
  return { batches, flush, release: () => releases.shift()!(), failNextFlush: () => (failNext = true) };
}

describe('Batcher', () => {
  it('flushes what arrived during a flush together, once it has committed', async () => {
    const f = heldFlush();
    const b = new Batcher(f.flush, 100);
    const first = b.add(1);
    await tick();
    expect(f.batches).toEqual([[1]]);
    const later: Promise<number>[] = [];
    for (const i of [2, 3, 4, 5]) {
      later.push(b.add(i));
      await tick(); // each in a tick of its own
    }
    expect(f.batches).toEqual([[1]]);
    f.release();
    expect(await first).toBe(10);
    await tick();
    expect(f.batches).toEqual([[1], [2, 3, 4, 5]]);
    f.release();
    expect(await Promise.all(later)).toEqual([20, 30, 40, 50]);
  });

  it('cuts what gathered at the largest batch, and drain waits for every flush', async () => {
    const f = heldFlush();
    const b = new Batcher(f.flush, 2);
    const all = [1, 2, 3, 4, 5].map((i) => b.add(i));
    let drained = false;
    const drain = b.drain().then(() => (drained = true));
    for (let i = 0; i < 3; i++) {
      await tick();
      f.release();
    }
    await drain;
    expect(drained).toBe(true);
    expect(f.batches).toEqual([[1, 2], [3, 4], [5]]);
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50]);
  });

  it('fails only the items of a failed flush; the next flush goes on', async () => {
    const f = heldFlush();
    const b = new Batcher(f.flush, 100);
    f.failNextFlush();
    const failed = b.add(1);
    await tick();
    const next = b.add(2);
    f.release();
    await expect(failed).rejects.toThrow('store down');
    await tick();
    f.release();
    expect(await next).toBe(20);
    expect(f.batches).toEqual([[1], [2]]);
  });
});
