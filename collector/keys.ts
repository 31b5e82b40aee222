// Keys for the three roles (server, app, admin): minted here, for the built-in local setup's first start and for
// `sspx-relay init`. The local setup keeps them in ./data/keys.json (mode 0600) so a restart keeps the same ones.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type KeyRole = 'server' | 'app' | 'admin';
export type RoleKeys = Record<KeyRole, string[]>;

/** 256 random bits, base64url: 43 characters, well past the 32 a key needs */
export const newKey = (): string => randomBytes(32).toString('base64url');

export const newRoleKeys = (): RoleKeys => ({ server: [newKey()], app: [newKey()], admin: [newKey()] });

export const LOCAL_KEYS_FILE = 'keys.json';

/** the local setup's keys, minted on first start; `created` says whether they are new (print them then, once) */
export function localKeys(dataDir: string): { keys: RoleKeys; created: boolean; path: string } {
  const path = join(dataDir, LOCAL_KEYS_FILE);
  if (existsSync(path)) {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<RoleKeys>;
    const ok = (['server', 'app', 'admin'] as const).every((r) => Array.isArray(stored[r]) && stored[r]!.every((k) => typeof k === 'string' && k.length >= 32));
    if (!ok) throw new Error(`${path} is not a keys file (server, app, admin lists of keys); remove it to mint new keys`);
    return { keys: stored as RoleKeys, created: false, path };
  }
  mkdirSync(dataDir, { recursive: true });
  const keys = newRoleKeys();
  writeFileSync(path, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600); // whatever the umask
  return { keys, created: true, path };
}
