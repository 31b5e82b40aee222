// The store's tables, written once for both stores: each dialect (sqlite-schema.ts, postgres-schema.ts) fills in its
// column types. Versions are applied in order and never edited once released: each dialect produces, byte for byte,
// the text its store was released with (integers that are plain INTEGER in PostgreSQL too are written so here).
import { RECONCILE_MIGRATION_SQL } from './reconcile-sql.js';
import type { Conversion, Fire, Install, Touch } from './store.js';
import { cidKeySql, TOUCH_HASHED, TOUCH_HASH_COLUMNS, touchHashes, touchIdOf, touchIdSql } from './touch-hashes.js';
import { MAX_TOUCH_TEXT, TOUCH_TABLE, TOUCH_TEXT_COLUMNS, textRef, type TextColumn, type TextRefs, type TouchTexts } from './touch-texts.js';
import { ATTEMPT_OUTCOMES, CONVERSION_OUTCOMES, CONVERSION_SOURCES, DUPLICATE_RULES, FIRE_STATES, sqlList, TOUCH_KINDS } from '../vocabulary.js';

/** each row's columns, in the order both stores insert and select them */
export const TOUCH_COLUMNS = ['id', 'kind', 'token', 'cid', 'visitor_id', 'device_id', 'site', 'source', 'ip_prefix', 'user_agent', 'url', 'referrer', 'hints', 'hint_key', 'occurred_at', 'created_at', 'install_id'] satisfies (keyof Touch)[];
export const CONVERSION_COLUMNS = ['id', 'pixel_id', 'pixel', 'source', 'order_id', 'value', 'other', 'visitor_id', 'token', 'cid', 'install_id', 'device_id', 'outcome', 'touch_id', 'user_key', 'dedup_key', 'duplicate_of', 'occurred_at', 'created_at', 'warning', 'rule', 'superseded_by', 'test'] satisfies (keyof Conversion)[];
export const FIRE_COLUMNS = ['id', 'conversion_id', 'pixel_id', 'order_id', 'value', 'other', 'token', 'state', 'attempt_count', 'next_attempt_at', 'lease_owner', 'lease_expires_at', 'last_outcome', 'last_error', 'created_at', 'updated_at', 'fired_at', 'test'] satisfies (keyof Fire)[];
/** a touch as stored: its columns, then the hashes its lookups go through (touch-hashes.ts) */
export const TOUCH_ROW_COLUMNS = [...TOUCH_COLUMNS, ...TOUCH_HASH_COLUMNS];
/** a touch as its base table stores it (migration 13): no id (its click id's first 16 characters, touch-hashes.ts),
 * its texts by reference (touch-texts.ts), created_at as its delay after occurred_at (none for a browser's touch, which
 * SQLite stores in no bytes), then its hashes */
const storedColumns = (c: string): string[] =>
  c === 'url' ? ['url_ref', 'url_params'] : (TOUCH_TEXT_COLUMNS as readonly string[]).includes(c) ? [textRef(c as TextColumn)] : c === 'created_at' ? ['created_delay'] : [c];
export const TOUCH_STORED_COLUMNS = TOUCH_ROW_COLUMNS.filter((c) => c !== 'id').flatMap(storedColumns);
/** a touch's insert parameters for its base table (TOUCH_STORED_COLUMNS), given the ids of its texts
 * (TextCache.refs): one literal, as spreading the touch into a new object cost more than the insert itself */
export const storedTouch = (t: Touch, { urlParams: url_params }: TouchTexts, refs: TextRefs): Record<string, unknown> => {
  // the id is not stored: one that is not the click id's would be lost
  if (t.id !== touchIdOf(t.cid)) throw new Error(`touch ${t.id} does not carry its click id's id ${touchIdOf(t.cid)}`);
  const hashes = touchHashes(t);
  return {
    kind: t.kind, token: t.token, cid: t.cid, visitor_id: t.visitor_id, device_id: t.device_id,
    site_ref: refs.site, source_ref: refs.source, ip_prefix_ref: refs.ip_prefix, user_agent_ref: refs.user_agent, url_ref: refs.url, url_params,
    referrer_ref: refs.referrer, hints_ref: refs.hints, hint_key: t.hint_key, occurred_at: t.occurred_at,
    created_delay: t.created_at - t.occurred_at, install_id: t.install_id,
    token_hash: hashes.token_hash, visitor_hash: hashes.visitor_hash, cid_hash: hashes.cid_hash,
  };
};
/** what a touch's SELECT reads (never `*`: the hashes are the store's, not the touch's), optionally of an alias */
export const touchSelect = (alias = '') => TOUCH_COLUMNS.map((c) => alias + c).join(', ');
export const INSTALL_COLUMNS = ['install_id', 'platform', 'touch_id', 'method', 'confidence', 'flags', 'device_id', 'bound_at', 'created_at'] satisfies (keyof Install)[];

