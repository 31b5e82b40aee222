// The one Store interface. SQLite (embedded default) and PostgreSQL implement it side by side;
// the attribution logic runs once, in TypeScript, over the transaction primitives below.
// Times are integer milliseconds since the epoch everywhere.

export type TouchKind = 'click' | 'view';
export type TouchSource = 'script' | 'impression' | 'server' | 'conversion' | 'app';
export type ConversionSource = 'browser' | 'server' | 'app';
export type ConversionOutcome = 'attributed' | 'unattributed' | 'duplicate';
export type FireState = 'queued' | 'in_flight' | 'fired' | 'failed' | 'held';
export type AttemptOutcome = 'fired' | 'retry' | 'failed' | 'ambiguous' | 'lease_expired';
export type BindMethod = 'deep_link' | 'referrer' | 'token' | 'device_id' | 'hint';

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
  /** unique: one conversion per (pixel, order_id), or per (pixel, user) when min_minutes_per_conv is null */
  dedup_key: string | null;
  duplicate_of: string | null;
  occurred_at: number;
  created_at: number;
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
}

export interface FireFilter {
  state?: FireState;
  pixel_id?: number;
  order_id?: string;
  last_outcome?: AttemptOutcome;
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
}

/** The primitives attribution and install binding run on, inside one store transaction. */
export interface Tx {
  latestTouch(keys: IdentityKeys, kind: TouchKind, from: number, to: number): Promise<Touch | undefined>;
  touchByCid(cid: string): Promise<Touch | undefined>;
  touchById(id: string): Promise<Touch | undefined>;
  insertTouch(touch: Touch): Promise<void>;
  conversionByDedupKey(key: string): Promise<Conversion | undefined>;
  /** the latest attributed conversion of this pixel and user since `since` */
  lastAttributedConversion(pixel_id: number, user_key: string, since: number): Promise<Conversion | undefined>;
  /** serialises deciders of one (pixel, user) across processes; a no-op where the store has one writer */
  lockUser(pixel_id: number, user_key: string): Promise<void>;
  /** false when dedup_key is taken (another transaction won the race) */
  insertConversion(conversion: Conversion): Promise<boolean>;
  insertFire(fire: Fire): Promise<void>;
  fireByConversion(conversion_id: string): Promise<Fire | undefined>;
  installById(install_id: string): Promise<Install | undefined>;
  installByTouch(touch_id: string): Promise<Install | undefined>;
  /** false when the touch is bound to another install already */
  insertInstall(install: Install): Promise<boolean>;
  /** an unbound install (touch_id null) takes the row's binding; false when it is bound already or the touch is bound to another install */
  bindInstall(install: Install): Promise<boolean>;
  /** unbound touches with this hint key in [from, to], newest first, at most `limit` */
  touchesByHint(hint_key: string, from: number, to: number, limit: number): Promise<Touch[]>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** applies pending migrations; answers the versions applied */
  migrate(): Promise<number[]>;
  /** true when every migration this build knows is applied */
  migrationsCurrent(): Promise<boolean>;
  /** throws when the store cannot be reached */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** one transaction, committed before the promise resolves; a throw rolls it back */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;

  /** group commit of touches: all or none */
  insertTouches(touches: Touch[]): Promise<void>;
  touchByCid(cid: string): Promise<Touch | undefined>;
  /** the named per-store secret: `fresh` is kept if none exists yet (the first writer wins across processes) */
  secret(name: string, fresh: string): Promise<string>;
  /** forgets the hint keys of touches that occurred before `before` (install hint matching); answers how many */
  clearHints(before: number): Promise<number>;
  /** unreplaced macros and other diagnostics, counted per site and UTC day */
  countDiagnostics(rows: { day: string; site: string; kind: string; count: number }[]): Promise<void>;
  diagnostics(fromDay: string, toDay: string): Promise<{ day: string; site: string; kind: string; count: number }[]>;

  /**
   * The dispatcher's claim: first turns in-flight fires whose lease expired back into due fires (each recorded
   * as a `lease_expired` attempt), then leases up to `limit` due fires to `owner`, oldest due first.
   */
  claimFires(owner: string, now: number, lease_ms: number, limit: number): Promise<Fire[]>;
  /**
   * Records one attempt and moves the fire to its next state, if `owner` still holds the lease.
   * The attempt row is written either way (it happened); answers whether the fire was updated.
   */
  recordAttempt(
    fire_id: string,
    owner: string,
    attempt: NewAttempt,
    next: { state: FireState; next_attempt_at: number | null; last_error: string | null },
  ): Promise<boolean>;
  /** graceful stop: the owner's in-flight fires become due now, with no attempt recorded */
  releaseFires(owner: string, now: number): Promise<number>;
  /** when the earliest queued fire is due, or null when none is queued */
  nextDueAt(): Promise<number | null>;
  /** operator replay: a failed or held fire is queued again, due now; undefined when not found or not replayable */
  replayFire(id: string, now: number): Promise<Fire | undefined>;
  getFire(id: string): Promise<FireDetail | undefined>;
  listFires(filter: FireFilter): Promise<Fire[]>;
  countFires(): Promise<Record<FireState, number>>;
  /** calls back after a commit that queued fires, in this process and (PostgreSQL) in every other one */
  onFiresQueued(listener: () => void): () => void;
}

export function emptyKeys(): IdentityKeys {
  return { visitor_ids: [], tokens: [], device_ids: [] };
}
