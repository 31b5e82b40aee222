// Guards the embedded SQLite store against the shared store contract, on a real file per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { storeSuite } from './store.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'sspx-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
storeSuite('sqlite', () => {
  const path = join(dir, `${++n}`, 'sspx.db');
  return { open: () => new SqliteStore(path) };
});