/** the column types where SQLite and PostgreSQL differ */
export interface Dialect {
  /** integer milliseconds and counts */
  int: string;
  real: string;
  json: string;
  /** an auto-numbered primary key */
  serial: string;
  /** a text column sorted on: byte order in both stores */
  sorted: string;
  /** a true/false column's type and its false literal */
  bool: string;
  false: string;
  /** touch-hashes.ts's lookupHash of a text column, in SQL (SQLite: a function the store registers) */
  hash: (column: string) => string;
  /** a JSON column's text, and a text read back as the JSON column type */
  jsonText: (column: string) => string;
  asJson: (text: string) => string;
  /** PostgreSQL's one-statement write of a decided conversion batch (postgres-schema.ts); nothing in SQLite */
  conversionBatchWriter: string;
}

/** the view `touches`: the base table's columns, each text read back from touch_texts (touch-texts.ts) */
const touchesView = (d: Dialect) => {
  const text = (column: TextColumn) => `(SELECT x.text FROM touch_texts x WHERE x.id = r.${textRef(column)})`;
  const read = (c: string) =>
    c === 'url' ? `${text('url')} || COALESCE(r.url_params, '') AS url`
    : (TOUCH_TEXT_COLUMNS as readonly string[]).includes(c) ? `${c === 'hints' ? d.asJson(text('hints')) : text(c as TextColumn)} AS ${c}`
    : c === 'created_at' ? 'r.occurred_at + r.created_delay AS created_at' : c === 'id' ? `${touchIdSql('r.cid')} AS id` : `r.${c}`;
  return `CREATE VIEW touches AS SELECT ${TOUCH_ROW_COLUMNS.map(read).join(', ')} FROM ${TOUCH_TABLE} r;`;
};

