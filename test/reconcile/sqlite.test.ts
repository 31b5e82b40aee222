// Guards the reconciliation on the embedded SQLite store, a real file per test (the cases: reconcile.suite.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { reconcileSuite } from './reconcile.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'sspx-reconcile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
reconcileSuite('sqlite', () => {
  const path = join(dir, `${++n}`, 'sspx.db');
  return { open: () => new SqliteStore(path), url: `sqlite:${path}`, dir };
});
