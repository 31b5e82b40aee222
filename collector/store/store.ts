// The one Store interface. SQLite (embedded default) and PostgreSQL implement it side by side;
// the attribution logic runs once, in TypeScript, over the transaction primitives below.
// Times are integer milliseconds since the epoch everywhere.
import type { ReconcileRow, SavedReport } from './reconcile-sql.js';

import { dayStart, utcDay } from '../clock.js';
import type { AttemptOutcome, BindMethod, ConversionOutcome, ConversionSource, DuplicateRule, FireState, OnAmbiguous, TouchKind, TouchSource } from '../vocabulary.js';

export type { AttemptOutcome, BindMethod, ConversionOutcome, ConversionSource, DuplicateRule, FireState, TouchKind, TouchSource };

export interface Touch {
  id: string;
  kind: TouchKind;
  /** the auction token, byte for byte */
  token: string;
  /** click id: 128 random bits, base64url; carried through deep links and the Play referrer */
  cid: string;
  visitor_id: string | null;
  /** lower-cased advertising id (idfa, aaid, …) */
  device_id: string | null;
  /** the site origin the touch came from */
  site: string | null;
  source: TouchSource;
  /** the client address truncated to /24 (IPv4) or /48 (IPv6) */
  ip_prefix: string | null;
  user_agent: string | null;
  url: string | null;
  referrer: string | null;
  /** screen, language, time zone and the other low-entropy hints, as JSON */
  hints: Record<string, unknown> | null;
  /** salted daily hash for install hint matching; null unless hint matching is on */
  hint_key: string | null;
  occurred_at: number;
  created_at: number;
  /** the install a re-engagement click opened (a deep link into the installed app); null for every other touch */
  install_id: string | null;
}

export interface Conversion {
  id: string;
  pixel_id: number;
  pixel: string;
  source: ConversionSource;
  order_id: string | null;
  value: string | null;
  other: string | null;
  visitor_id: string | null;
  token: string | null;
  cid: string | null;
  install_id: string | null;
  device_id: string | null;
  outcome: ConversionOutcome;
  touch_id: string | null;
  /** whose conversions min_minutes_per_conv counts: the attributed touch's visitor, device or token */
  user_key: string | null;
  /**
   * unique: `o:<pixel>:<order_id>` on an attributed conversion, so an order fires once (an unattributed one never
   * takes it); rows stored before version 8 may hold `u:<pixel>:<user>`
   */
  dedup_key: string | null;
  duplicate_of: string | null;
  occurred_at: number;
  created_at: number;
  /** what the edge dropped from the request rather than lose the conversion (a browser's broken value or other), or null */
  warning: string | null;
  /** a duplicate's deciding rule (null on the others) */
  rule: DuplicateRule | null;
  /** an unattributed conversion of an order that a later attributed conversion (this id) fired */
  superseded_by: string | null;
  /** a test conversion ("test": true): it counts for nobody's order id or repeat rule, and its fire is never sent */
  test: boolean;
}

export interface Fire {
  id: string;
  conversion_id: string;
  pixel_id: number;
  order_id: string | null;
  value: string | null;
  other: string | null;
  token: string;
  state: FireState;
  attempt_count: number;
  next_attempt_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_outcome: AttemptOutcome | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  fired_at: number | null;
  /** recorded by a dry run (config dry_run): the attempt's transcript is the request it would have made; never sent */
  dry_run: boolean;
  /** the fire of a test conversion: recorded as a dry run (URL and transcript), never sent, never replayed */
  test: boolean;
  /**
   * while in flight: when the current attempt's request was about to leave (committed before it did), or null while it
   * has not; what a crash leaves tells a fire that surely never reached the router from one that may have
   */
  sending_at: number | null;
}

/** One request/response exchange of an attempt: what `curl --verbose` prints for one hop. */
export interface Hop {
  request: { method: string; url: string; headers: [string, string][] };
  response?: { http_version: string; status: number; status_text: string; headers: [string, string][]; body_excerpt: string };
  error?: string;
  /** ms from the attempt's start */
  at_ms: number;
  duration_ms: number;
  remote_address?: string;
}

export interface Attempt {
  id: number;
  fire_id: string;
  n: number;
  owner: string | null;
  started_at: number;
  duration_ms: number | null;
  outcome: AttemptOutcome;
  error_class: string | null;
  status: number | null;
  url: string | null;
  hops: Hop[] | null;
  next_attempt_at: number | null;
}

