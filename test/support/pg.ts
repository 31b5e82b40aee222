// The real PostgreSQL for tests: SSPX_TEST_PG_URL names it, and each test file works in fresh schemas
// (sspx_test_<random>) that are dropped afterwards. Without the variable the PostgreSQL cases are skipped — loudly.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe } from 'vitest';

export const PG_SKIP_MESSAGE = 'PostgreSQL tests SKIPPED: set SSPX_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/test';

/** the test database's URL, or undefined when PostgreSQL tests are off */
export function pgUrl(): string | undefined {
  return process.env.SSPX_TEST_PG_URL || undefined;
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

/**
 * `describe` for cases that need PostgreSQL: skipped, with a loud line, when SSPX_TEST_PG_URL is unset;
 * otherwise the body gets the URL and fresh schemas, all dropped when the file's tests are done.
 */
export function describePg(name: string, body: (ctx: PgContext) => void): void {
  const url = pgUrl();
  if (!url) {
    console.warn(`\n*** ${PG_SKIP_MESSAGE} ***\n`);
    describe.skip(name, () => body({ url: '', newSchema: randomSchema }));
    return;
  }
  const schemas: string[] = [];
  describe(name, () => {
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
