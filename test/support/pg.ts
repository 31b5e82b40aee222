// The real PostgreSQL for tests: the server test/support/global-setup.ts started for this run (or the one
// SSPX_TEST_PG_URL names); each test file works in fresh schemas (sspx_test_<random>) dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeEach, describe, inject } from 'vitest';
import { markKind } from './kinds.js';

/** the test database's URL */
export function pgUrl(): string {
  const url = inject('pgUrl');
  if (!url) throw new Error('no PostgreSQL for the tests: test/support/global-setup.ts did not provide one (run through vitest)');
  return url;
}

/** one statement on a short-lived connection outside any store (setup, teardown, killing a backend) */
export async function pgQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface PgContext {
  url: string;
  /** a new schema name for this file; it is dropped after the file's tests (the store creates it on migrate) */
  newSchema(): string;
}

/** a schema name nobody else uses */
export const randomSchema = (): string => `sspx_test_${randomBytes(6).toString('hex')}`;

/** `describe` for cases on PostgreSQL: the body gets the URL and fresh schemas, all dropped when the file's tests are done */
export function describePg(name: string, body: (ctx: PgContext) => void): void {
  const url = pgUrl();
  const schemas: string[] = [];
  describe(name, () => {
    beforeEach(() => markKind('postgres'));
    afterAll(async () => {
      if (schemas.length) await pgQuery(url, schemas.map((s) => `DROP SCHEMA IF EXISTS "${s}" CASCADE`).join('; '));
    });
    body({
      url,
      newSchema: () => {
        const s = randomSchema();
        schemas.push(s);
        return s;
      },
    });
  });
}
