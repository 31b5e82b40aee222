import type { Store } from './store.js';
import { SqliteStore } from './sqlite.js';

/** `sqlite:PATH` (the embedded default) or a `postgres://` URL. */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./postgres.js');
    return new PostgresStore(url);
  }
  throw new Error(`unknown store ${url}: use sqlite:PATH or a postgres:// URL`);
}

/** where the store lives, without a password, for the start-up line and logs */
export function describeStore(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
