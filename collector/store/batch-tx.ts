// A batch of conversions decided from memory: the attribution rules (ingest/attribution.ts) run unchanged over a Tx
// whose reads are answered from rows fetched for the whole batch at once and whose writes are collected, to be
// written in one statement. A store with a round trip per statement (PostgreSQL) decides a batch in two: one read,
// one write, instead of several per conversion inside one long transaction.
//
// How the rows are found without a second copy of the rules: a pass runs every decision over what has been fetched
// so far, answering each read not fetched yet as "nothing" and noting it; the noted reads are fetched together and
// the pass runs again, until one pass needs nothing new. The first pass (nothing fetched) asks for the conversion's
// own keys (its token, visitor, device, click id, install, order), which is all a usual conversion needs; a read that
// depends on a row fetched (a click id's visitor) costs one more round. A conversion read brings its fire, an install
// its bound touch, so a duplicate's answer or an install's binding need no round of their own.
//
// Each pass also sees the batch's own earlier writes (an implicit touch, an order attributed by an earlier conversion
// of the batch), exactly as the same decisions inside one transaction would. What the batch relied on that another
// process could change before the write (BatchWrites.checks, and the order's unique dedup key) is checked by the write.
import type { Conversion, Fire, IdentityKeys, Install, Touch, TouchKind, Tx } from './store.js';

/** one read of the store, as the Tx primitives ask it; `to` bounds a touch lookup (the newest at or before it) */
export type Lookup =
  | { read: 'cid'; cid: string }
  | { read: 'touch'; id: string }
  | { read: 'latest'; column: KeyColumn; value: string; kind: TouchKind; to: number }
  | { read: 'dedup'; key: string }
  | { read: 'attributed'; pixel_id: number; user_key: string }
  | { read: 'fire'; conversion_id: string }
  | { read: 'install'; install_id: string };

/** the touch columns a conversion's identity keys are matched on (IdentityKeys, touch ids aside) */
export type KeyColumn = 'visitor_id' | 'token' | 'device_id' | 'install_id';

/** what a store answers for one lookup: the row (null: none) and the rows it brings along */
export interface LookupAnswer {
  row: Touch | Conversion | Fire | Install | null;
  /** a conversion's fire */
  fire?: Fire | null;
  /** an install's bound touch */
  touch?: Touch | null;
}

/** what the batch writes, in one statement, once every decision is made */
export interface BatchWrites {
  touches: Touch[];
  conversions: Conversion[];
  supersedes: { pixel_id: number; order_id: string; by: string }[];
  fires: Fire[];
  /** `pixel_id:user_key` of every user whose repeat window was looked at: locked by the write, in this order */
  locks: string[];
  /** repeat windows found free in the store: the write fails if an attributed conversion arrived there since */
  checks: { pixel_id: number; user_key: string; since: number }[];
}

/** identity keys in the order attribution weighs a tie (the earlier key wins), with the column each matches */
const KEY_COLUMNS: [keyof IdentityKeys, KeyColumn | 'id'][] = [
  ['visitor_ids', 'visitor_id'], ['tokens', 'token'], ['device_ids', 'device_id'], ['touch_ids', 'id'], ['install_ids', 'install_id'],
];

export const lookupKey = (l: Lookup) => JSON.stringify(l);

/** the newest first, then the latest recorded: the order of latestTouchSql */
const newer = (a: Touch, b: Touch | undefined) => !b || a.occurred_at > b.occurred_at || (a.occurred_at === b.occurred_at && a.created_at > b.created_at);

/** the rows fetched so far, by lookup */
export class Fetched {
  readonly answers = new Map<string, LookupAnswer>();

  add(lookup: Lookup, answer: LookupAnswer): void {
    this.answers.set(lookupKey(lookup), answer);
    // what a row brings along answers its own lookup too
    if (answer.fire !== undefined && answer.row) this.answers.set(lookupKey({ read: 'fire', conversion_id: (answer.row as Conversion).id }), { row: answer.fire });
    if (answer.touch !== undefined && answer.touch) this.answers.set(lookupKey({ read: 'touch', id: answer.touch.id }), { row: answer.touch });
    if (lookup.read === 'cid' && answer.row) this.answers.set(lookupKey({ read: 'touch', id: (answer.row as Touch).id }), answer);
  }
}

/** One pass over the batch: a Tx answering from `fetched` and the batch's writes so far, noting what it lacks. */
class PassTx implements Tx {
  readonly missing = new Map<string, Lookup>();
  readonly writes: BatchWrites = { touches: [], conversions: [], supersedes: [], fires: [], locks: [], checks: [] };

  constructor(private readonly fetched: Fetched) {}

  private get<R>(lookup: Lookup): R | undefined {
    const answer = this.fetched.answers.get(lookupKey(lookup));
    if (!answer) {
      this.missing.set(lookupKey(lookup), lookup);
      return undefined;
    }
    return (answer.row ?? undefined) as R | undefined;
  }

