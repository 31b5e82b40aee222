// Straight into the SQLite file, before a collector starts: bulk seeds (stored touches, queued fires) in the schema
// the collector's own migrations made (`sspx-relay migrate`), far faster than posting them one by one.
import Database from 'better-sqlite3';
import { touchHashes } from '../../collector/store/touch-hashes.js';
import { TOUCH_TABLE } from '../../collector/store/touch-texts.js';
import { PIXEL_ID, tokenOf } from './setup.js';

/**
 * `n` stored touches in one transaction, the way a month of traffic leaves them: distinct tokens, visitors and click
 * ids, 9 clicks to 1 view, spread over the last 29 days. The touch indexes are dropped for the insert and rebuilt
 * after it (their definitions read back from the file), which is many times faster than inserting into them.
 */
export function seedTouches(path: string, n: number, now: number): void {
  const db = new Database(path);
  try {
    db.pragma('journal_mode = DELETE');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const indexes = db.prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '${TOUCH_TABLE}' AND sql IS NOT NULL`).all() as { name: string; sql: string }[];
    // what every seeded touch says about its client and page, kept once (collector/store/touch-texts.ts)
    const ua = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1';
    const page = { site: 'https://shop.example', source: 'script', ip_prefix: '203.0.113.0/24', user_agent: ua, url: 'https://shop.example/landing', hints: JSON.stringify({ l: 'en-us', mo: true, pf: 'iOS' }) };
    const addText = db.prepare('INSERT INTO touch_texts (text, last_used) VALUES (?, ?) RETURNING id');
    const insert = db.prepare(`INSERT INTO ${TOUCH_TABLE} (kind, token, cid, visitor_id, device_id, site_ref, source_ref, ip_prefix_ref, user_agent_ref, url_ref, referrer_ref, hints_ref, hint_key, occurred_at, created_delay, token_hash, visitor_hash, cid_hash)
                               VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, NULL, ?, NULL, ?, 0, ?, ?, ?)`);
    const span = 29 * 86_400_000;
    db.transaction(() => {
      const ref = Object.fromEntries(Object.entries(page).map(([column, text]) => [column, (addText.get(text, now + 86_400_000) as { id: number }).id]));
      for (const ix of indexes) db.exec(`DROP INDEX ${ix.name}`);
      for (let i = 0; i < n; i++) {
        const id = i.toString(36).padStart(8, '0');
        const at = now - span + Math.floor((i / n) * span);
        const [token, cid, visitor] = [tokenOf(i), `cseed${id}AAAAAAAAAAAAAA`.slice(0, 22), `vseed${id}AAAAAAAAAAAAAA`.slice(0, 22)];
        // the lookup hashes the store would have written (collector/store/touch-hashes.ts)
        const { token_hash, visitor_hash, cid_hash } = touchHashes({ token, visitor_id: visitor, cid });
        insert.run(i % 10 === 9 ? 'view' : 'click', token, cid, visitor, ref.site, ref.source, ref.ip_prefix, ref.user_agent, ref.url, ref.hints, at, token_hash, visitor_hash, cid_hash);
      }
      for (const ix of indexes) db.exec(ix.sql);
    })();
    db.exec('ANALYZE');
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

/** `n` fires queued and due now, as attributed conversions leave them; returns their order ids */
export function seedFires(path: string, n: number, now: number): string[] {
  const db = new Database(path);
  const orders = Array.from({ length: n }, (_, i) => `Q-${i}`);
  try {
    db.pragma('synchronous = OFF');
    const insert = db.prepare(`INSERT INTO fires (id, conversion_id, pixel_id, order_id, value, other, token, state, attempt_count, next_attempt_at, created_at, updated_at)
                               VALUES (?, ?, ${PIXEL_ID}, ?, '10.50', NULL, ?, 'queued', 0, ?, ?, ?)`);
    db.transaction(() => {
      for (let i = 0; i < n; i++) insert.run(`f_seed${i}`, `c_seed${i}`, orders[i], tokenOf(i), now - 1000, now - 1000, now - 1000);
    })();
  } finally {
    db.close();
  }
  return orders;
}
