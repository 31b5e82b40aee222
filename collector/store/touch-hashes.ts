// Touches are looked up by token, visitor and click id: random strings whose text indexes cost most of a touch's
// disk and insert time (issue 16: 108 + 48 + 34 of ~750 B per touch, and a random B-tree page per insert). Each is
// indexed by a 47-bit hash instead (6 bytes in SQLite's record format), and every lookup compares the real value
// too, so a collision costs one more row read, never a wrong touch. The hash is computed here for inserts and
// lookups, and by the same formula in SQL (schema.ts's Dialect.hash) for the migration that fills existing rows.
import { hash } from 'node:crypto';
import type { Touch } from './store.js';

/** the first 48 bits of the text's MD5 (its UTF-8 bytes), halved: a non-negative integer below 2^47. The one-shot
 * `hash` costs a fifth of createHash's object per call, and an insert takes three */
export const lookupHash = (text: string | null | undefined): number | null =>
  text == null ? null : Math.floor(parseInt(hash('md5', text, 'hex').slice(0, 12), 16) / 2);

/** each hashed column of touches, by the column it hashes */
export const TOUCH_HASHED = { token: 'token_hash', visitor_id: 'visitor_hash', cid: 'cid_hash' } as const;
export type HashedColumn = keyof typeof TOUCH_HASHED;
export const TOUCH_HASH_COLUMNS = Object.values(TOUCH_HASHED);

/** a touch's hash columns, inserted beside its own */
export const touchHashes = (t: Pick<Touch, HashedColumn>) => ({
  token_hash: lookupHash(t.token),
  visitor_hash: lookupHash(t.visitor_id),
  cid_hash: lookupHash(t.cid),
});

/** the condition that finds `column` = @`param` through its hash (@`param`_hash), or the plain one for other columns */
export const touchMatch = (column: string, param: string, alias = ''): string => {
  const hashed = (TOUCH_HASHED as Record<string, string>)[column];
  return hashed ? `${alias}${hashed} = @${param}_hash AND ${alias}${column} = @${param}` : `${alias}${column} = @${param}`;
};

/** the parameters touchMatch names: the value and, for a hashed column, its hash */
export const matchArgs = (column: string, param: string, value: string): Record<string, unknown> =>
  column in TOUCH_HASHED ? { [param]: value, [`${param}_hash`]: lookupHash(value) } : { [param]: value };
