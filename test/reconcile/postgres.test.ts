// Guards the reconciliation on PostgreSQL, a fresh schema per test (the cases: reconcile.suite.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import { describePg } from '../support/pg.js';
import { reconcileSuite } from './reconcile.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'sspx-reconcile-pg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describePg('reconciliation', (pg) => {
  reconcileSuite('postgres', () => {
    const schema = pg.newSchema();
    return { open: () => new PostgresStore(pg.url, { schema, poolSize: 4 }), url: `${pg.url}?schema=${schema}`, dir };
  });
});
