// The embedded store's fsync, off the event loop. SQLite commits with synchronous=NORMAL: the commit's frames are
// written to the `-wal` file (a crash of the process keeps them) but not fsync'd. What must survive a power cut
// (conversions, attempts, sending marks) is answered only after `WalSync.sync()`, called after its COMMIT, resolved:
// an fdatasync of the WAL file through our own file descriptor, which node runs on libuv's thread pool, so HTTP goes
// on meanwhile. Commits made while an fdatasync runs share the next one.
//
// Why an fdatasync of the WAL file after the commit makes that commit as durable as synchronous=FULL would:
// - fdatasync acts on the file (the inode), not on the descriptor: it writes out every page of the file written
//   before the call, through SQLite's descriptor as much as ours, and the file's size when it grew.
// - the WAL is written in order and a commit is its frames: data synced at or after the commit covers it, and every
//   commit before it. synchronous=FULL does no more: an fsync of the WAL at each commit (fdatasync on Linux).
// - a checkpoint under NORMAL syncs the WAL before it copies pages into the database file and syncs the database
//   file after; only then may the next writer restart the WAL, writing over its first frames (the same file, the
//   same inode: our descriptor stays good; the header of the restarted WAL is synced by SQLite itself). A frame
//   written over was in the synced database file already.
// - SQLite deletes the WAL file only when the last connection to the database closes, and a connection in WAL mode
//   keeps a lock that stops another process from doing so while ours is open: the file our descriptor names is the
//   live WAL for as long as the store is open. The descriptor is opened at the first sync (after a commit, so the
//   file exists, created by SQLite with the database's mode) and closed with the store; a reopened store opens its own.
// - a new file's name must be durable too (SQLite would sync the directory at its own first sync of the WAL, which
//   NORMAL leaves to the first checkpoint): the first sync also fsyncs the directory.
// - the dispatcher may claim a fire before the commit that queued it was synced: its request leaves only after its
//   sending mark's sync, which covers the conversion's frames before it.
// A failed fdatasync fails every commit waiting on it: they are not answered as stored (the client sends again;
// an order id makes it a duplicate of the conversion that may have been kept). The next commit tries a new one.
import { close, fdatasync, fsync, open, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

/** the fsync of one file descriptor; tests inject their own to hold it */
export type SyncFile = (fd: number) => Promise<void>;

const fdatasyncAsync = promisify(fdatasync) as SyncFile;
const fsyncAsync = promisify(fsync) as SyncFile;
const closeAsync = promisify(close);
const openAsync = promisify(open);

export class WalSync {
  private fd?: number;
  private dirSynced = false;
  /** the fdatasync in flight */
  private running?: Promise<void>;
  /** the one that starts when the running one ends: every commit made meanwhile waits for it */
  private waiting?: Promise<void>;

  /** `wal`: the database file's path + `-wal` */
  constructor(
    private readonly wal: string,
    private readonly syncFile: SyncFile = fdatasyncAsync,
  ) {}

  /** resolves once everything committed before this call is on disk; call it after the COMMIT */
  sync(): Promise<void> {
    // the running fdatasync may have started before the caller's commit: it needs the next one
    if (this.waiting) return this.waiting;
    if (!this.running) return this.begin();
    const after = this.running.then(
      () => undefined,
      () => undefined,
    );
    return (this.waiting = after.then(() => {
      this.waiting = undefined;
      return this.begin();
    }));
  }

  /** resolves once no fdatasync is running or waiting (their failures are their callers') */
  async idle(): Promise<void> {
    while (this.running || this.waiting) await (this.waiting ?? this.running)!.catch(() => undefined);
  }

  /** after the store's connection closed: the descriptor goes with it */
  async close(): Promise<void> {
    await this.idle();
    if (this.fd !== undefined) await closeAsync(this.fd);
    this.fd = undefined;
  }

  private begin(): Promise<void> {
    const run = this.syncOnce().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async syncOnce(): Promise<void> {
    // opened here, once: sync() is only called after a commit, so SQLite has made the file
    this.fd ??= openSync(this.wal, 'r');
    await this.syncFile(this.fd);
    if (!this.dirSynced) {
      const dir = await openAsync(dirname(this.wal), 'r');
      try {
        await fsyncAsync(dir);
      } finally {
        await closeAsync(dir);
      }
      this.dirSynced = true;
    }
  }
}