export type NewAttempt = Omit<Attempt, 'id' | 'fire_id' | 'n' | 'owner'>;

/** what an attempt leaves on its fire */
export interface AttemptNext {
  state: FireState;
  next_attempt_at: number | null;
  last_error: string | null;
  /** the attempt was a dry run: nothing was sent */
  dry_run?: boolean;
}

/** when an attempt ended, in whole milliseconds like every stored time (durations carry fractions) */
export const attemptEndedAt = (a: Pick<NewAttempt, 'started_at' | 'duration_ms'>): number => Math.round(a.started_at + (a.duration_ms ?? 0));

export interface Install {
  install_id: string;
  platform: string;
  touch_id: string | null;
  method: BindMethod | null;
  confidence: number | null;
  /** fraud signals, shown to operators */
  flags: Record<string, unknown> | null;
  device_id: string | null;
  bound_at: number | null;
  created_at: number;
}

/** Everything a conversion may be identified by, resolved to what touches are keyed on. */
export interface IdentityKeys {
  visitor_ids: string[];
  tokens: string[];
  device_ids: string[];
  /** touches named themselves: a click id's touch, an install's binding */
  touch_ids: string[];
  /** installs whose re-engagement clicks count */
  install_ids: string[];
}

export interface FireFilter {
  state?: FireState;
  pixel_id?: number;
  order_id?: string;
  last_outcome?: AttemptOutcome;
  /** test fires only (true: recorded, never sent) or real ones only (false) */
  test?: boolean;
  /** created_at bounds, inclusive from, exclusive to */
  from?: number;
  to?: number;
  limit?: number;
  /** created_at/id cursor: fires older than this fire */
  before?: string;
}

export interface FireDetail extends Fire {
  attempts: Attempt[];
  conversion: Conversion | null;
  touch: Touch | null;
  /** the other reports its conversion decided: its duplicates and the unattributed ones it superseded, oldest first */
  linked: Conversion[];
}

/** The primitives attribution and install binding run on, inside one store transaction. */
export interface Tx {
  latestTouch(keys: IdentityKeys, kind: TouchKind, from: number, to: number): Promise<Touch | undefined>;
  touchByCid(cid: string): Promise<Touch | undefined>;
  touchById(id: string): Promise<Touch | undefined>;
  insertTouch(touch: Touch): Promise<void>;
  /** a re-engagement click (install_id set); false when the install has a touch of that token already */
  insertInstallTouch(touch: Touch): Promise<boolean>;
  /** the install's re-engagement click of this token, if it has one */
  installTouchByToken(install_id: string, token: string): Promise<Touch | undefined>;
  conversionByDedupKey(key: string): Promise<Conversion | undefined>;
  /** the latest attributed conversion of this pixel and user since `since` */
  lastAttributedConversion(pixel_id: number, user_key: string, since: number): Promise<Conversion | undefined>;
  /** serialises deciders of one (pixel, user) across processes; a no-op where the store has one writer */
  lockUser(pixel_id: number, user_key: string): Promise<void>;
  /** false when dedup_key is taken (another transaction won the race) */
  insertConversion(conversion: Conversion): Promise<boolean>;
  /** links the unattributed conversions of this pixel's order to the attributed one that fired it */
  supersedeUnattributed(pixel_id: number, order_id: string, by: string): Promise<void>;
  insertFire(fire: Fire): Promise<void>;
  fireByConversion(conversion_id: string): Promise<Fire | undefined>;
  installById(install_id: string): Promise<Install | undefined>;
  installByTouch(touch_id: string): Promise<Install | undefined>;
  /** false when the touch is bound to another install already */
  insertInstall(install: Install): Promise<boolean>;
  /**
   * An unbound install (touch_id null) takes this row's binding — or, with touch_id null, its new facts (device id);
   * false when the install is bound already, or the touch is bound to another install.
   */
  bindInstall(install: Install): Promise<boolean>;
  /** unbound touches with this hint key in [from, to], newest first, at most `limit` */
  touchesByHint(hint_key: string, from: number, to: number, limit: number): Promise<Touch[]>;
}

