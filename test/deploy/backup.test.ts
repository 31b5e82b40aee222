// Guards `sspx-relay backup PATH` as docs/deploy.md promises it: taken from a separate process while a collector
// process serves a stream of conversions (and fires them), the copy — restored as the guide says and migrated —
// holds every conversion acknowledged before the backup began (by conversion id), no attributed conversion without
// its fire, and serves again; the stream meanwhile gets no failure. A PostgreSQL store is refused with the pg_dump
// advice and a non-zero exit, and an existing file is never overwritten.
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, BASE_CONFIG, SERVER_KEY, token } from '../support/collector.js';
import { json, send, spawnCollector, tempDir as makeTempDir, writeConfig, type CollectorProcess } from '../support/proc.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { runCli } from './support.js';
import { touchHashes } from '../../collector/store/touch-hashes.js';
import { TOUCH_TABLE } from '../../collector/store/touch-texts.js';

/** touches written straight into the file before the collector starts: a store of a few MB, so copying it takes a
 * while and conversions keep arriving meanwhile */
const PREFILLED_TOUCHES = 20_000;
const SENDERS = 6;

function prefill(dbPath: string): void {
  const db = new Database(dbPath);
  // each touch its own landing URL: kept once per distinct text (collector/store/touch-texts.ts), so each adds its own
  const addText = db.prepare('INSERT INTO touch_texts (text, last_used) VALUES (?, ?) RETURNING id');
  const insert = db.prepare(`INSERT INTO ${TOUCH_TABLE} (kind, token, cid, source_ref, url_ref, occurred_at, created_delay, token_hash, cid_hash)
                             VALUES ('click', ?, ?, ?, ?, ?, 0, ?, ?)`);
  const now = Date.now();
  const padding = 'x'.repeat(300);
  db.transaction(() => {
    const browser = (addText.get('browser', now + 86_400_000) as { id: number }).id;
    for (let i = 0; i < PREFILLED_TOUCHES; i++) {
      const url = (addText.get(`https://shop.example/landing?p=${padding}&n=${i}`, now + 86_400_000) as { id: number }).id;
      const cid = `prefill${String(i).padStart(9, '0')}AAAAAA`;
      const { token_hash, cid_hash } = touchHashes({ token: token(i), visitor_id: null, cid });
      insert.run(token(i), cid, browser, url, now, token_hash, cid_hash);
    }
  })();
  db.close();
}

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const dir = makeTempDir(prefix);
  dirs.push(dir);
  return dir;
};

