// The seam between the SQL both stores share (ingest-sql.ts, queue-sql.ts, operator-sql.ts, retention-rules.ts) and
// the two stores: the few places where SQLite and PostgreSQL write a statement differently. Every shared statement
// uses @name parameters: SQLite binds them by name, PostgreSQL's store numbers them once (`numbered` in postgres.ts).
// Column types per dialect are schema.ts's own `Dialect`.

export interface SqlDialect {
  /** a row's bucket index: integer division of a time column by @bucket, from @from */
  bucket: (column: string) => string;
  /** appended to a row selection that other processes may hold: PostgreSQL skips their rows, SQLite has one writer */
  skipLocked: string;
  /**
   * which fires a lease expiry or a purge changes, matched on `column`: SQLite runs the statement once per fire
   * (@id), PostgreSQL once for the set it locked (@ids, an array)
   */
  fireSet: (column: string) => string;
  /** touch-hashes.ts's lookupHash of a text, in SQL (SQLite: a function the store registers) */
  hash: (text: string) => string;
  /** a base table's own row address, and the condition that a row is one of those a subquery selected by it
   * (SQLite's rowid; PostgreSQL's ctid, matched as an array so the rows are fetched by address) */
  rowid: string;
  inRows: (subquery: string) => string;
}

/** an INSERT of these columns from the same-named parameters; `onConflict` skips only uniqueness conflicts */
export const insertSql = (table: string, cols: readonly string[], onConflict = false) =>
  `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((c) => '@' + c).join(', ')})${onConflict ? ' ON CONFLICT DO NOTHING' : ''}`;