/** an install as the dashboard shows it: the touches its conversions may be credited to, and those conversions */
export interface InstallDetail {
  install: Install;
  /** its binding, its re-engagement clicks, its device's touches, its binding's visitor's, and any touch one of its
   * conversions credited: oldest first, the latest INSTALL_DETAIL_LIMIT */
  touches: Touch[];
  /** its conversions, oldest first, the latest INSTALL_DETAIL_LIMIT */
  conversions: Conversion[];
}
export const INSTALL_DETAIL_LIMIT = 200;

// The store by role: each consumer is typed against the narrowest role it uses (the dispatcher the outbox, the
// operators' services the queries, retention the purge, ingest its writes and the attribution transaction);
// `Store` is every role at once, what SqliteStore and PostgresStore implement.

/** opening and closing a store, its migrations, and the readiness check */
export interface StoreLifecycle {
  readonly kind: 'sqlite' | 'postgres';
  /** applies pending migrations (up to `upTo`, by default all); answers the versions applied */
  migrate(upTo?: number): Promise<number[]>;
  /** true when every migration this build knows is applied */
  migrationsCurrent(): Promise<boolean>;
  /** throws when the store cannot be reached */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** the attribution transaction: conversions and app opens decided over the Tx primitives */
export interface AttributionStore {
  /** one transaction, committed before the promise resolves; a throw rolls it back */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * `decide` run over each item in order, all committed together before the promise resolves, as in one transaction;
   * how is the store's (PostgreSQL: from one read for the batch and one write, batch-tx.ts). `decide` may run more
   * than once per item and must write only through its Tx.
   */
  decideBatch<I, O>(items: I[], decide: (tx: Tx, item: I) => Promise<O>): Promise<O[]>;
}

/** decideBatch the plain way: each item decided in order in one transaction (SQLite's, PostgreSQL's fallback) */
export function decideInTransaction<I, O>(store: Pick<AttributionStore, 'transaction'>, items: I[], decide: (tx: Tx, item: I) => Promise<O>): Promise<O[]> {
  return store.transaction(async (tx) => {
    const out: O[] = [];
    for (const item of items) out.push(await decide(tx, item));
    return out;
  });
}

/** ingest's writes outside the attribution transaction: touches, secrets, diagnostics; the dashboard's logouts */
export interface IngestStore {
  /** group commit of touches: all or none */
  insertTouches(touches: Touch[]): Promise<void>;
  touchByCid(cid: string): Promise<Touch | undefined>;
  /** the named per-store secret: `fresh` is kept if none exists yet (the first writer wins across processes) */
  secret(name: string, fresh: string): Promise<string>;
  /** a dashboard session logged out (admin/session.ts), until `expires_at`; revocations past their expiry at `now` go */
  revokeSession(nonce: string, expires_at: number, now: number): Promise<void>;
  /** whether the dashboard session `nonce` was logged out (in any process sharing the store) */
  sessionRevoked(nonce: string): Promise<boolean>;
  /** unreplaced macros and other diagnostics, counted per site and UTC day */
  countDiagnostics(rows: { day: string; site: string; kind: string; count: number }[]): Promise<void>;
}

/** the outbox: the dispatcher's queue of fires, and the operator's replay into it */
export interface Outbox {
  /**
   * The dispatcher's claim: first takes back in-flight fires whose lease expired, then leases up to `limit` due fires
   * to `owner`, oldest due first. A fire taken back whose request never left (no sending mark) is due again at once,
   * recorded as a `lease_expired` attempt; one whose request may have reached the router is recorded as an
   * `ambiguous` attempt and is due again at once (`on_ambiguous` retry, the default) or `held` (hold).
   */
  claimFires(owner: string, now: number, lease_ms: number, limit: number, on_ambiguous?: OnAmbiguous): Promise<Fire[]>;
  /**
   * Marks that the current attempt's request is about to leave, committed before it does; false when `owner` no longer
   * holds the lease (another dispatcher took the fire over: the request must not be sent).
   */
  markSending(fire_id: string, owner: string, now: number): Promise<boolean>;
  /**
   * At start, before any claim: in-flight fires a previous incarnation of this process left behind, taken back at
   * once as an expired lease is (see claimFires) rather than after lease_seconds. SQLite has one process, so every in-flight
   * fire is one; PostgreSQL cannot tell another live process's leases from a dead one's and takes back none (they wait
   * for their lease to expire). Answers how many were taken back.
   */
  takeBackOwnLeases(now: number, on_ambiguous: OnAmbiguous): Promise<number>;
  /**
   * Records one attempt and moves the fire to its next state, if `owner` still holds the lease.
   * The attempt row is written either way (it happened); answers whether the fire was updated.
   */
  recordAttempt(
    fire_id: string,
    owner: string,
    attempt: NewAttempt,
    next: AttemptNext,
  ): Promise<boolean>;
  /** graceful stop: the owner's in-flight fires become due now, with no attempt recorded (none of them was sent) */
  releaseFires(owner: string, now: number): Promise<number>;
  /** when the earliest queued fire is due, or null when none is queued */
  nextDueAt(): Promise<number | null>;
  /** operator replay: a failed or held fire is queued again, due now; undefined when not found or not replayable */
  replayFire(id: string, now: number): Promise<Fire | undefined>;
  /** calls back after a commit that queued fires, in this process and (PostgreSQL) in every other one */
  onFiresQueued(listener: () => void): () => void;
}

/** what operators read: fires, the dashboard's numbers (`sspx-relay stats`), reconciliation with Microsoft's report */
export interface OperatorQueries {
  getFire(id: string): Promise<FireDetail | undefined>;
  listFires(filter: FireFilter): Promise<Fire[]>;
  /** one install with its touches and conversions (the dashboard's install page); undefined when unknown */
  installDetail(install_id: string): Promise<InstallDetail | undefined>;
  countFires(): Promise<Record<FireState, number>>;
  /** counts of [from, to) in buckets of bucket_ms from `from`: live rows plus what retention rolled up */
  stats(from: number, to: number, bucket_ms: number): Promise<Stats>;
  /** the outbox right now: queued fires, those due at `now`, in-flight ones, and when the oldest due one became due */
  queueStats(now: number): Promise<QueueStats>;
  diagnostics(fromDay: string, toDay: string): Promise<{ day: string; site: string; kind: string; count: number }[]>;
  // Reconciliation with Microsoft's attributed-conversions report (collector/reconcile/); SQL in reconcile-sql.ts.
  /** conversions created in [from, to), each with its fire, its touch, and the fired conversions of its user before it */
  reconcileRows(from: number, to: number): Promise<ReconcileRow[]>;
  /** keeps this report as the last one reconciled, replacing the one before */
  saveReport(report: SavedReport): Promise<void>;
  lastReport(): Promise<SavedReport | undefined>;
}

/** retention (collector/retention.ts, `sspx-relay purge`) */
export interface RetentionStore {
  /** what a purge with these cutoffs would remove (a dry run) */
  purgeCounts(cutoffs: PurgeCutoffs): Promise<PurgeCounts>;
  /**
   * One batch of one purge step, in one transaction: at most `limit` fires (with their attempts), conversions or
   * touches are rolled up into the daily counts and deleted, or at most `limit` transcripts cleared. Never a
   * queued or in-flight fire, its conversion or its touch. The step is finished when it answers fewer than `limit`.
   */
  purgeBatch(step: PurgeStep, cutoffs: PurgeCutoffs, limit: number): Promise<PurgeCounts>;
  /** forgets the hint keys of touches that occurred before `before` (install hint matching); answers how many */
  clearHints(before: number): Promise<number>;
}

export type Store = StoreLifecycle & AttributionStore & IngestStore & Outbox & OperatorQueries & RetentionStore;

export function emptyKeys(): IdentityKeys {
  return { visitor_ids: [], tokens: [], device_ids: [], touch_ids: [], install_ids: [] };
}

// ---- Operators' numbers and retention ----

/** What the charts count. Times: touches by occurred_at, conversions and fires by created_at, attempts by started_at. */
export type StatsMetric = 'touches' | 'conversions' | 'fires' | 'attempts' | 'attempt_errors';

export interface StatsCount {
  metric: StatsMetric;
  /** touches: kind; conversions: outcome; fires: state; attempts: outcome; attempt_errors: error_class (attempts not fired) */
  key: string;
  /** the bucket's start, ms */
  at: number;
  count: number;
}

export interface DiagnosticCount {
  /** the bucket holding the UTC day's start (the first bucket for a day that began before `from`) */
  at: number;
  day: string;
  site: string;
  kind: string;
  count: number;
}

export interface Stats {
  from: number;
  to: number;
  bucket_ms: number;
  /** one row per (metric, key, bucket) with a count; a rolled-up day counts in the bucket holding its start, when that is in range */
  counts: StatsCount[];
  /** unreplaced macros and other diagnostics of the UTC days that overlap [from, to) */
  diagnostics: DiagnosticCount[];
}

export interface QueueStats {
  /** queued fires, due now or scheduled for a retry */
  queued: number;
  /** queued fires due at `now` */
  due: number;
  in_flight: number;
  /** when the longest-waiting due fire became due; null when none is due */
  oldest_due_at: number | null;
}

/** Everything before these times may go (each a ms time; the retention job computes them from the config). */
export interface PurgeCutoffs {
  /** fires (not queued, not in flight), their attempts and conversions created before this */
  records_before: number;
  /** click and view touches that occurred before these: past retention and past every pixel's window */
  clicks_before: number;
  views_before: number;
  /** attempts started before this lose their transcript (hops) */
  transcripts_before: number;
}

export type PurgeStep = 'fires' | 'conversions' | 'touches' | 'transcripts';
export const PURGE_STEPS: readonly PurgeStep[] = ['fires', 'conversions', 'touches', 'transcripts'];

export interface PurgeCounts {
  fires: number;
  attempts: number;
  conversions: number;
  touches: number;
  /** attempts whose transcript was cleared */
  transcripts: number;
}

export const noPurgeCounts = (): PurgeCounts => ({ fires: 0, attempts: 0, conversions: 0, touches: 0, transcripts: 0 });

/** One row of the daily counts table: what retention removed, counted per UTC day, so old charts keep their numbers. */
export interface DailyCount {
  /** UTC midnight, ms */
  day: number;
  metric: StatsMetric;
  key: string;
  count: number;
}

/**
 * Deleted rows → daily counts, with the same metrics and keys the live stats use. Sorted, so concurrent upserts
 * (PostgreSQL) take their row locks in one order.
 */
export function dailyCounts(rows: { metric: StatsMetric; key: string | null; at: number }[]): DailyCount[] {
  const sums = new Map<string, DailyCount>();
  for (const r of rows) {
    if (r.key == null) continue;
    const day = dayStart(r.at);
    const id = `${day}\u0000${r.metric}\u0000${r.key}`;
    const sum = sums.get(id);
    if (sum) sum.count++;
    else sums.set(id, { day, metric: r.metric, key: r.key, count: 1 });
  }
  return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
}

/** a deleted attempt counts as its outcome and, when it did not fire, as its error class */
export function attemptMetrics(a: { started_at: number; outcome: string; error_class: string | null }): { metric: StatsMetric; key: string | null; at: number }[] {
  const rows: { metric: StatsMetric; key: string | null; at: number }[] = [{ metric: 'attempts', key: a.outcome, at: a.started_at }];
  if (a.outcome !== 'fired' && a.error_class) rows.push({ metric: 'attempt_errors', key: a.error_class, at: a.started_at });
  return rows;
}

/** Both stores answer (metric, key, bucket index, count) rows; this sums them (live and rolled up) into Stats. */
export function collectStats(
  from: number,
  to: number,
  bucket_ms: number,
  rows: { metric: string; key: string | null; b: number; count: number }[],
  diagnostics: { day: string; site: string; kind: string; count: number }[],
): Stats {
  const sums = new Map<string, StatsCount>();
  for (const r of rows) {
    if (r.key == null) continue;
    const at = from + Math.max(0, Math.floor(Number(r.b))) * bucket_ms;
    const id = `${r.metric}\u0000${r.key}\u0000${at}`;
    const sum = sums.get(id);
    if (sum) sum.count += Number(r.count);
    else sums.set(id, { metric: r.metric as StatsMetric, key: r.key, at, count: Number(r.count) });
  }
  const counts = [...sums.values()].sort((a, b) => a.at - b.at || (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0) || (a.key < b.key ? -1 : 1));
  return {
    from,
    to,
    bucket_ms,
    counts,
    diagnostics: diagnostics.map((d) => {
      const start = Date.parse(`${d.day}T00:00:00Z`);
      return { ...d, count: Number(d.count), at: from + Math.max(0, Math.floor((start - from) / bucket_ms)) * bucket_ms };
    }),
  };
}

/** the UTC days (YYYY-MM-DD) that [from, to) overlaps, as the diagnostics table keys them */
export function statsDays(from: number, to: number): [string, string] {
  return [utcDay(from), utcDay(Math.max(from, to - 1))];
}
