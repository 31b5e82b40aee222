// Versioned migrations of the PostgreSQL store (the tables are written once, in schema.ts), applied in order under an
// advisory lock: times are BIGINT milliseconds since the epoch, JSON is JSONB, and the text columns that are sorted on
// use the "C" collation so order is byte order, as in SQLite.
import { migrations } from './schema.js';

/** touch-hashes.ts's lookupHash in SQL: the first 48 bits of the MD5, halved */
export const postgresHash = (column: string) => `(('x' || substr(md5(${column}), 1, 12))::bit(48)::bigint >> 1)`;

export const POSTGRES_MIGRATIONS = migrations({ int: 'BIGINT', real: 'DOUBLE PRECISION', json: 'JSONB', serial: 'BIGSERIAL PRIMARY KEY', sorted: ' COLLATE "C"', bool: 'BOOLEAN', false: 'false', hash: postgresHash, jsonText: (c) => `${c}::text`, asJson: (t) => `${t}::jsonb` });

export const LATEST_POSTGRES_MIGRATION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
