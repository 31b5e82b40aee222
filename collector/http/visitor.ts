// The first-party visitor cookie `sspx_vid`: random 128 bits, HttpOnly, SameSite=Lax, Secure on HTTPS,
// Path=/, Domain from the site's config, lifetime from config. Set by the server, so Safari's 7-day cap on
// script-written cookies does not apply. Framework-free: the beacon routes run on node:http.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { parse, serialize } from 'cookie';
import type { Config } from '../config.js';
import { DAY } from '../clock.js';
import { ID_PATTERN } from '../fields.js';
import { randomId } from '../ids.js';
import type { SiteMatch } from './cors.js';

export const VISITOR_COOKIE = 'sspx_vid';

/** the visitor id the request carries, if well-formed */
export function visitorOf(req: { headers: IncomingHttpHeaders }): string | null {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return null;
  const vid = parse(header)[VISITOR_COOKIE];
  return vid && ID_PATTERN.test(vid) ? vid : null;
}

/** the visitor a request's cookie names, or a new one: its touch is stored under it before the cookie is set */
export const visitorFor = (req: { headers: IncomingHttpHeaders }): string => visitorOf(req) ?? randomId();

/** sets (or refreshes) the cookie, as Express's res.cookie writes it (Max-Age and Expires) */
export function setVisitorCookie(
  res: ServerResponse,
  vid: string,
  config: Config,
  site: SiteMatch | undefined,
  at: { https: boolean; now: number },
): void {
  // an id is base64url (ID_PATTERN, randomId): `serialize` would write it as it is
  res.appendHeader('Set-Cookie', `${VISITOR_COOKIE}=${vid}${cookieAttributes(config, site, at)}`);
}

/** the attributes last written, and what they were written for */
let lastAttributes = { key: '', text: '' };

/**
 * What follows the visitor id in the cookie, as `serialize` writes it: the same for every visitor of a site within a
 * second (Expires counts whole seconds), so written once per site and second rather than once per touch.
 */
function cookieAttributes(config: Config, site: SiteMatch | undefined, at: { https: boolean; now: number }): string {
  const maxAge = config.cookie_days * DAY;
  const secure = at.https || (config.public_url?.startsWith('https:') ?? false);
  const expires = Math.floor((at.now + maxAge) / 1000) * 1000;
  const key = `${maxAge} ${expires} ${secure} ${site?.cookie_domain ?? ''}`;
  if (key !== lastAttributes.key) {
    const cookie = serialize(VISITOR_COOKIE, '', {
      maxAge: Math.floor(maxAge / 1000),
      domain: site?.cookie_domain,
      path: '/',
      expires: new Date(expires),
      httpOnly: true,
      secure,
      sameSite: 'lax',
    });
    lastAttributes = { key, text: cookie.slice(VISITOR_COOKIE.length + 1) };
  }
  return lastAttributes.text;
}
