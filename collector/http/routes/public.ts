// The browser-facing routes: POST /t (a click touch from the script), GET /i (a view touch from an impression
// tracker), POST /c (a conversion from the thank-you page), with the image fallbacks GET /t?b= and GET /c?b= and the
// preflights. Each step may stop the request with a named reason. Written on node:http's request and response, once:
// the front (../front.ts) serves them before Express, and Express mounts these same functions (for its route list
// and the spellings it also routes here, such as `/T`).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../../context.js';
import { normalizeDeviceId } from '../../fields.js';
import { DEVICE_ID_PARAMS, gpcOptOut, headerText } from '../../ingest/client.js';
import { browserConversionSchema, conversionAnswer, type Conversions } from '../../ingest/conversions.js';
import { scriptTouchFacts, scriptTouchSchema, withoutDeviceIds, type Touches } from '../../ingest/touches.js';
import { isMacro } from '../../../snippet/token.js';
import { checked, jsonObject, readBody } from '../body.js';
import { badRequest, HttpError } from '../errors.js';
import { corsForSites, deviceIdsAllowed, fallbackRefusal, siteOf } from '../cors.js';
import { clientAddress, isHttps } from '../peer.js';
import { queryOf, single } from '../query.js';
import { rateLimit } from '../rate-limit.js';
import { sendJson } from '../reply.js';
import { setVisitorCookie, visitorFor, visitorOf } from '../visitor.js';

/** a transparent 1×1 GIF */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** the body cap of /c */
export const BODY_BYTES = 8192;

/** the body cap of /t: room for the largest touch scriptTouchSchema takes, the landing URL and the current one
 * (8,192 characters each), the referrer (4,096) and the tag's attributes */
export const TOUCH_BODY_BYTES = 24_576;

/** the GIF, embeddable by any page (CORP cross-origin), never cached */
function sendGif(res: ServerResponse, status = 200): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'image/gif');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Cross-Origin-Resource-Policy', 'cross-origin');
  res.setHeader('Content-Length', PIXEL_GIF.length);
  res.end(PIXEL_GIF);
}

function dropped(res: ServerResponse, reason: string, gif = false): void {
  res.setHeader('X-Sspx-Reason', reason);
  if (gif) return sendGif(res, 202);
  sendJson(res, 202, { dropped: reason });
}

