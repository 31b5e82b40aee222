// The first-party visitor cookie `sspx_vid`: random 128 bits, HttpOnly, SameSite=Lax, Secure on HTTPS,
// Path=/, Domain from the site's config, lifetime from config. Set by the server, so Safari's 7-day cap on
// script-written cookies does not apply.
import { parse } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { DAY } from '../clock.js';
import { ID_PATTERN } from '../fields.js';
import { randomId } from '../ids.js';
import type { SiteMatch } from './cors.js';

export const VISITOR_COOKIE = 'sspx_vid';

/** the visitor id the request carries, if well-formed */
export function visitorOf(req: Request): string | null {
  const header = req.headers.cookie;
  if (!header || header.length > 8192) return null;
  const vid = parse(header)[VISITOR_COOKIE];
  return vid && ID_PATTERN.test(vid) ? vid : null;
}

/** sets (or refreshes) the cookie and answers the visitor id */
export function ensureVisitor(req: Request, res: Response, config: Config, site: SiteMatch | undefined): string {
  const vid = visitorOf(req) ?? randomId();
  const secure = req.secure || (config.public_url?.startsWith('https:') ?? false);
  res.cookie(VISITOR_COOKIE, vid, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    domain: site?.cookie_domain,
    maxAge: config.cookie_days * DAY,
  });
  return vid;
}
