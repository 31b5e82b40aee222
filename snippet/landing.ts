// Reads the landing URL once: the token (or the param that holds an unreplaced macro), the device ids,
// and the URL without the token. Parsed by hand, because URLSearchParams turns `+` into a space and the
// token must stay byte for byte.
import { ids, params } from './config.js';
import { decode, isMacro, isToken } from './token.js';

export let token: string | undefined, macro: string | undefined, deviceIds: Record<string, string> | undefined;
/** location.href without the token params, in the query and in the fragment */
export let landingUrl: string;

export function readLanding() {
  // Every `name=value` between `?`, `#` and `&` is a piece, so `#sspdata=…` and `#/route?sspdata=…` read
  // like a query. A token piece goes with its trailing `&`; separators it leaves dangling are trimmed last.
  landingUrl = location.href
    .replace(/([^?#&=]*)=?([^?#&]*)&?/g, (piece, name: string, raw: string) => {
      const value = decode(raw);
      if (!params.includes(name)) {
        if (ids.includes(name) && value.length <= 128) (deviceIds ||= {})[name] = value;
        return piece;
      }
      // Query before fragment, left to right: the first valid token wins.
      if (isToken(value)) token ||= value;
      else if (isMacro(raw)) macro ||= name;
      return '';
    })
    .replace(/[?&#]+(?=#|$)/g, '');
}
