// Guards the embedded SQLite store against the shared store contract, on a real file per test, and the file's mode.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { storeSuite } from './store.suite.js';

const dir = mkdtempSync(join(tmpdir(), 'sspx-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
storeSuite('sqlite', () => {
  const path = join(dir, `${++n}`, 'sspx.db');
  return { open: () => new SqliteStore(path) };
});

// The data file holds tokens, visitor and click ids: only its owner may read it, whatever the umask lets through.
describe('the SQLite data file', () => {
  it('is created with mode 0600, and so are its -wal and -shm', async () => {
    const path = join(dir, 'mode', 'sspx.db');
    const old = process.umask(0o022);
    try {
      const store = new SqliteStore(path);
      await store.migrate();
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
      await store.close();
    } finally {
      process.umask(old);
    }
  });
});