/** a public route: its method and path, and the function that serves it, steps and all */
export interface PublicRoute {
  method: 'GET' | 'HEAD' | 'POST' | 'OPTIONS';
  path: '/t' | '/i' | '/c';
  serve(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** the public routes of one collector; they share one rate limiter (one count per address) */
export function publicRoutes(ctx: Context, touches: Touches, conversions: Conversions): PublicRoute[] {
  const { config } = ctx;
  const hops = config.trust_proxy;
  const limiter = rateLimit(config.rate_limit_per_minute, ctx.clock);
  const cors = corsForSites(config);
  const limit = (req: IncomingMessage, res: ServerResponse) => limiter(clientAddress(req, hops), res);
  const refuseForgedFallback = (req: IncomingMessage) => {
    const refusal = fallbackRefusal(req, config);
    if (refusal) throw refusal;
  };
  /** the ?b= of an image fallback, the whole body as text */
  const fallbackText = (req: IncomingMessage) => single(queryOf(req), 'b') ?? '';

  async function touch(req: IncomingMessage, res: ServerResponse, text: unknown, gif: boolean) {
    if (gif) refuseForgedFallback(req);
    const body = checked(scriptTouchSchema, jsonObject(text));
    const reason = touches.drop(req.headers);
    if (reason) return dropped(res, reason, gif);
    const site = siteOf(req, config);
    let facts = scriptTouchFacts(body, req.headers);
    // an unreplaced macro: the only value the script's URLs hold under data-params, an older script's diagnostic
    // ({t} alone, a value it found suspicious, or {p}); counted before a visitor cookie is set, so a misconfigured
    // line item tracks nobody, and answered as a drop, whose reason the script's data-debug prints
    if (typeof facts.token == 'string' ? isMacro(facts.token) : body.e === 'macro') {
      await touches.countMacro(site?.origin ?? null);
      return dropped(res, 'unreplaced_macro', gif);
    }
    const now = ctx.clock.now();
    const visitor_id = visitorFor(req);
    if (facts.device_id && !deviceIdsAllowed(req, config, gif ? 'image' : 'script')) {
      facts = withoutDeviceIds(facts);
      ctx.events.emit('device_ids_ignored', { route: '/t' });
    }
    const t = await touches.record({
      kind: 'click',
      source: 'script',
      token: facts.token,
      visitor_id,
      device_id: facts.device_id,
      url: facts.url,
      referrer: facts.referrer,
      hints: facts.hints,
      site: site?.origin ?? null,
      ip: clientAddress(req, hops),
      user_agent: headerText(req.headers['user-agent'], 512),
      occurred_at: now,
    });
    // only a stored touch names its visitor: a refused one (no usable token) sets no cookie
    setVisitorCookie(res, visitor_id, config, site, { https: isHttps(req, hops), now });
    if (gif) return sendGif(res);
    sendJson(res, 200, { cid: t.cid });
  }

  async function impression(req: IncomingMessage, res: ServerResponse) {
    const reason = touches.drop(req.headers);
    if (reason) return dropped(res, reason, true);
    const query = queryOf(req);
    const param = config.token_params.find((p) => typeof query[p] === 'string');
    if (!param) throw badRequest('missing_token', `the impression needs one ${config.token_params.join(' or ')} parameter`);
    const token = query[param];
    let device_id: string | null = null;
    for (const name of DEVICE_ID_PARAMS) device_id ??= normalizeDeviceId(query[name]);
    if (device_id && !deviceIdsAllowed(req, config, 'impression')) {
      device_id = null;
      ctx.events.emit('device_ids_ignored', { route: '/i' });
    }
    await touches.record({
      kind: 'view',
      source: 'impression',
      token,
      visitor_id: visitorOf(req),
      device_id,
      site: siteOf(req, config)?.origin ?? null,
      ip: clientAddress(req, hops),
      user_agent: headerText(req.headers['user-agent'], 512),
      url: null,
      referrer: null,
      hints: null,
      occurred_at: ctx.clock.now(),
    });
    sendGif(res);
  }

  async function conversion(req: IncomingMessage, res: ServerResponse, text: unknown, gif: boolean) {
    if (gif) refuseForgedFallback(req);
    // Sec-GPC as on /t and /i: firing the conversion would share the visitor's data with the ad network
    if (gpcOptOut(req.headers, config.honor_gpc)) return dropped(res, 'gpc', gif);
    const input = await conversions.input(browserConversionSchema, jsonObject(text), 'browser', { visitor_id: visitorOf(req) });
    const result = await conversions.record(input);
    if (gif) return sendGif(res);
    sendJson(res, 200, conversionAnswer(result));
  }

  /** a route: the rate limit, then CORS where a page's origin matters, then its handler */
  const route = (method: PublicRoute['method'], path: PublicRoute['path'], withCors: boolean, handle: PublicRoute['serve']): PublicRoute => ({
    method,
    path,
    serve: async (req, res) => {
      limit(req, res);
      if (withCors) cors(req, res);
      await handle(req, res);
    },
  });
  /** a CORS preflight: answered by the CORS check alone; without an Origin there is no such route */
  const preflight = (path: PublicRoute['path']): PublicRoute => ({
    method: 'OPTIONS',
    path,
    serve: async (req, res) => {
      if (!cors(req, res)) throw new HttpError(404, 'not_found', `no route OPTIONS ${path}`);
    },
  });

  return [
    preflight('/t'),
    preflight('/c'),
    route('POST', '/t', true, async (req, res) => touch(req, res, await readBody(req, TOUCH_BODY_BYTES), false)),
    route('GET', '/i', false, impression),
    route('POST', '/c', true, async (req, res) => conversion(req, res, await readBody(req, BODY_BYTES), false)),
    // the script's last resort, an image, can only GET: the touch or the conversion as ?b=, answered with a GIF
    route('GET', '/t', true, (req, res) => touch(req, res, fallbackText(req), true)),
    route('GET', '/c', true, (req, res) => conversion(req, res, fallbackText(req), true)),
    // a HEAD (a link checker's, a mail scanner's) records nothing: the GIF's head alone (node:http sends no body)
    ...(['/i', '/t', '/c'] as const).map((path) => route('HEAD', path, false, async (_req, res) => sendGif(res))),
  ];
}
