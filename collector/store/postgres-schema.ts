// Versioned migrations of the PostgreSQL store, applied in order under an advisory lock; a version is never
// edited once released. The tables mirror sqlite-schema.ts: times are BIGINT milliseconds since the epoch,
// JSON is JSONB, and the text columns that are sorted on use the "C" collation so order is byte order, as in SQLite.
import { RECONCILE_MIGRATION_SQL } from './reconcile-sql.js';

export const POSTGRES_MIGRATIONS: { version: number; sql: string }[] = [
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
  hints JSONB,
  hint_key TEXT,
  occurred_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX touches_visitor ON touches (visitor_id, kind, occurred_at) WHERE visitor_id IS NOT NULL;
CREATE INDEX touches_token ON touches (token, kind, occurred_at);
CREATE INDEX touches_device ON touches (device_id, kind, occurred_at) WHERE device_id IS NOT NULL;
CREATE INDEX touches_hint ON touches (hint_key, occurred_at) WHERE hint_key IS NOT NULL;
CREATE INDEX touches_occurred ON touches (occurred_at);

CREATE TABLE conversions (
  id TEXT PRIMARY KEY,
  pixel_id BIGINT NOT NULL,
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
  occurred_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX conversions_user ON conversions (pixel_id, user_key, occurred_at) WHERE outcome = 'attributed';
CREATE INDEX conversions_created ON conversions (created_at);

CREATE TABLE fires (
  id TEXT COLLATE "C" PRIMARY KEY,
  conversion_id TEXT NOT NULL UNIQUE,
  pixel_id BIGINT NOT NULL,
  order_id TEXT,
  value TEXT,
  other TEXT,
  token TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'in_flight', 'fired', 'failed', 'held')),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  lease_owner TEXT,
  lease_expires_at BIGINT,
  last_outcome TEXT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  fired_at BIGINT
);
CREATE INDEX fires_due ON fires (next_attempt_at) WHERE state = 'queued';
CREATE INDEX fires_lease ON fires (lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX fires_created ON fires (created_at, id);
CREATE INDEX fires_order ON fires (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE attempts (
  id BIGSERIAL PRIMARY KEY,
  fire_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  owner TEXT,
  started_at BIGINT NOT NULL,
  duration_ms DOUBLE PRECISION,
  outcome TEXT NOT NULL CHECK (outcome IN ('fired', 'retry', 'failed', 'ambiguous', 'lease_expired')),
  error_class TEXT,
  status INTEGER,
  url TEXT,
  hops JSONB,
  next_attempt_at BIGINT
);
CREATE INDEX attempts_fire ON attempts (fire_id, n);
CREATE INDEX attempts_started ON attempts (started_at);

CREATE TABLE installs (
  install_id TEXT PRIMARY KEY,
  platform TEXT NOT NULL,
  touch_id TEXT UNIQUE,
  method TEXT,
  confidence DOUBLE PRECISION,
  flags JSONB,
  device_id TEXT,
  bound_at BIGINT,
  created_at BIGINT NOT NULL
);

CREATE TABLE diagnostics (
  day TEXT COLLATE "C" NOT NULL,
  site TEXT COLLATE "C" NOT NULL,
  kind TEXT COLLATE "C" NOT NULL,
  count BIGINT NOT NULL,
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
  created_at BIGINT NOT NULL
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
  day BIGINT NOT NULL,
  metric TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  count BIGINT NOT NULL,
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

export const LATEST_POSTGRES_MIGRATION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
