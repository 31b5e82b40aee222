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

/** sets (or refreshes) the cookie, as Express's res.cookie writes it (Max-Age and Expires), and answers the visitor id */
export function ensureVisitor(
  req: { headers: IncomingHttpHeaders },
  res: ServerResponse,
  config: Config,
  site: SiteMatch | undefined,
  at: { https: boolean; now: number },
): string {
  const vid = visitorOf(req) ?? randomId();
  const maxAge = config.cookie_days * DAY;
  const cookie = serialize(VISITOR_COOKIE, vid, {
    maxAge: Math.floor(maxAge / 1000),
    domain: site?.cookie_domain,
    path: '/',
    expires: new Date(at.now + maxAge),
    httpOnly: true,
    secure: at.https || (config.public_url?.startsWith('https:') ?? false),
    sameSite: 'lax',
  });
  res.appendHeader('Set-Cookie', cookie);
  return vid;
}
