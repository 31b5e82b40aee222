// Guards the embedded store's fsync off the event loop (collector/store/wal-sync.ts): every write that must survive a
// power cut — a conversion's transaction, a sending mark, an attempt — resolves only after an fdatasync of the WAL
// file that began after its commit; writes that commit while one runs share the next; a failed fdatasync fails the
// writes waiting on it; claims and touches do not wait. The fdatasync is injected and held, so "not yet" is a
// promise still pending, not a wall-clock margin; the real one is checked to act on the live WAL file.
import Database from 'better-sqlite3';
import { fstatSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { fdatasync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { T0, attempt, conversion, fire, touch } from './rows.js';

const dir = mkdtempSync(join(tmpdir(), 'sspx-walsync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** an fdatasync the test holds: each call waits until released (or failed) by the test */
function heldSync() {
  const calls: { fd: number; release: () => void; fail: (err: Error) => void }[] = [];
  let armed = false;
  const waiters: (() => void)[] = [];
  return {
    calls,
    /** holds every fdatasync from now on (migrations before it go through) */
    arm: () => (armed = true),
    disarm: () => {
      armed = false;
      for (const c of calls) c.release();
      for (const w of waiters.splice(0)) w();
    },
    sync: (fd: number) =>
      armed
        ? new Promise<void>((release, fail) => {
            calls.push({ fd, release, fail });
            for (const w of waiters.splice(0)) w();
          })
        : Promise.resolve(),
    /** resolves once the fdatasync number n (1-based) was called */
    called: (n: number) =>
      new Promise<void>((r) => {
        const check = () => (calls.length >= n ? r() : waiters.push(check));
        check();
      }),
  };
}

/** whether a promise has settled, after every callback the event loop had ready ran */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  // a macrotask turn: the store's microtasks and any I/O callback already due have run by then
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  return done;
}

const stores: SqliteStore[] = [];
const helds: ReturnType<typeof heldSync>[] = [];
afterEach(async () => {
  // a test that failed may have left an fdatasync held: let everything through before closing
  for (const h of helds.splice(0)) h.disarm();
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
});

let n = 0;
async function open(held = heldSync()) {
  const path = join(dir, `${++n}.db`);
  const store = new SqliteStore(path, { syncWal: held.sync });
  stores.push(store);
  helds.push(held);
  await store.migrate();
  held.arm();
  return { store, held, path };
}

/** a conversion and its fire, in one transaction, as ingest writes them */
const queueFire = (store: SqliteStore, f = fire({ next_attempt_at: T0 })) =>
  store.transaction(async (tx) => {
    await tx.insertConversion(conversion({ id: f.conversion_id }));
    await tx.insertFire(f);
    return f;
  });

describe('the WAL fdatasync off the event loop', () => {
  it('a transaction resolves only once the fdatasync that began after its COMMIT ended', async () => {
    const { store, held, path } = await open();
    const f = fire();
    const written = queueFire(store, f);
    await held.called(1);
    // the fdatasync began after the commit: another connection already reads the fire
    const reader = new Database(path, { readonly: true });
    try {
      expect(reader.prepare('SELECT id FROM fires WHERE id = ?').get(f.id)).toEqual({ id: f.id });
    } finally {
      reader.close();
    }
    expect(await settled(written)).toBe(false);
    held.calls[0].release();
    await expect(written).resolves.toMatchObject({ id: f.id });
  });

  it('writes that commit while an fdatasync runs wait for the next one, which they share', async () => {
    const { store, held } = await open();
    const first = queueFire(store);
    await held.called(1);
    const second = queueFire(store);
    const third = queueFire(store);
    // both committed meanwhile: the running fdatasync may have begun before their frames were written
    expect(await settled(second)).toBe(false);
    expect(held.calls).toHaveLength(1);
    held.calls[0].release();
    await first;
    expect(await settled(second)).toBe(false);
    expect(await settled(third)).toBe(false);
    await held.called(2);
    held.calls[1].release();
    await Promise.all([second, third]);
    expect(held.calls).toHaveLength(2);
  });

  it('a failed fdatasync fails the writes waiting on it; the next write syncs again', async () => {
    const { store, held } = await open();
    const lost = queueFire(store);
    await held.called(1);
    held.calls[0].fail(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    await expect(lost).rejects.toThrow('EIO');
    const next = queueFire(store);
    await held.called(2);
    held.calls[1].release();
    await expect(next).resolves.toBeDefined();
  });

  it('a sending mark and an attempt wait for their fdatasync; a claim and touches do not', async () => {
    const { store, held } = await open();
    const f = await (async () => {
      const p = queueFire(store);
      await held.called(1);
      held.calls[0].release();
      return p;
    })();
    // a claim commits without an fdatasync of its own: the sending mark's covers it
    const [claimed] = await store.claimFires('d1', T0, 30_000, 10);
    expect(claimed.id).toBe(f.id);
    await store.insertTouches([touch()]);
    expect(held.calls).toHaveLength(1);

    const marked = store.markSending(f.id, 'd1', T0);
    await held.called(2);
    expect(await settled(marked)).toBe(false);
    held.calls[1].release();
    expect(await marked).toBe(true);

    const recorded = store.recordAttempt(f.id, 'd1', attempt(), { state: 'fired', next_attempt_at: null, last_error: null });
    await held.called(3);
    expect(await settled(recorded)).toBe(false);
    held.calls[2].release();
    expect(await recorded).toBe(true);
  });

  it('the fdatasync begins before the dispatcher hears of the fires, so it runs while they are claimed', async () => {
    const { store, held } = await open();
    const syncsWhenTold: number[] = [];
    store.onFiresQueued(() => syncsWhenTold.push(held.calls.length));
    const written = queueFire(store);
    await held.called(1);
    expect(syncsWhenTold).toEqual([1]);
    held.calls[0].release();
    await written;
  });

  it('close waits for the fdatasync in flight', async () => {
    const { store, held } = await open();
    const written = queueFire(store);
    await held.called(1);
    const closed = store.close();
    expect(await settled(closed)).toBe(false);
    held.calls[0].release();
    await written;
    await closed;
  });
});

describe('the real fdatasync', () => {
  /** the inode of each descriptor the store syncs, through the real fdatasync */
  function watched() {
    const inodes: number[] = [];
    const real = promisify(fdatasync);
    return { inodes, sync: (fd: number) => (inodes.push(fstatSync(fd).ino), real(fd)) };
  }

  it('acts on the live WAL file: after a checkpoint that truncates it, and in a store reopened on the file', async () => {
    const path = join(dir, `${++n}.db`);
    const w = watched();
    const first = new SqliteStore(path, { syncWal: w.sync });
    await first.migrate();
    await queueFire(first);
    const wal = statSync(`${path}-wal`).ino;
    // a checkpoint that empties the WAL: the next commit restarts it in the same file
    first.db.pragma('wal_checkpoint(TRUNCATE)');
    await queueFire(first);
    expect(statSync(`${path}-wal`).ino).toBe(wal);
    expect(new Set(w.inodes)).toEqual(new Set([wal]));
    await first.close();

    // the last connection's close removed the WAL file: the reopened store syncs the one SQLite makes now
    const again = watched();
    const second = new SqliteStore(path, { syncWal: again.sync });
    stores.push(second);
    const f = await queueFire(second);
    expect(again.inodes.length).toBeGreaterThan(0);
    expect(new Set(again.inodes)).toEqual(new Set([statSync(`${path}-wal`).ino]));
    expect((await second.getFire(f.id))?.id).toBe(f.id);
  });
});