export const migrations = (d: Dialect): { version: number; sql: string }[] => [
  {
    version: 1,
    sql: `
CREATE TABLE touches (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN (${sqlList(TOUCH_KINDS)})),
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
  hints ${d.json},
  hint_key TEXT,
  occurred_at ${d.int} NOT NULL,
  created_at ${d.int} NOT NULL
);
CREATE INDEX touches_visitor ON touches (visitor_id, kind, occurred_at) WHERE visitor_id IS NOT NULL;
CREATE INDEX touches_token ON touches (token, kind, occurred_at);
CREATE INDEX touches_device ON touches (device_id, kind, occurred_at) WHERE device_id IS NOT NULL;
CREATE INDEX touches_hint ON touches (hint_key, occurred_at) WHERE hint_key IS NOT NULL;
CREATE INDEX touches_occurred ON touches (occurred_at);

CREATE TABLE conversions (
  id TEXT PRIMARY KEY,
  pixel_id ${d.int} NOT NULL,
  pixel TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN (${sqlList(CONVERSION_SOURCES)})),
  order_id TEXT,
  value TEXT,
  other TEXT,
  visitor_id TEXT,
  token TEXT,
  cid TEXT,
  install_id TEXT,
  device_id TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN (${sqlList(CONVERSION_OUTCOMES)})),
  touch_id TEXT,
  user_key TEXT,
  dedup_key TEXT UNIQUE,
  duplicate_of TEXT,
  occurred_at ${d.int} NOT NULL,
  created_at ${d.int} NOT NULL
);
CREATE INDEX conversions_user ON conversions (pixel_id, user_key, occurred_at) WHERE outcome = 'attributed';
CREATE INDEX conversions_created ON conversions (created_at);

CREATE TABLE fires (
  id TEXT${d.sorted} PRIMARY KEY,
  conversion_id TEXT NOT NULL UNIQUE,
  pixel_id ${d.int} NOT NULL,
  order_id TEXT,
  value TEXT,
  other TEXT,
  token TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN (${sqlList(FIRE_STATES)})),
  attempt_count INTEGER NOT NULL DEFAULT 0,
  next_attempt_at ${d.int},
  lease_owner TEXT,
  lease_expires_at ${d.int},
  last_outcome TEXT,
  last_error TEXT,
  created_at ${d.int} NOT NULL,
  updated_at ${d.int} NOT NULL,
  fired_at ${d.int}
);
CREATE INDEX fires_due ON fires (next_attempt_at) WHERE state = 'queued';
CREATE INDEX fires_lease ON fires (lease_expires_at) WHERE state = 'in_flight';
CREATE INDEX fires_created ON fires (created_at, id);
CREATE INDEX fires_order ON fires (order_id) WHERE order_id IS NOT NULL;

CREATE TABLE attempts (
  id ${d.serial},
  fire_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  owner TEXT,
  started_at ${d.int} NOT NULL,
  duration_ms ${d.real},
  outcome TEXT NOT NULL CHECK (outcome IN (${sqlList(ATTEMPT_OUTCOMES)})),
  error_class TEXT,
  status INTEGER,
  url TEXT,
  hops ${d.json},
  next_attempt_at ${d.int}
);
CREATE INDEX attempts_fire ON attempts (fire_id, n);
CREATE INDEX attempts_started ON attempts (started_at);

CREATE TABLE installs (
  install_id TEXT PRIMARY KEY,
  platform TEXT NOT NULL,
  touch_id TEXT UNIQUE,
  method TEXT,
  confidence ${d.real},
  flags ${d.json},
  device_id TEXT,
  bound_at ${d.int},
  created_at ${d.int} NOT NULL
);

CREATE TABLE diagnostics (
  day TEXT${d.sorted} NOT NULL,
  site TEXT${d.sorted} NOT NULL,
  kind TEXT${d.sorted} NOT NULL,
  count ${d.int} NOT NULL,
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
  created_at ${d.int} NOT NULL
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
  day ${d.int} NOT NULL,
  metric TEXT${d.sorted} NOT NULL,
  key TEXT${d.sorted} NOT NULL,
  count ${d.int} NOT NULL,
  PRIMARY KEY (day, metric, key)
);
CREATE INDEX conversions_touch ON conversions (touch_id) WHERE touch_id IS NOT NULL;
CREATE INDEX attempts_transcript ON attempts (started_at) WHERE hops IS NOT NULL;
`,
  },
  {
    // a dry run (config dry_run, the built-in local setup) records a fire's request without sending it
    version: 4,
    sql: `
ALTER TABLE fires ADD COLUMN dry_run ${d.bool} NOT NULL DEFAULT ${d.false};
`,
  },
  {
    // the last report reconciled with our fires (collector/reconcile/): one row, replaced by the next
    version: 5,
    sql: RECONCILE_MIGRATION_SQL,
  },
  {
    // a browser conversion whose value or other broke its rule counts without it; the warning says what was dropped
    version: 6,
    sql: `
ALTER TABLE conversions ADD COLUMN warning TEXT;
`,
  },
  {
    // re-engagement: a deep link that opens an installed app is a click tied to that install (ingest/installs.ts);
    // one per install and token, so an app retrying its open records it once
    version: 7,
    sql: `
ALTER TABLE touches ADD COLUMN install_id TEXT;
CREATE UNIQUE INDEX touches_install ON touches (install_id, token) WHERE install_id IS NOT NULL;
CREATE INDEX conversions_install ON conversions (install_id) WHERE install_id IS NOT NULL;
`,
  },
  {
    // counted as Microsoft counts (ingest/attribution.ts): a duplicate names the rule that decided it; an unattributed
    // conversion no longer takes its order's dedup key (those stored before give theirs back), and the attributed one
    // that fires the order later links it
    version: 8,
    sql: `
ALTER TABLE conversions ADD COLUMN rule TEXT CHECK (rule IN (${sqlList(DUPLICATE_RULES)}));
ALTER TABLE conversions ADD COLUMN superseded_by TEXT;
UPDATE conversions SET dedup_key = NULL WHERE outcome = 'unattributed' AND dedup_key IS NOT NULL;
CREATE INDEX conversions_order ON conversions (pixel_id, order_id) WHERE outcome = 'unattributed' AND order_id IS NOT NULL;
CREATE INDEX conversions_linked ON conversions (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX conversions_superseded ON conversions (superseded_by) WHERE superseded_by IS NOT NULL;
`,
  },
  {
    // a test conversion ("test": true) is attributed as usual; its fire is recorded as a dry run and never sent
    version: 9,
    sql: `
ALTER TABLE conversions ADD COLUMN test ${d.bool} NOT NULL DEFAULT ${d.false};
ALTER TABLE fires ADD COLUMN test ${d.bool} NOT NULL DEFAULT ${d.false};
`,
  },
  {
    // crash safety: set (committed) just before an attempt's request is written to the socket, cleared when the attempt
    // is recorded. A fire left in flight without it surely never reached the router; with it, it may have (on_ambiguous)
    version: 10,
    sql: `
ALTER TABLE fires ADD COLUMN sending_at ${d.int};
`,
  },
  {
    // dashboard logouts (admin/session.ts), kept until the session would have expired anyway: they survive a
    // restart and reach every process sharing the store
    version: 11,
    sql: `
CREATE TABLE revoked_sessions (
  nonce TEXT PRIMARY KEY,
  expires_at ${d.int} NOT NULL
);
CREATE INDEX revoked_sessions_expiry ON revoked_sessions (expires_at);
`,
  },
  {
    // disk per touch (issue 16): the token, visitor and click id are indexed by a hash instead of their text
    // (touch-hashes.ts; lookups compare the text too), which drops cid's UNIQUE index with the rebuilt table: a
    // click id is 128 random bits. Every index is recreated under its name.
    version: 12,
    sql: `
CREATE TABLE touches_v12 (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN (${sqlList(TOUCH_KINDS)})),
  token TEXT NOT NULL,
  cid TEXT NOT NULL,
  visitor_id TEXT,
  device_id TEXT,
  site TEXT,
  source TEXT NOT NULL,
  ip_prefix TEXT,
  user_agent TEXT,
  url TEXT,
  referrer TEXT,
  hints ${d.json},
  hint_key TEXT,
  occurred_at ${d.int} NOT NULL,
  created_at ${d.int} NOT NULL,
  install_id TEXT,
  ${TOUCH_HASHED.token} ${d.int} NOT NULL,
  ${TOUCH_HASHED.visitor_id} ${d.int},
  ${TOUCH_HASHED.cid} ${d.int} NOT NULL
);
INSERT INTO touches_v12 (id, kind, token, cid, visitor_id, device_id, site, source, ip_prefix, user_agent, url, referrer, hints, hint_key, occurred_at, created_at, install_id, ${TOUCH_HASH_COLUMNS.join(', ')})
  SELECT id, kind, token, cid, visitor_id, device_id, site, source, ip_prefix, user_agent, url, referrer, hints, hint_key, occurred_at, created_at, install_id, ${d.hash('token')}, ${d.hash('visitor_id')}, ${d.hash('cid')} FROM touches;
DROP TABLE touches;
ALTER TABLE touches_v12 RENAME TO touches;
CREATE INDEX touches_token ON touches (${TOUCH_HASHED.token});
CREATE INDEX touches_visitor ON touches (${TOUCH_HASHED.visitor_id}) WHERE ${TOUCH_HASHED.visitor_id} IS NOT NULL;
CREATE INDEX touches_cid ON touches (${TOUCH_HASHED.cid});
CREATE INDEX touches_device ON touches (device_id, kind, occurred_at) WHERE device_id IS NOT NULL;
CREATE INDEX touches_hint ON touches (hint_key, occurred_at) WHERE hint_key IS NOT NULL;
CREATE INDEX touches_occurred ON touches (occurred_at);
CREATE INDEX touches_hint_age ON touches (occurred_at) WHERE hint_key IS NOT NULL;
CREATE UNIQUE INDEX touches_install ON touches (install_id, token) WHERE install_id IS NOT NULL;
`,
  },
  {
    // disk per touch (issue 16): what a request says about its client and page (site, source, address prefix, user
    // agent, landing URL, referrer, hints) is kept once per distinct text in touch_texts and named by the touch, and
    // created_at as its delay after occurred_at; a touch's id is its click id's first 16 characters, not stored
    // (touch-hashes.ts: the click id's hash covers them, so it finds a touch by either), and the touch ids conversions
    // and installs hold are rewritten to them. `touches` becomes the view that reads them back, so every reader sees
    // the columns it saw before. Writes go to the base table, touch_rows; its indexes are recreated under their names.
    // A text past MAX_TOUCH_TEXT bytes (a whole serialised URL, as builds before issue 15 kept it) is not carried
    // over: its touch keeps no such column, and PostgreSQL's index on touch_texts.text would refuse the migration.
    version: 13,
    sql: `
CREATE TABLE touch_texts (
  id ${d.serial},
  text TEXT NOT NULL UNIQUE,
  last_used ${d.int} NOT NULL
);
INSERT INTO touch_texts (text, last_used)
  SELECT text, MAX(occurred_at) + 1 FROM (
    ${TOUCH_TEXT_COLUMNS.map((c) => `SELECT ${c === 'hints' ? d.jsonText(c) : c} AS text, occurred_at FROM touches`).join('\n    UNION ALL ')}
  ) named WHERE text IS NOT NULL AND octet_length(text) <= ${MAX_TOUCH_TEXT} GROUP BY text;
CREATE TABLE ${TOUCH_TABLE} (
  kind TEXT NOT NULL CHECK (kind IN (${sqlList(TOUCH_KINDS)})),
  token TEXT NOT NULL,
  cid TEXT NOT NULL,
  visitor_id TEXT,
  device_id TEXT,
  site_ref ${d.int},
  source_ref ${d.int} NOT NULL,
  ip_prefix_ref ${d.int},
  user_agent_ref ${d.int},
  url_ref ${d.int},
  url_params TEXT,
  referrer_ref ${d.int},
  hints_ref ${d.int},
  hint_key TEXT,
  occurred_at ${d.int} NOT NULL,
  created_delay ${d.int} NOT NULL,
  install_id TEXT,
  ${TOUCH_HASHED.token} ${d.int} NOT NULL,
  ${TOUCH_HASHED.visitor_id} ${d.int},
  ${TOUCH_HASHED.cid} ${d.int} NOT NULL
);
INSERT INTO ${TOUCH_TABLE} (${TOUCH_STORED_COLUMNS.join(', ')})
  SELECT ${TOUCH_ROW_COLUMNS.filter((c) => c !== 'id').map((c) =>
    // a URL kept before keeps its text whole (url_params NULL): joined back, the same URL
    c === 'url' ? `(SELECT x.id FROM touch_texts x WHERE x.text = t.url), NULL`
    : (TOUCH_TEXT_COLUMNS as readonly string[]).includes(c) ? `(SELECT x.id FROM touch_texts x WHERE x.text = ${c === 'hints' ? d.jsonText('t.hints') : `t.${c}`})`
    : c === 'created_at' ? 't.created_at - t.occurred_at' : c === TOUCH_HASHED.cid ? d.hash(cidKeySql('t.cid')) : `t.${c}`).join(', ')}
  FROM touches t;
UPDATE conversions SET touch_id = (SELECT ${touchIdSql('t.cid')} FROM touches t WHERE t.id = conversions.touch_id)
  WHERE touch_id IN (SELECT id FROM touches);
UPDATE installs SET touch_id = (SELECT ${touchIdSql('t.cid')} FROM touches t WHERE t.id = installs.touch_id)
  WHERE touch_id IN (SELECT id FROM touches);
DROP TABLE touches;
${touchesView(d)}
CREATE INDEX touches_token ON ${TOUCH_TABLE} (${TOUCH_HASHED.token});
CREATE INDEX touches_visitor ON ${TOUCH_TABLE} (${TOUCH_HASHED.visitor_id}) WHERE ${TOUCH_HASHED.visitor_id} IS NOT NULL;
CREATE INDEX touches_cid ON ${TOUCH_TABLE} (${TOUCH_HASHED.cid});
CREATE INDEX touches_device ON ${TOUCH_TABLE} (device_id, kind, occurred_at) WHERE device_id IS NOT NULL;
CREATE INDEX touches_hint ON ${TOUCH_TABLE} (hint_key, occurred_at) WHERE hint_key IS NOT NULL;
CREATE INDEX touches_occurred ON ${TOUCH_TABLE} (occurred_at);
CREATE INDEX touches_hint_age ON ${TOUCH_TABLE} (occurred_at) WHERE hint_key IS NOT NULL;
CREATE UNIQUE INDEX touches_install ON ${TOUCH_TABLE} (install_id, token) WHERE install_id IS NOT NULL;
`,
  },
  {
    // a conversion batch in two round trips on PostgreSQL (issue 16): decided from one read (batch-tx.ts), written by
    // one call of a function; SQLite decides in its one writer's transaction and needs none
    version: 14,
    sql: d.conversionBatchWriter,
  },
];
