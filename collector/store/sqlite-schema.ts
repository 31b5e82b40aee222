// Versioned migrations of the SQLite store (the tables are written once, in schema.ts), applied in order.
import { migrations } from './schema.js';

export const SQLITE_MIGRATIONS = migrations({ int: 'INTEGER', real: 'REAL', json: 'TEXT', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', sorted: '', bool: 'INTEGER', false: '0' });
