// The one query-string parser of every route (/t?b=, /i, /c?b=, the operators' filters, Express's req.query): split on
// `&` and the first `=`, each side percent-decoded once by the script's own `decode`, so `+` stays `+`. A token may
// carry `+`; Node's querystring (Express's parser) turned it into a space on /i while /t took it byte for byte.
import { decode } from '../../snippet/token.js';

/** a parameter's value, or its values in order when it is repeated */
export type Query = Record<string, string | string[]>;

/** what Node's querystring allows too: more parameters than this are not read */
const MAX_PARAMS = 1000;

export function parseQuery(text: string): Query {
  // no prototype: a parameter named `__proto__` or `constructor` is a parameter like any other
  const out: Query = Object.create(null);
  if (!text) return out;
  for (const piece of text.split('&', MAX_PARAMS)) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const name = decode(eq < 0 ? piece : piece.slice(0, eq));
    const value = eq < 0 ? '' : decode(piece.slice(eq + 1));
    const had = out[name];
    out[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return out;
}

/** the request's query, read from its URL by parseQuery (whatever front received it) */
export function queryOf(req: { url?: string }): Query {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return parseQuery(q < 0 ? '' : url.slice(q + 1));
}

/** one parameter given once, or undefined (absent or repeated) */
export function single(query: Query, name: string): string | undefined {
  const v = query[name];
  return typeof v === 'string' ? v : undefined;
}

