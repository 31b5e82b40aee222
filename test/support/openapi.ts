// Checks a real response against the published OpenAPI document (openapi.json): its path and method must be
// described, its status among the operation's responses, its media type among that response's, and a JSON body
// must match the schema. The schema check covers the JSON Schema subset the document uses and refuses any keyword
// it does not know, so a schema is never half checked. The HTTP helpers (post in ./collector.ts, send in
// ./proc.ts) run it on every answer from a documented route; tests using fetch call expectDocumented themselves.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { packageRoot } from '../../collector/paths.js';

type Json = Record<string, any>;

export const OPENAPI: Json = JSON.parse(readFileSync(join(packageRoot, 'openapi.json'), 'utf8'));

/** keywords that describe and constrain nothing */
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'example', 'default', 'deprecated', 'contentMediaType', 'format', '$schema', 'readOnly', 'writeOnly']);

const deref = (schema: Json): Json => {
  if (typeof schema?.$ref !== 'string') return schema;
  const target = (schema.$ref as string).slice(2).split('/').reduce((o: any, k) => o?.[k], OPENAPI);
  if (target === undefined) throw new Error(`unresolved $ref ${schema.$ref}`);
  return deref(target);
};

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

/** the problems of `value` against `schema`, each with its JSON path; empty when it matches */
export function validate(schema: Json | boolean, value: unknown, path = '$'): string[] {
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  schema = deref(schema);
  const out: string[] = [];
  for (const [k, s] of Object.entries(schema)) {
    switch (k) {
      case 'type': {
        const types = Array.isArray(s) ? s : [s];
        const t = typeOf(value);
        if (!types.some((x: string) => x === t || (x === 'number' && t === 'integer'))) out.push(`${path}: ${JSON.stringify(value)?.slice(0, 80)} is ${t}, not ${types.join(' or ')}`);
        break;
      }
      case 'enum':
        if (!(s as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) out.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s)}`);
        break;
      case 'const':
        if (JSON.stringify(s) !== JSON.stringify(value)) out.push(`${path}: ${JSON.stringify(value)} is not ${JSON.stringify(s)}`);
        break;
      case 'anyOf':
        if (!(s as Json[]).some((alt) => validate(alt, value, path).length === 0)) out.push(`${path}: matches none of anyOf (${(s as Json[]).map((alt) => validate(alt, value, path).join('; ')).join(' | ')})`);
        break;
      case 'oneOf':
        if ((s as Json[]).filter((alt) => validate(alt, value, path).length === 0).length !== 1) out.push(`${path}: does not match exactly one of oneOf`);
        break;
      case 'allOf':
        for (const alt of s as Json[]) out.push(...validate(alt, value, path));
        break;
      case 'properties':
        if (typeOf(value) === 'object') {
          for (const [p, ps] of Object.entries(s as Json)) if (p in (value as Json)) out.push(...validate(ps, (value as Json)[p], `${path}.${p}`));
        }
        break;
      case 'required':
        if (typeOf(value) === 'object') for (const p of s as string[]) if (!(p in (value as Json))) out.push(`${path}: ${p} is required`);
        break;
      case 'additionalProperties':
        if (typeOf(value) === 'object') {
          const known = Object.keys(schema.properties ?? {});
          for (const [p, v] of Object.entries(value as Json)) if (!known.includes(p)) out.push(...validate(s, v, `${path}.${p}`));
        }
        break;
      case 'propertyNames':
        if (typeOf(value) === 'object') for (const p of Object.keys(value as Json)) out.push(...validate(s, p, `${path} key ${p}`));
        break;
      case 'items':
        if (Array.isArray(value)) value.forEach((v, i) => out.push(...validate(s, v, `${path}[${i}]`)));
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < s) out.push(`${path}: fewer than ${s} items`);
        break;
      case 'maxItems':
        if (Array.isArray(value) && value.length > s) out.push(`${path}: more than ${s} items`);
        break;
      case 'minLength':
        if (typeof value === 'string' && [...value].length < s) out.push(`${path}: shorter than ${s}`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && [...value].length > s) out.push(`${path}: longer than ${s}`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(s, 'u').test(value)) out.push(`${path}: ${JSON.stringify(value).slice(0, 80)} does not match ${s}`);
        break;
      case 'minimum':
        if (typeof value === 'number' && value < s) out.push(`${path}: below ${s}`);
        break;
      case 'maximum':
        if (typeof value === 'number' && value > s) out.push(`${path}: above ${s}`);
        break;
      case 'exclusiveMinimum':
        if (typeof value === 'number' && value <= s) out.push(`${path}: not above ${s}`);
        break;
      case 'exclusiveMaximum':
        if (typeof value === 'number' && value >= s) out.push(`${path}: not below ${s}`);
        break;
      default:
        if (!ANNOTATIONS.has(k)) throw new Error(`test/support/openapi.ts does not check the JSON Schema keyword ${k} (at ${path}): teach it`);
    }
  }
  return out;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];
const templates = Object.keys(OPENAPI.paths).map((t) => ({
  t,
  re: new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

/** the document's operation for a request, or undefined when its path is not described (a 404 probe, say) */
export function operationOf(method: string, url: string): { template: string; op: Json } | undefined {
  // the path as sent, not normalised: the server routes `/t/../v1/fires` as it stands (a 404), not as /v1/fires
  const pathname = url.replace(/^https?:\/\/[^/]+/, '').split(/[?#]/)[0];
  const found = templates.find(({ re }) => re.test(pathname));
  const op = found && OPENAPI.paths[found.t][method.toLowerCase()];
  return op && METHODS.includes(method.toLowerCase()) ? { template: found.t, op } : undefined;
}

/** what is wrong with this response by the document; empty when it is as described or its route is not described */
export function undocumented(method: string, url: string, status: number, contentType: string | null | undefined, body: string): string[] {
  // 431: Node's HTTP parser refuses oversized headers before any route runs, the same for every path
  if (status === 431) return [];
  const found = operationOf(method, url);
  if (!found) return [];
  const where = `${method.toUpperCase()} ${found.template} → ${status}`;
  const answer = found.op.responses?.[String(status)] ?? found.op.responses?.default;
  if (!answer) return [`${where}: status ${status} is not described (described: ${Object.keys(found.op.responses ?? {}).join(', ')})`];
  const response = deref(answer);
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  // a redirect's body (Express's "Redirecting to …") is informational: clients follow Location
  if (!response.content) return body.length && media && !(status >= 300 && status < 400) ? [`${where}: answered ${media} where the document describes no body`] : [];
  if (!media && !body.length) return [];
  const described = response.content[media];
  if (!described) return [`${where}: media type ${media || '(none)'} is not described (described: ${Object.keys(response.content).join(', ')})`];
  if (media !== 'application/json' || !described.schema) return [];
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return [`${where}: the body is not JSON: ${body.slice(0, 80)}`];
  }
  return validate(described.schema, value).map((p) => `${where}: ${p}`);
}

/** fails the test when the response is not as the document describes it */
export function expectDocumented(method: string, url: string, status: number, contentType: string | null | undefined, body: string): void {
  expect(undocumented(method, url, status, contentType, body), `response of ${method} ${url} against openapi.json`).toEqual([]);
}

/** fetch whose answer must be as the document describes it (the body stays readable) */
export async function fetchDocumented(url: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, init);
  expectDocumented(init.method ?? 'GET', url, res.status, res.headers.get('content-type'), await res.clone().text());
  return res;
}
