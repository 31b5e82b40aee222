// Guards the store URL's own parameters (docs/scaling.md): `schema=` and `pool_size=` are read and taken off
// before the URL reaches node-postgres; everything else is passed on untouched.
import { describe, expect, it } from 'vitest';
import { postgresUrl } from '../../collector/store/open.js';

describe('postgres store URL parameters', () => {
  const cases: { name: string; url: string; connection: string; options: object }[] = [
    { name: 'no query', url: 'postgres://u@db/sspx', connection: 'postgres://u@db/sspx', options: {} },
    { name: 'driver parameters only', url: 'postgres://u@db/sspx?sslmode=require', connection: 'postgres://u@db/sspx?sslmode=require', options: {} },
    { name: 'schema', url: 'postgres://u@db/sspx?schema=sspx_a', connection: 'postgres://u@db/sspx', options: { schema: 'sspx_a' } },
    {
      name: 'both, among driver parameters',
      url: 'postgresql://u:p@db:5433/sspx?sslmode=require&schema=s1&pool_size=12&application_name=x',
      connection: 'postgresql://u:p@db:5433/sspx?sslmode=require&application_name=x',
      options: { schema: 's1', poolSize: 12 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(postgresUrl(c.url)).toEqual({ connection: c.connection, options: c.options });
    });
  }

  it('refuses a pool_size that is not a positive whole number, naming it', () => {
    for (const bad of ['0', '-1', '2.5', 'ten', '']) {
      expect(() => postgresUrl(`postgres://u@db/sspx?pool_size=${bad}`), bad).toThrow(/pool_size/);
    }
  });
});
