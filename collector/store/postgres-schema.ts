// Versioned migrations of the PostgreSQL store (the tables are written once, in schema.ts), applied in order under an
// advisory lock: times are BIGINT milliseconds since the epoch, JSON is JSONB, and the text columns that are sorted on
// use the "C" collation so order is byte order, as in SQLite.
import { migrations } from './schema.js';

export const POSTGRES_MIGRATIONS = migrations({ int: 'BIGINT', real: 'DOUBLE PRECISION', json: 'JSONB', serial: 'BIGSERIAL PRIMARY KEY', sorted: ' COLLATE "C"', bool: 'BOOLEAN', false: 'false' });

export const LATEST_POSTGRES_MIGRATION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
