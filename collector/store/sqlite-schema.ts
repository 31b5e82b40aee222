// Versioned migrations of the SQLite store (the tables are written once, in schema.ts), applied in order.
import { migrations } from './schema.js';

/** the SQL function SqliteStore registers for touch-hashes.ts's lookupHash (migration 12 fills existing rows with it) */
export const SQLITE_HASH_FUNCTION = 'sspx_hash';
export const sqliteHash = (column: string) => `${SQLITE_HASH_FUNCTION}(${column})`;

export const SQLITE_MIGRATIONS = migrations({
  int: 'INTEGER', real: 'REAL', json: 'TEXT', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', sorted: '', bool: 'INTEGER', false: '0', hash: sqliteHash, jsonText: (c) => c, asJson: (t) => t,
  conversionBatchWriter: '',
});
