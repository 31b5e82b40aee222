// Reads a collector's SQLite file from the test, beside the running process (WAL lets a reader in while it writes).
import Database from 'better-sqlite3';

export function readDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return fn(db);
  } finally {
    db.close();
  }
}

export type Rows = Record<string, any>[];

/** polls `cond` every 50 ms until it holds; throws with `what` after `ms` */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000, state?: () => unknown): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${state ? `: ${JSON.stringify(state())}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** fire states counted */
export function fireStates(path: string): Record<string, number> {
  return readDb(path, (db) => {
    const out: Record<string, number> = {};
    for (const r of db.prepare('SELECT state, COUNT(*) AS n FROM fires GROUP BY state').all() as { state: string; n: number }[]) out[r.state] = r.n;
    return out;
  });
}
