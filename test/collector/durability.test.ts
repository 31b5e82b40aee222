// Guards that the collector never fires twice for one dedup key under concurrency, that everything it
// acknowledged survives a restart on the same SQLite file, and that a conversion is answered only after the
// fdatasync that covers its commit (held here, so "not yet" is a pending answer, not a wall-clock margin).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { bearer, post, SERVER_KEY, SITE, startTestCollector, token, type TestCollector } from '../support/collector.js';

const running: TestCollector[] = [];
afterAll(async () => {
  for (const c of running) await c.stop().catch(() => undefined);
});

describe('durability', () => {
  it('50 concurrent conversions with one order_id: exactly one attributed, the rest duplicate', async () => {
    const c = await startTestCollector();
    running.push(c);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        post(c.url + '/v1/conversions', { pixel: 'purchase', token: token(i % 3), order_id: 'RACE-1', value: 5 }, bearer(SERVER_KEY)),
      ),
    );
    const outcomes = results.map((r) => r.json.outcome);
    expect(outcomes.filter((o) => o === 'attributed')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(49);
    const fireIds = new Set(results.map((r) => r.json.fire_id));
    expect(fireIds.size).toBe(1);
    expect(await c.ctx.store.listFires({ order_id: 'RACE-1' })).toHaveLength(1);
  });

  it('a restart on the same file keeps every acknowledged touch and conversion', async () => {
    const first = await startTestCollector();
    const dir = first.dir;
    const acked: { cid?: string; conversion_id?: string; fire_id?: string | null }[] = [];
    const requests = Array.from({ length: 200 }, (_, i) =>
      i % 2
        ? post(first.url + '/t', { t: token(`r${i}`) }, { origin: SITE, 'content-type': 'text/plain' }).then((r) => r.status === 200 && acked.push({ cid: r.json.cid }))
        : post(first.url + '/v1/conversions', { pixel: 'purchase', token: token(`r${i}`), order_id: `R-${i}` }, bearer(SERVER_KEY)).then(
            (r) => r.status === 200 && acked.push({ conversion_id: r.json.conversion_id, fire_id: r.json.fire_id }),
          ),
    );
    await Promise.all(requests);
    expect(acked).toHaveLength(200);
    await first.close();

    const second = await startTestCollector({}, { dir });
    running.push(second);
    for (const a of acked) {
      if (a.cid) expect(await second.ctx.store.touchByCid(a.cid)).toBeDefined();
      if (a.fire_id) expect((await second.ctx.store.getFire(a.fire_id))?.conversion?.id).toBe(a.conversion_id);
    }
    expect((await second.ctx.store.countFires()).queued).toBe(100);
  });

  it('a conversion is answered only once the fdatasync that began after its commit ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sspx-test-'));
    let hold = false;
    const held: (() => void)[] = [];
    let onHeld = () => undefined as void;
    const store = new SqliteStore(join(dir, 'sspx.db'), {
      syncWal: () => (hold ? new Promise<void>((release) => (held.push(release), onHeld())) : Promise.resolve()),
    });
    const c = await startTestCollector({}, { store, dir });
    running.push(c);
    hold = true;
    const heldOnce = new Promise<void>((r) => (onHeld = r));
    let answered = false;
    const answer = post(c.url + '/v1/conversions', { pixel: 'purchase', token: token('sync'), order_id: 'SYNC-1' }, bearer(SERVER_KEY)).then((r) => {
      answered = true;
      return r;
    });
    await heldOnce;
    // the commit is in the file and its fdatasync is held: a request served after it is answered, the conversion not
    expect((await c.ctx.store.listFires({ order_id: 'SYNC-1' })).map((f) => f.order_id)).toEqual(['SYNC-1']);
    expect((await fetch(c.url + '/healthz')).status).toBe(200);
    expect(answered).toBe(false);
    hold = false;
    for (const release of held.splice(0)) release();
    const r = await answer;
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ outcome: 'attributed' });
  });
});