describe('sspx-relay backup under a stream of conversions', () => {
  let router: TestRouter;
  let collector: CollectorProcess | undefined;
  let restored: CollectorProcess | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: SENDERS });

  beforeAll(async () => {
    router = await startRouter();
  });

  afterAll(async () => {
    await collector?.stop();
    await restored?.stop();
    agent.destroy();
    await router?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('restores every conversion acknowledged before the backup began', async () => {
    const dir = tempDir('sspx-backup-');
    const configPath = writeConfig(dir, {
      ...BASE_CONFIG,
      store: `sqlite:${join(dir, 'data', 'sspx.db')}`,
      dispatcher: true,
      router: router.url,
      log_level: 'warn',
    });
    expect((await runCli(['migrate', '--config', configPath], dir)).code).toBe(0);
    prefill(join(dir, 'data', 'sspx.db'));
    collector = await spawnCollector({ dir, config: configPath });
    // a reader keeping its snapshot from before the stream, as a long dashboard query would: no checkpoint can move
    // the stream's commits into the main file meanwhile, so they live only in the WAL — where a copy of the file
    // alone, or one that ignored the WAL, would miss them
    const reader = new Database(join(dir, 'data', 'sspx.db'), { readonly: true });
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) FROM conversions').get();

    const acknowledged: string[] = [];
    const failures: string[] = [];
    let next = 0;
    let streaming = true;
    const sender = async () => {
      while (streaming) {
        const n = next++;
        // two in three attribute to a prefilled touch (a fire is queued and fired), the rest stay unattributed
        const body = n % 3 ? { pixel: 'purchase', order_id: `o-${n}`, token: token(n % PREFILLED_TOUCHES) } : { pixel: 'purchase', order_id: `o-${n}`, visitor_id: `v-${n}` };
        const res = await send(`${collector!.url}/v1/conversions`, {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${SERVER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }).catch((err: Error) => ({ status: 0, body: err.message, headers: {} }));
        if (res.status === 200) acknowledged.push(json(res).conversion_id);
        else failures.push(`${res.status} ${res.body}`);
      }
    };
    const senders = Array.from({ length: SENDERS }, sender);
    const until = async (pred: () => boolean) => {
      while (!pred() && failures.length === 0) await new Promise((r) => setTimeout(r, 10));
    };

    await until(() => acknowledged.length >= 300);
    const before = [...acknowledged];
    const backupPath = join(dir, 'backup.db');
    const backup = await runCli(['backup', '--config', configPath, backupPath], dir);
    const duringBackup = acknowledged.length - before.length;
    const target = acknowledged.length + 100;
    await until(() => acknowledged.length >= target); // and a little more after it, so the stream outlives the copy
    streaming = false;
    await Promise.all(senders);
    reader.exec('COMMIT');
    reader.close();

    expect(failures).toEqual([]);
    expect(backup.stderr).toBe('');
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^backed up .*sspx\.db to .*backup\.db: [\d,]+ bytes, schema version \d+, 20,000 touches, [\d,]+ conversions, [\d,]+ fires \(quick_check ok\)\n$/);
    // one self-contained file: nothing beside it that a restore would have to carry along
    expect(existsSync(`${backupPath}-wal`)).toBe(false);
    expect(existsSync(`${backupPath}-journal`)).toBe(false);
    // the collector served on while it was copied (its count is how many were answered during the backup command)
    console.log(`backup: ${before.length} conversions acknowledged before it began, ${duringBackup} while it ran`);

    // restore as docs/deploy.md says: the copy in place of the store, then migrate
    const restoreDir = tempDir('sspx-restore-');
    copyFileSync(backupPath, join(restoreDir, 'sspx.db'));
    const restoredConfig = writeConfig(restoreDir, { ...BASE_CONFIG, store: `sqlite:${join(restoreDir, 'sspx.db')}`, dispatcher: false });
    const migrated = await runCli(['migrate', '--config', restoredConfig], restoreDir);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(/is up to date/);

    const db = new Database(join(restoreDir, 'sspx.db'), { readonly: true });
    const ids = new Set((db.prepare('SELECT id FROM conversions').all() as { id: string }[]).map((r) => r.id));
    const orphans = db.prepare(`SELECT COUNT(*) AS n FROM conversions c WHERE outcome = 'attributed'
                                AND NOT EXISTS (SELECT 1 FROM fires f WHERE f.conversion_id = c.id)`).get() as { n: number };
    const someFire = db.prepare(`SELECT f.id FROM fires f JOIN conversions c ON c.id = f.conversion_id WHERE c.id = ?`);
    const integrity = db.pragma('integrity_check', { simple: true });
    const firedBefore = before.map((id) => someFire.get(id) as { id: string } | undefined).find(Boolean);
    db.close();

    expect(before.filter((id) => !ids.has(id))).toEqual([]);
    expect(orphans.n).toBe(0);
    expect(integrity).toBe('ok');

    // and it serves: ready, with a fire of a conversion from before the backup
    restored = await spawnCollector({ dir: restoreDir, config: restoredConfig });
    expect((await send(`${restored.url}/readyz`)).status).toBe(200);
    expect(firedBefore).toBeDefined();
    const fire = await send(`${restored.url}/v1/fires/${firedBefore!.id}`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(fire.status).toBe(200);
    expect(json(fire).id).toBe(firedBefore!.id);
  }, 120_000);

  it('refuses a PostgreSQL store with the pg_dump advice and a non-zero exit', async () => {
    const dir = tempDir('sspx-backup-pg-');
    const configPath = writeConfig(dir, { ...BASE_CONFIG, store: 'postgres://sspx:secret@db.internal:5432/sspx' });
    const ran = await runCli(['backup', '--config', configPath, join(dir, 'copy.db')], dir);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toMatch(/pg_dump/);
    expect(ran.stderr).not.toMatch(/secret/);
    expect(existsSync(join(dir, 'copy.db'))).toBe(false);
  });

  it('writes a copy only its owner may read, whatever the umask', async () => {
    const dir = tempDir('sspx-backup-mode-');
    const configPath = writeConfig(dir, { ...BASE_CONFIG, store: `sqlite:${join(dir, 'sspx.db')}` });
    expect((await runCli(['migrate', '--config', configPath], dir)).code).toBe(0);
    const copy = join(dir, 'copy.db');
    const ran = await runCli(['backup', '--config', configPath, copy], dir);
    expect(ran.code, ran.stderr).toBe(0);
    expect((statSync(copy).mode & 0o777).toString(8)).toBe('600');
  });

  it('never overwrites an existing file', async () => {
    const dir = tempDir('sspx-backup-exists-');
    const configPath = writeConfig(dir, { ...BASE_CONFIG, store: `sqlite:${join(dir, 'sspx.db')}` });
    expect((await runCli(['migrate', '--config', configPath], dir)).code).toBe(0);
    const existing = join(dir, 'yesterday.db');
    writeFileSync(existing, 'an older backup');
    const ran = await runCli(['backup', '--config', configPath, existing], dir);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/already exists/);
    expect(readFileSync(existing, 'utf8')).toBe('an older backup');
  });
});