  private newestUnder(column: KeyColumn | 'id', value: string, kind: TouchKind, from: number, to: number): Touch | undefined {
    const inWindow = (t: Touch | undefined) => (t && t.kind === kind && t.occurred_at >= from && t.occurred_at <= to ? t : undefined);
    // a touch id names one touch; any other key, the newest at or before `to`, in the window or not at all
    let best = column === 'id' ? inWindow(this.get<Touch>({ read: 'touch', id: value })) : inWindow(this.get<Touch>({ read: 'latest', column, value, kind, to }));
    for (const t of this.writes.touches) if (t[column] === value && inWindow(t) && newer(t, best)) best = t;
    return best;
  }

  async latestTouch(keys: IdentityKeys, kind: TouchKind, from: number, to: number): Promise<Touch | undefined> {
    let best: Touch | undefined;
    for (const [list, column] of KEY_COLUMNS) {
      for (const value of keys[list]) {
        const t = this.newestUnder(column, value, kind, from, to);
        if (t && (!best || t.occurred_at > best.occurred_at)) best = t;
      }
    }
    return best;
  }

  async touchByCid(cid: string): Promise<Touch | undefined> {
    return this.writes.touches.find((t) => t.cid === cid) ?? this.get<Touch>({ read: 'cid', cid });
  }

  async touchById(id: string): Promise<Touch | undefined> {
    return this.writes.touches.find((t) => t.id === id) ?? this.get<Touch>({ read: 'touch', id });
  }

  async insertTouch(touch: Touch): Promise<void> {
    this.writes.touches.push(touch);
  }

  async conversionByDedupKey(key: string): Promise<Conversion | undefined> {
    return this.writes.conversions.find((c) => c.dedup_key === key) ?? this.get<Conversion>({ read: 'dedup', key });
  }

  async lastAttributedConversion(pixel_id: number, user_key: string, since: number): Promise<Conversion | undefined> {
    const stored = this.get<Conversion>({ read: 'attributed', pixel_id, user_key });
    let best = stored && stored.occurred_at >= since ? stored : undefined;
    if (!best && this.fetched.answers.has(lookupKey({ read: 'attributed', pixel_id, user_key }))) this.writes.checks.push({ pixel_id, user_key, since });
    for (const c of this.writes.conversions) {
      if (c.pixel_id === pixel_id && c.user_key === user_key && c.outcome === 'attributed' && c.occurred_at >= since && (!best || c.occurred_at > best.occurred_at)) best = c;
    }
    return best;
  }

  async lockUser(pixel_id: number, user_key: string): Promise<void> {
    this.writes.locks.push(`${pixel_id}:${user_key}`);
  }

  async insertConversion(conversion: Conversion): Promise<boolean> {
    if (conversion.dedup_key && (await this.conversionByDedupKey(conversion.dedup_key))) return false;
    this.writes.conversions.push(conversion);
    return true;
  }

  async supersedeUnattributed(pixel_id: number, order_id: string, by: string): Promise<void> {
    this.writes.supersedes.push({ pixel_id, order_id, by });
  }

  async insertFire(fire: Fire): Promise<void> {
    this.writes.fires.push(fire);
  }

  async fireByConversion(conversion_id: string): Promise<Fire | undefined> {
    return this.writes.fires.find((f) => f.conversion_id === conversion_id) ?? this.get<Fire>({ read: 'fire', conversion_id });
  }

  async installById(install_id: string): Promise<Install | undefined> {
    return this.get<Install>({ read: 'install', install_id });
  }

  // app opens bind installs in a transaction of their own (ingest/installs.ts), never in a conversion batch
  installByTouch(): Promise<Install | undefined> {
    return notInBatch();
  }
  insertInstall(): Promise<boolean> {
    return notInBatch();
  }
  bindInstall(): Promise<boolean> {
    return notInBatch();
  }
  insertInstallTouch(): Promise<boolean> {
    return notInBatch();
  }
  installTouchByToken(): Promise<Touch | undefined> {
    return notInBatch();
  }
  touchesByHint(): Promise<Touch[]> {
    return notInBatch();
  }
}

const notInBatch = (): Promise<never> => Promise.reject(new Error('an install binding is not decided in a conversion batch'));

/** the most rounds of reads a batch takes before its store decides it the slow way (in a transaction) */
export const MAX_READ_ROUNDS = 4;

/**
 * Decides `items` in order over rows fetched by `read` (one call per round), answering the decisions and the writes
 * they make; undefined when the reads did not settle within MAX_READ_ROUNDS.
 */
export async function decideFromMemory<I, O>(
  items: I[],
  decide: (tx: Tx, item: I) => Promise<O>,
  read: (lookups: Lookup[]) => Promise<LookupAnswer[]>,
): Promise<{ results: O[]; writes: BatchWrites } | undefined> {
  const fetched = new Fetched();
  for (let round = 0; round <= MAX_READ_ROUNDS; round++) {
    const tx = new PassTx(fetched);
    const results: O[] = [];
    for (const item of items) results.push(await decide(tx, item));
    if (!tx.missing.size) {
      const locks = [...new Set(tx.writes.locks)].sort();
      return { results, writes: { ...tx.writes, locks } };
    }
    if (round === MAX_READ_ROUNDS) break;
    const lookups = [...tx.missing.values()];
    const answers = await read(lookups);
    lookups.forEach((l, i) => fetched.add(l, answers[i]));
  }
  return undefined;
}
