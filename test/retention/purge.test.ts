// Guards retention on both stores: old touches go but ones inside a pixel's window stay, transcripts are cleared
// after their age, queued and in-flight fires (and their conversions and touches) are never deleted, what is
// deleted survives as daily counts in stats, a dry run changes nothing, and batches report progress.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { PostgresStore } from '../../collector/store/postgres.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { describePg } from '../support/pg.js';
import { purgeSuite } from './purge.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'sspx-retention-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
purgeSuite('sqlite', () => new SqliteStore(join(dir, `${++n}`, 'sspx.db')));

describePg('retention on PostgreSQL', (pg) => {
  purgeSuite('postgres', () => new PostgresStore(pg.url, { schema: pg.newSchema(), poolSize: 4 }));
});
