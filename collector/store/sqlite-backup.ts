// An online copy of the embedded store, taken over a connection of its own, so it works from another process
// while the collector serves on the same file. SQLite's backup API copies every page in one step: the copy is the
// snapshot of one read transaction, and in WAL mode the collector's writers carry on meanwhile (a reader never
// blocks them). Copying in small steps instead would restart on every write the collector commits in between,
// and under steady load might never finish.
import Database from 'better-sqlite3';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createPrivateFile } from './private-file.js';

/** sqlite3_backup_step's page count for "everything left" (better-sqlite3 caps a step at 2^31 - 1 pages) */
const ALL_PAGES = 0x7fffffff;

export interface SqliteBackup {
  path: string;
  bytes: number;
  /** the newest migration the copy carries (0: an empty store) */
  schemaVersion: number;
  /** rows of the main tables in the copy, for the operator to compare with what they expect */
  rows: { touches: number; conversions: number; fires: number };
}

/**
 * Copies the SQLite file at `source` to `dest`, which must not exist yet. The copy is written beside `dest`
 * under a temporary name, checked (`PRAGMA quick_check`), turned into a self-contained file (rollback journal, no
 * -wal or -shm beside it), fsync'd, and only then renamed to `dest`: a failed or interrupted backup leaves no file
 * that looks complete.
 */
export async function backupSqliteFile(source: string, dest: string): Promise<SqliteBackup> {
  if (source === ':memory:') throw new Error('an in-memory store has nothing on disk to back up');
  if (!existsSync(source)) throw new Error(`there is no store at ${source}`);
  if (existsSync(dest)) throw new Error(`${dest} already exists: a backup never overwrites a file, choose a new path`);
  if (!existsSync(dirname(dest))) throw new Error(`the directory ${dirname(dest)} does not exist`);
  const partial = join(dirname(dest), `.${basename(dest)}.partial-${process.pid}`);
  // opened read-write but never written: a read-only connection cannot open a WAL file whose -shm is missing
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    createPrivateFile(partial); // the copy holds what the store holds: its owner's only, like the store (0600)
    await db.backup(partial, { progress: () => ALL_PAGES });
    const checked = inspect(partial);
    syncFile(partial);
    renameSync(partial, dest);
    syncFile(dirname(dest));
    return { path: dest, bytes: statSync(dest).size, ...checked };
  } catch (err) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-journal`, { force: true });
    throw err;
  } finally {
    db.close();
  }
}

function inspect(path: string): Pick<SqliteBackup, 'schemaVersion' | 'rows'> {
  const copy = new Database(path, { fileMustExist: true });
  try {
    // the copy carries the source's WAL flag; a backup is one file, to be moved and copied as one
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new Error(`the copy failed SQLite's quick_check: ${String(check)}`);
    // touches is a view of touch_rows and its texts since version 13
    const tables = new Set((copy.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'view')`).all() as { name: string }[]).map((t) => t.name));
    const count = (table: string) => (tables.has(table) ? (copy.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n : 0);
    const version = tables.has('schema_migrations')
      ? ((copy.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0)
      : 0;
    return { schemaVersion: version, rows: { touches: count('touches'), conversions: count('conversions'), fires: count('fires') } };
  } finally {
    copy.close();
  }
}

/** fsync a file or a directory (the rename is durable only once its directory is) */
function syncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
