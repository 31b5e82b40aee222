// How a landing URL's parameters are read, shared by the browser script (which looks there for a value that may be
// the token) and the collector (which picks the token, strips the token params from the URL it stores and picks out
// the device ids): one parser, not two copies. The script imports only `params` and PIECE; `tokenValues` and
// `readLanding` are the collector's.
import { decode, decodeValue, tokenShaped } from './token.js';

const ITEM = /[^\s,]+/g;

/** a comma (or space) separated list, empty entries dropped: how data-params and data-ids are read */
export const list = (value?: string | null): string[] => (value || '').match(ITEM) || [];

/** the token params a tag names in data-params (default `sspdata`): list, with the default inside */
export const params = (attr?: string | null): string[] => (attr || 'sspdata').match(ITEM) || [];

/** Every `name=value` piece between `?`, `#` and `&` (with its trailing `&`), so `#sspdata=…` and
 * `#/route?sspdata=…` read like a query. Parsed by hand because URLSearchParams turns `+` into a space. */
export const PIECE = /([^?#&=]*)=?([^?#&]*)&?/g;

/** Every value under a token param (`names`, from `params`) in `urls` that may be the token or its unreplaced macro:
 * percent-decoded once as the script decodes (decodeValue) and let through by NOT_TOKEN (tested as tokenShaped, its
 * fast form); in the order the script reads them, query before fragment, left to right. `urls` is the landing URL,
 * `#`, and the current one, as the script joins them. The script's touchOf (./main.ts) is this test stopped at the
 * first value, written out in its loop (a shared function call costs it 7 bytes of gzip);
 * test/snippet/token.test.ts holds the two together. */
export function tokenValues(urls: string, names: string[]): string[] {
  const values: string[] = [];
  for (const [, name, raw] of urls.matchAll(PIECE)) if (names.includes(name)) keepTokenValue(values, raw);
  return values;
}

/** a token param's raw value, decoded as the script decodes it, kept in `values` when it may be the token or its macro */
function keepTokenValue(values: string[], raw: string): void {
  const value = decodeValue(raw);
  if (tokenShaped(value)) values.push(value);
}

/** a landing URL as the collector keeps it: without the pieces named by data-params (the separators they leave
 * dangling trimmed), what tokenValues reads from it (`tokens`), and the values of the pieces named by data-ids,
 * percent-decoded once, at most 128 characters, the last one of a name winning. The caller still checks each id and
 * the URL. */
export function readLanding(url: string, paramsAttr?: string | null, idsAttr?: string | null): { url: string; ids: Record<string, string>; tokens: string[] } {
  const tokenParams = params(paramsAttr);
  const names = list(idsAttr);
  const ids: Record<string, string> = Object.create(null);
  const tokens: string[] = [];
  url = url
    .replace(PIECE, (piece, name: string, raw: string) => {
      if (tokenParams.includes(name)) {
        keepTokenValue(tokens, raw); // tokenValues, read in the same pass
        return '';
      }
      const value = decode(raw);
      if (names.includes(name) && value.length <= 128) ids[name] = value;
      return piece;
    })
    .replace(SEPARATORS, danglingTrimmed);
  return { url, ids, tokens };
}

/** each maximal run of separators, matched once: linear (the lookahead form `/[?#&]+(?=#|$)/g` retried every
 * position of a run, quadratic: 8,000 `&` held the event loop for 100 ms) */
const SEPARATORS = /[?#&]+/g;

/** a run of separators with nothing after it goes; one before more URL keeps only what starts at its last `#` (the
 * fragment), or all of itself if it holds none: what dropping the runs followed by `#` or the end leaves */
function danglingTrimmed(run: string, at: number, url: string): string {
  return at + run.length === url.length ? '' : run.slice(Math.max(0, run.lastIndexOf('#')));
}
