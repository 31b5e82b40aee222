import type { Store } from './store.js';
import { SqliteStore } from './sqlite.js';
import type { PostgresStoreOptions } from './postgres.js';

/** `sqlite:PATH` (the embedded default) or a `postgres://` URL. */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return new SqliteStore(url.slice('sqlite:'.length));
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { PostgresStore } = await import('./postgres.js');
    const { connection, options } = postgresUrl(url);
    return new PostgresStore(connection, options);
  }
  throw new Error(`unknown store ${url}: use sqlite:PATH or a postgres:// URL`);
}

/**
 * Our own parameters of a `postgres://` URL, taken off before the rest goes to the driver:
 * `schema=NAME` (the tables live there, created on migrate) and `pool_size=N` (connections per process).
 */
export function postgresUrl(url: string): { connection: string; options: PostgresStoreOptions } {
  const q = url.indexOf('?');
  if (q < 0) return { connection: url, options: {} };
  const params = new URLSearchParams(url.slice(q + 1));
  const options: PostgresStoreOptions = {};
  const schema = params.get('schema');
  if (schema !== null) options.schema = schema;
  const poolSize = params.get('pool_size');
  if (poolSize !== null) {
    if (!/^\d{1,4}$/.test(poolSize) || Number(poolSize) < 1) throw new Error(`store: pool_size must be a whole number of connections, at least 1 (got ${JSON.stringify(poolSize)})`);
    options.poolSize = Number(poolSize);
  }
  if (schema === null && poolSize === null) return { connection: url, options };
  params.delete('schema');
  params.delete('pool_size');
  const rest = params.toString();
  return { connection: url.slice(0, q) + (rest ? `?${rest}` : ''), options };
}

/** where the store lives, without a password, for the start-up line and logs */
export function describeStore(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
