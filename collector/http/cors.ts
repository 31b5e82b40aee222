// CORS only for the configured site origins: the exact origin echoed with credentials and Vary: Origin;
// nothing for other origins, and `Origin: null` is refused.
import type { Request, RequestHandler } from 'express';
import type { Config } from '../config.js';
import { HttpError } from './errors.js';

export interface SiteMatch {
  origin: string;
  cookie_domain?: string;
}

/**
 * The configured site an origin belongs to: its exact origin, or a pattern `http://host:*` that takes the host on
 * any port (the built-in local setup accepts `http://localhost:*` and `http://127.0.0.1:*`). The match carries the
 * request's own origin.
 */
export function siteForOrigin(origin: string, config: Config): SiteMatch | undefined {
  const exact = config.sites.find((s) => s.origin === origin);
  if (exact) return exact;
  const anyPort = config.sites.find((s) => {
    if (!s.origin.endsWith(':*')) return false;
    const base = s.origin.slice(0, -2);
    return origin === base || (origin.startsWith(`${base}:`) && /^\d{1,5}$/.test(origin.slice(base.length + 1)));
  });
  return anyPort && { ...anyPort, origin };
}

/** the configured site a browser request comes from, by its Origin (or Referer, which images send instead) */
export function siteOf(req: Request, config: Config): SiteMatch | undefined {
  let origin = req.headers.origin;
  if (!origin && req.headers.referer) {
    try {
      origin = new URL(req.headers.referer).origin;
    } catch {
      origin = undefined;
    }
  }
  return origin ? siteForOrigin(origin, config) : undefined;
}

/** the collector's own origin, as the browser sees it */
function ownOrigin(req: Request, config: Config): string {
  return config.public_url ? new URL(config.public_url).origin : `${req.protocol}://${req.headers.host}`;
}

/** allows configured origins (with credentials) and same-origin requests; refuses any other Origin with 403 */
export function corsForSites(config: Config): RequestHandler {
  return (req, res, next) => {
    res.vary('Origin');
    const origin = req.headers.origin;
    if (origin === undefined) return next();
    if (siteForOrigin(origin, config)) {
      res.set({ 'Access-Control-Allow-Origin': origin, 'Access-Control-Allow-Credentials': 'true' });
      if (req.method === 'OPTIONS') {
        res.set({
          'Access-Control-Allow-Methods': 'GET, POST',
          'Access-Control-Allow-Headers': 'Content-Type',
          'Access-Control-Max-Age': '86400',
        });
        return void res.status(204).end();
      }
      return next();
    }
    if (origin !== 'null' && origin === ownOrigin(req, config)) return req.method === 'OPTIONS' ? void res.status(204).end() : next();
    next(new HttpError(403, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not a configured site`));
  };
}
