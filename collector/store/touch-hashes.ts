// Touches are looked up by token, visitor, click id and id: random strings whose text indexes cost most of a touch's
// disk and insert time (issue 16: 108 + 48 + 34 of ~750 B per touch, and a random B-tree page per insert). Each is
// indexed by a 47-bit hash instead (6 bytes in SQLite's record format), and every lookup compares the real value
// too, so a collision costs one more row read, never a wrong touch. The hash is computed here for inserts and
// lookups, and by the same formula in SQL (schema.ts's Dialect.hash) for the migrations that fill existing rows.
//
// A touch's id is not stored (migration 13): it is `t_` and the first 16 characters (96 random bits) of its click id,
// so the click id's hash, taken over those 16 characters, finds a touch by either.
import { hash } from 'node:crypto';
import type { Touch } from './store.js';

/** the first 48 bits of the text's MD5 (its UTF-8 bytes), halved: a non-negative integer below 2^47. The one-shot
 * `hash` costs a fifth of createHash's object per call, and an insert takes three */
export const lookupHash = (text: string | null | undefined): number | null =>
  text == null ? null : Math.floor(parseInt(hash('md5', text, 'hex').slice(0, 12), 16) / 2);

/** how much of the click id its id carries, and so its hash covers */
const CID_KEY_LENGTH = 16;
const TOUCH_ID_PREFIX = 't_';

/** a touch's id: `t_` and its click id's first 16 characters (as random as a minted id: 96 bits) */
export const touchIdOf = (cid: string): string => TOUCH_ID_PREFIX + cid.slice(0, CID_KEY_LENGTH);
/** touchIdOf in SQL, of a click id column */
export const touchIdSql = (cid: string): string => `'${TOUCH_ID_PREFIX}' || substr(${cid}, 1, ${CID_KEY_LENGTH})`;
/** the text the click id's hash covers, in SQL: of a click id column, or of a touch id column (another table's touch_id) */
export const cidKeySql = (cid: string): string => `substr(${cid}, 1, ${CID_KEY_LENGTH})`;
export const idKeySql = (id: string): string => `substr(${id}, ${TOUCH_ID_PREFIX.length + 1}, ${CID_KEY_LENGTH})`;

/** each hashed column of touches, by the column it hashes */
export const TOUCH_HASHED = { token: 'token_hash', visitor_id: 'visitor_hash', cid: 'cid_hash' } as const;
export type HashedColumn = keyof typeof TOUCH_HASHED;
export const TOUCH_HASH_COLUMNS = Object.values(TOUCH_HASHED);

/** each lookup through a hash: the hash column, and the part of the value it covers */
const LOOKUPS: Record<string, { hash: string; key: (value: string) => string }> = {
  token: { hash: TOUCH_HASHED.token, key: (v) => v },
  visitor_id: { hash: TOUCH_HASHED.visitor_id, key: (v) => v },
  cid: { hash: TOUCH_HASHED.cid, key: (v) => v.slice(0, CID_KEY_LENGTH) },
  id: { hash: TOUCH_HASHED.cid, key: (v) => (v.startsWith(TOUCH_ID_PREFIX) ? v.slice(TOUCH_ID_PREFIX.length) : '') },
};

/** the condition that finds a touch (of `alias`) by another table's touch id column, through the click id's hash
 * (`hash`: lookupHash in the store's SQL) */
export const touchByIdSql = (alias: string, id: string, hash: (text: string) => string): string =>
  `${alias}${TOUCH_HASHED.cid} = ${hash(idKeySql(id))} AND ${alias}id = ${id}`;

/** a touch's hash columns, inserted beside its own */
export const touchHashes = (t: Pick<Touch, HashedColumn>) => ({
  token_hash: lookupHash(t.token),
  visitor_hash: lookupHash(t.visitor_id),
  cid_hash: lookupHash(t.cid.slice(0, CID_KEY_LENGTH)),
});

/** the condition that finds `column` = @`param` through its hash (@`param`_hash), or the plain one for other columns */
export const touchMatch = (column: string, param: string, alias = ''): string => {
  const lookup = LOOKUPS[column];
  return lookup ? `${alias}${lookup.hash} = @${param}_hash AND ${alias}${column} = @${param}` : `${alias}${column} = @${param}`;
};

/** the parameters touchMatch names: the value and, for a hashed column, its hash */
export const matchArgs = (column: string, param: string, value: string): Record<string, unknown> => {
  const lookup = LOOKUPS[column];
  return lookup ? { [param]: value, [`${param}_hash`]: lookupHash(lookup.key(value)) } : { [param]: value };
};
