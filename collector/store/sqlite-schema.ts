// Versioned migrations of the SQLite store, applied in order; a version is never edited once released.
import { RECONCILE_MIGRATION_SQL } from './reconcile-sql.js';

export const SQLITE_MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE touches (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('click', 'view')),
  token TEXT NOT NULL,
  cid TEXT NOT NULL UNIQUE,
  visitor_id TEXT,
  device_id TEXT,
  site TEXT,
  source TEXT NOT NULL,
  ip_prefix TEXT,
  user_agent TEXT,
  url TEXT,
  referrer TEXT,
  hints TEXT,
  hint_key TEXT,
  occurred_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX touches_visitor ON touches (visitor_id, kind, occurred_at) WHERE visitor_id IS NOT NULL;
CREATE INDEX touches_token ON touches (token, kind, occurred_at);
CREATE INDEX touches_device ON touches (device_id, kind, occurred_at) WHERE device_id IS NOT NULL;
CREATE INDEX touches_hint ON touches (hint_key, occurred_at) WHERE hint_key IS NOT NULL;
CREATE INDEX touches_occurred ON touches (occurred_at);

CREATE TABLE conversions (
  id TEXT PRIMARY KEY,
  pixel_id INTEGER NOT NULL,
  pixel TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('browser', 'server', 'app')),
  order_id TEXT,
  value TEXT,
  other TEXT,
  visitor_id TEXT,
  token TEXT,
  cid TEXT,
  install_id TEXT,
  device_id TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('attributed', 'unattributed', 'duplicate')),
  touch_id TEXT,
  user_key TEXT,
  dedup_key TEXT UNIQUE,
  duplicate_of TEXT,
  occurred_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX conversions_user ON conversions (pixel_id, user_key, occurred_at) WHERE outcome = 'attributed';
CREATE INDEX conversions_created ON conversions (created_at);

CREATE TABLE fires (
  id TEXT PRIMARY KEY,
  conversion_id TEXT NOT NULL UNIQUE,
  pixel_id INTEGER NOT NULL,
  order_id TEXT,
  value TEXT,
  other TEXT,
  token TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'in_flight', 'fired', 'failed', 'held')),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  last_outcome TEXT,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  fired_at INTEGER
);
CREATE INDEX fires_due ON fires (next_attempt_at) WHERE state = 'queued';
CREATE INDEX fires_lease ON fires (lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX fires_created ON fires (created_at, id);
CREATE INDEX fires_order ON fires (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fire_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  owner TEXT,
  started_at INTEGER NOT NULL,
  duration_ms REAL,
  outcome TEXT NOT NULL CHECK (outcome IN ('fired', 'retry', 'failed', 'ambiguous', 'lease_expired')),
  error_class TEXT,
  status INTEGER,
  url TEXT,
  hops TEXT,
  next_attempt_at INTEGER
);
CREATE INDEX attempts_fire ON attempts (fire_id, n);
CREATE INDEX attempts_started ON attempts (started_at);

CREATE TABLE installs (
  install_id TEXT PRIMARY KEY,
  platform TEXT NOT NULL,
  touch_id TEXT UNIQUE,
  method TEXT,
  confidence REAL,
  flags TEXT,
  device_id TEXT,
  bound_at INTEGER,
  created_at INTEGER NOT NULL
);

CREATE TABLE diagnostics (
  day TEXT NOT NULL,
  site TEXT NOT NULL,
  kind TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (day, site, kind)
);
`,
  },
  {
    // per-store secrets (the daily salt of install hint keys derives from one); hint keys are cleared by occurred_at
    version: 2,
    sql: `
CREATE TABLE secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX touches_hint_age ON touches (occurred_at) WHERE hint_key IS NOT NULL;
`,
  },
  {
    // retention (collector/retention.ts): what it deletes is first counted here per UTC day, so the dashboard's charts
    // over old periods keep their numbers; and the indexes its batches walk
    version: 3,
    sql: `
CREATE TABLE daily_counts (
  day INTEGER NOT NULL,
  metric TEXT NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (day, metric, key)
);
CREATE INDEX conversions_touch ON conversions (touch_id) WHERE touch_id IS NOT NULL;
CREATE INDEX attempts_transcript ON attempts (started_at) WHERE hops IS NOT NULL;
`,
  },
  {
    // the last report reconciled with our fires (collector/reconcile/): one row, replaced by the next
    version: 4,
    sql: RECONCILE_MIGRATION_SQL,
  },
];
