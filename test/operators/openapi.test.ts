// Guards the OpenAPI document: it describes exactly the routes the Express app answers (a new route without a
// description fails here, and so does a description of a route that is gone); GET /openapi.json serves the committed
// openapi.json byte for byte (regenerate it with `npx tsx collector/commands/openapi.ts`); every $ref resolves;
// every refusal is described as {"error", "message"}; every route with a Bearer key describes its 401; the
// `openapi` command takes --config like every other.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../collector/openapi.js';
import { packageRoot } from '../../collector/paths.js';
import { BASE_CONFIG, startTestCollector, type TestCollector } from '../support/collector.js';
import { tempDir } from '../support/proc.js';
import { runCli } from '../deploy/support.js';
import { undocumented, validate } from '../support/openapi.js';
import { listRoutes } from './support.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
type Json = Record<string, any>;

let c: TestCollector;
let served: string;
let doc: Json;
beforeAll(async () => {
  c = await startTestCollector();
  const res = await fetch(`${c.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  served = await res.text();
  doc = JSON.parse(served);
});
afterAll(() => c.stop());

const operations = (d: Json) =>
  Object.entries(d.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op: op as Json })),
  );

/** follows a local $ref such as #/components/schemas/Error */
const resolve = (d: Json, value: Json): Json => {
  if (typeof value?.$ref !== 'string') return value;
  const target = (value.$ref as string).slice(2).split('/').reduce((o: any, k) => o?.[k], d);
  if (target === undefined) throw new Error(`unresolved ${value.$ref}`);
  return resolve(d, target);
};

describe('openapi.json', () => {
  it('is served as the committed file, byte for byte, and as the code builds it', () => {
    const committed = readFileSync(join(packageRoot, 'openapi.json'), 'utf8');
    expect(served, 'openapi.json is stale: run npx tsx collector/commands/openapi.ts').toBe(committed);
    expect(doc).toEqual(openApiDocument());
    expect(doc.openapi).toBe('3.1.0');
  });

  it('describes every route the app answers, and no route it does not', () => {
    const actual = listRoutes(c.app);
    const described = operations(doc).map((o) => o.key).sort();
    expect(actual.length).toBeGreaterThan(10);
    expect(actual.filter((r) => !described.includes(r)), 'routes missing from collector/openapi.ts').toEqual([]);
    expect(described.filter((r) => !actual.includes(r)), 'described routes the app does not have').toEqual([]);
  });

  it('resolves every $ref', () => {
    const refs: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) k === '$ref' ? refs.push(x as string) : walk(x);
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of new Set(refs)) expect(() => resolve(doc, { $ref: ref }), ref).not.toThrow();
  });

  it('describes every refusal as {"error", "message"}, and a 401 wherever a key is needed', () => {
    for (const { key, op } of operations(doc)) {
      expect(Object.keys(op.responses ?? {}).length, key).toBeGreaterThan(0);
      expect(typeof op.summary, key).toBe('string');
      for (const [status, raw] of Object.entries(op.responses as Json)) {
        const response = resolve(doc, raw as Json);
        expect(typeof response.description, `${key} ${status}`).toBe('string');
        if (Number(status) < 400 || !response.content?.['application/json']) continue;
        const schema = resolve(doc, response.content['application/json'].schema);
        expect(schema.properties, `${key} ${status}`).toHaveProperty('error');
        expect(schema.properties, `${key} ${status}`).toHaveProperty('message');
      }
      // a Bearer key is refused with a 401; the dashboard's session cookie sends the browser to the login page instead
      const schemes = (op.security ?? doc.security ?? []).flatMap((s: Json) => Object.keys(s)).map((n: string) => doc.components.securitySchemes[n]);
      if (schemes.some((s: Json) => s?.scheme === 'bearer')) expect(op.responses, `${key} needs its 401`).toHaveProperty('401');
      for (const s of op.security ?? []) for (const name of Object.keys(s)) expect(doc.components.securitySchemes, key).toHaveProperty(name);
    }
  });

  it('takes its request bodies from the zod schemas the routes validate with', () => {
    const schemas = doc.components.schemas as Json;
    expect(schemas.ServerTouch).toMatchObject({ type: 'object', required: ['token'], additionalProperties: false });
    expect(schemas.ServerTouch.properties.kind).toMatchObject({ enum: ['click', 'view'], default: 'click' });
    expect(schemas.Conversion.required).toEqual(['pixel']);
    expect(Object.keys(schemas.Conversion.properties)).toEqual(
      expect.arrayContaining(['pixel', 'order_id', 'value', 'other', 'visitor_id', 'token', 'cid', 'install_id', 'device_id', 'occurred_at']),
    );
    expect(Object.keys(schemas.BrowserConversion.properties).sort()).toEqual(['cid', 'order_id', 'other', 'pixel', 'test', 'value']);
    expect(schemas.Conversion.properties.test).toMatchObject({ type: 'boolean' });
    expect(schemas.AppOpen.properties.test).toMatchObject({ type: 'boolean' });
    expect(schemas.AppOpen.required).toEqual(expect.arrayContaining(['install_id', 'platform']));
    for (const { key, op } of operations(doc)) {
      if (!op.requestBody) continue;
      for (const media of Object.values(op.requestBody.content as Json)) expect(resolve(doc, media.schema).type, key).toBe('object');
    }
  });
});

describe('the route tests\' check against openapi.json (test/support/openapi.ts)', () => {
  const fire = {
    id: 'f_1', conversion_id: 'c_1', pixel_id: 1, order_id: null, value: null, other: null, token: 't.', state: 'fired', attempt_count: 1,
    next_attempt_at: null, lease_owner: null, lease_expires_at: null, last_outcome: 'fired', last_error: null, created_at: 1, updated_at: 2,
    fired_at: 2, dry_run: false, test: false,
  };
  const list = (f: object) => JSON.stringify({ fires: [f] });

  it('passes a list of fires as the document describes it', () => {
    expect(undocumented('GET', '/v1/fires', 200, 'application/json; charset=utf-8', list(fire))).toEqual([]);
  });

  it.each([
    ['a fraction of a millisecond', { ...fire, updated_at: 1.5 }, '$.fires[0].updated_at: 1.5 is number, not integer'],
    ['a state outside the list', { ...fire, state: 'sent' }, '$.fires[0].state: "sent" is not one of'],
    ['a missing required field', { ...fire, dry_run: undefined }, '$.fires[0]: dry_run is required'],
    ['null where a string is required', { ...fire, token: null }, '$.fires[0].token'],
  ])('refuses %s', (_, f, problem) => {
    expect(undocumented('GET', '/v1/fires', 200, 'application/json', list(f)).join('\n')).toContain(problem);
  });

  it('refuses an undescribed status or media type, and a body that is not JSON', () => {
    expect(undocumented('GET', '/v1/fires', 418, 'application/json', '{}')[0]).toContain('status 418 is not described');
    expect(undocumented('GET', '/v1/fires', 200, 'text/html', '<p>')[0]).toContain('media type text/html is not described');
    expect(undocumented('GET', '/v1/fires', 200, 'application/json', 'nope')[0]).toContain('not JSON');
  });

  it('refuses to half-check a schema with a keyword it does not know', () => {
    expect(() => validate({ type: 'string', uniqueItems: true }, 'x')).toThrow(/uniqueItems/);
  });
});

// README: every command takes --config PATH. `openapi` prints the same document whatever the file says, and names a
// missing file as the other commands do (exit 2).
describe('sspx-relay openapi --config', () => {
  it('takes --config like every command: the committed document with a file, exit 2 naming a missing one', async () => {
    const dir = tempDir('sspx-openapi-');
    const config = join(dir, 'live.config.json');
    writeFileSync(config, JSON.stringify(BASE_CONFIG));
    const ok = await runCli(['openapi', '--config', config], dir);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(readFileSync(join(packageRoot, 'openapi.json'), 'utf8'));
    const missing = await runCli(['openapi', '--config', join(dir, 'absent.json')], dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('absent.json does not exist');
  });
});
