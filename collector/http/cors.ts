// CORS only for the configured site origins: the exact origin echoed with credentials and Vary: Origin;
// nothing for other origins, and `Origin: null` is refused. Framework-free: the beacon routes run on node:http.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.js';
import { unrebindableHost } from '../net.js';
import { HttpError } from './errors.js';
import { isHttps } from './peer.js';

/** what the site checks read of a request: its headers */
type Headed = { headers: IncomingHttpHeaders };

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

/** the origin of the request's Referer, or undefined (none, or not a URL) */
function refererOrigin(req: Headed): string | undefined {
  if (!req.headers.referer) return undefined;
  try {
    return new URL(req.headers.referer).origin;
  } catch {
    return undefined;
  }
}

/** the configured site a browser request comes from, by its Origin (or Referer, which images send instead) */
export function siteOf(req: Headed, config: Config): SiteMatch | undefined {
  const origin = req.headers.origin || refererOrigin(req);
  return origin ? siteForOrigin(origin, config) : undefined;
}

/** the collector's own origin, as the browser sees it: public_url's, else the Host only where DNS cannot rebind it */
function ownOrigin(req: IncomingMessage, config: Config): string | undefined {
  if (config.public_url) return new URL(config.public_url).origin;
  const host = req.headers.host;
  return unrebindableHost(host) ? `${isHttps(req, config.trust_proxy) ? 'https' : 'http'}://${host}` : undefined;
}

/**
 * Allows configured origins (with credentials) and same-origin requests; refuses any other Origin with 403. Answers a
 * preflight (OPTIONS) itself: true when it did, so the route has nothing left to do.
 */
export function corsForSites(config: Config): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    res.setHeader('Vary', 'Origin');
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    const preflight = req.method === 'OPTIONS';
    if (siteForOrigin(origin, config)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      if (!preflight) return false;
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type');
      res.setHeader('Access-Control-Max-Age', '86400');
      res.writeHead(204).end();
      return true;
    }
    if (origin !== 'null' && origin === ownOrigin(req, config)) return preflight && (res.writeHead(204).end(), true);
    throw new HttpError(403, 'origin_not_allowed', `origin ${origin.slice(0, 200)} is not a configured site`);
  };
}

/** what a navigation (or a frame) says in Fetch Metadata: never what the script's image fallback sends */
const NAVIGATION_MODES = new Set(['navigate', 'nested-navigate']);
const DOCUMENT_DESTS = new Set(['document', 'iframe', 'frame', 'embed', 'object']);

/**
 * The image fallbacks (GET /t?b=, GET /c?b=) take only what a landing page's image request looks like. A top-level
 * navigation from any site carries the visitor's SameSite=Lax cookie and no Origin, so without this an attacker's
 * page could plant its token on a visitor or forge a conversion. Refused: navigations by Fetch Metadata; and a
 * request that is not same-origin or same-site by Fetch Metadata (or has none) unless its Referer is a configured
 * site. Checked before anything is read, so a refused request stores nothing and sets no cookie.
 */
export function fallbackRefusal(req: Headed, config: Config): HttpError | null {
  const h = req.headers;
  const mode = String(h['sec-fetch-mode'] ?? '').toLowerCase();
  const dest = String(h['sec-fetch-dest'] ?? '').toLowerCase();
  if (NAVIGATION_MODES.has(mode) || DOCUMENT_DESTS.has(dest)) {
    return new HttpError(403, 'fallback_refused', 'the image fallback does not take navigations; the script sends it as an image');
  }
  const site = String(h['sec-fetch-site'] ?? '').toLowerCase();
  if (site === 'same-origin' || site === 'same-site') return null;
  const referer = refererOrigin(req);
  if (referer && siteForOrigin(referer, config)) return null;
  return new HttpError(403, 'fallback_refused', 'the image fallback needs a Referer from a configured site');
}

/**
 * May this browser-route request carry device ids (the advertising ids of a landing URL, an impression tracker's
 * `idfa=`)? Otherwise a hostile page could plant someone's advertising id on its own token, and the next install on
 * that device would bind to it. The script's POST /t: only with a configured site's Origin. The image fallback
 * GET /t?b=: only with a configured site's Referer. GET /i: a configured site's Origin or Referer, or a request no
 * web page made — no Origin, no Referer and no Fetch Metadata: an ad server's or an app SDK's own HTTP client, which
 * is where `${DEVICE_APPLE_IDA}` is filled in — never a page of any other site (which browsers mark with
 * `Sec-Fetch-Site`, whatever its referrer policy).
 */
export function deviceIdsAllowed(req: Headed, config: Config, route: 'script' | 'image' | 'impression'): boolean {
  const h = req.headers;
  if (route === 'script') return h.origin !== undefined && siteForOrigin(h.origin, config) !== undefined;
  if (siteOf(req, config)) return true;
  return route === 'impression' && h.origin === undefined && h.referer === undefined && h['sec-fetch-site'] === undefined;
}
