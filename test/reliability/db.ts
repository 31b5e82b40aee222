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

export interface ReceiptCheck {
  /** orders the router received exactly once */
  exact: number;
  /** orders received more than once, each extra receipt explained by an attempt the store recorded as `ambiguous`
   *  (a timeout after the request was sent) or `lease_expired` (a crash, or an attempt that outlived its lease) */
  explained: number;
  /** orders never received, or received more often than the recorded attempts explain: the bugs */
  unexplained: string[];
  /** attempts recorded as ambiguous / lease_expired, over all these fires */
  ambiguous: number;
  lease_expired: number;
}

/**
 * Compares what the router received per order_id with what the store recorded for that order's fire: exactly once,
 * unless an attempt was recorded as ambiguous or lease_expired, when the router may have seen it once more each time.
 */
export function checkReceipts(path: string, orders: Iterable<string>, receipts: Map<string, number>): ReceiptCheck {
  const unsure = readDb(path, (db) => {
    const rows = db
      .prepare(`SELECT f.order_id AS order_id, a.outcome AS outcome, COUNT(*) AS n FROM fires f JOIN attempts a ON a.fire_id = f.id
                WHERE a.outcome IN ('ambiguous', 'lease_expired') GROUP BY f.order_id, a.outcome`)
      .all() as { order_id: string; outcome: string; n: number }[];
    const byOrder = new Map<string, { ambiguous: number; lease_expired: number }>();
    for (const r of rows) {
      const e = byOrder.get(r.order_id) ?? { ambiguous: 0, lease_expired: 0 };
      e[r.outcome as 'ambiguous' | 'lease_expired'] += r.n;
      byOrder.set(r.order_id, e);
    }
    return byOrder;
  });
  const out: ReceiptCheck = { exact: 0, explained: 0, unexplained: [], ambiguous: 0, lease_expired: 0 };
  for (const order of orders) {
    const n = receipts.get(order) ?? 0;
    const u = unsure.get(order) ?? { ambiguous: 0, lease_expired: 0 };
    out.ambiguous += u.ambiguous;
    out.lease_expired += u.lease_expired;
    if (n === 1) out.exact++;
    else if (n > 1 && n - 1 <= u.ambiguous + u.lease_expired) out.explained++;
    else out.unexplained.push(`${order}: ${n} receipts, ${u.ambiguous} ambiguous and ${u.lease_expired} lease_expired attempts`);
  }
  return out;
}
