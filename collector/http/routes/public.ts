// The browser-facing routes: POST /t (a click touch from the script), GET /i (a view touch from an impression
// tracker), POST /c (a conversion from the thank-you page). Each step may stop the request with a named reason.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Context } from '../../context.js';
import { normalizeDeviceId } from '../../fields.js';
import { DEVICE_ID_PARAMS, gpcOptOut, headerText } from '../../ingest/client.js';
import { browserConversionSchema, conversionAnswer, type Conversions } from '../../ingest/conversions.js';
import { scriptTouchFacts, scriptTouchSchema, withoutDeviceIds, type Touches } from '../../ingest/touches.js';
import { isMacro } from '../../../snippet/token.js';
import { checked, jsonObject, rawBody } from '../body.js';
import { badRequest } from '../errors.js';
import { corsForSites, deviceIdsAllowed, fallbackRefusal, siteOf } from '../cors.js';
import { queryOf, single } from '../query.js';
import { rateLimit } from '../rate-limit.js';
import { ensureVisitor, visitorOf } from '../visitor.js';

/** a transparent 1×1 GIF */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/** the body cap of /t and /c; the fast path (../fast.ts) leaves longer bodies to Express, which refuses them with 413 */
export const BODY_BYTES = 8192;

function sendGif(res: Response, status = 200): void {
  res.status(status).set({ 'Content-Type': 'image/gif', 'Cache-Control': 'no-store', 'Cross-Origin-Resource-Policy': 'cross-origin' }).end(PIXEL_GIF);
}

function dropped(res: Response, reason: string, gif = false): void {
  res.set('X-Sspx-Reason', reason);
  if (gif) return sendGif(res, 202);
  res.status(202).json({ dropped: reason });
}

/**
 * The browser-facing handlers, built once per collector: the Express routes below and the raw node:http fast path
 * (../fast.ts) serve the same requests through these same functions, and share one rate limiter (one count per address).
 */
export interface PublicIngest {
  limit: RequestHandler;
  cors: RequestHandler;
  /** the script's touch: its body as text (POST), or the image fallback's ?b= (GET, answered with a GIF) */
  touch(req: Request, res: Response, text: unknown, gif: boolean): Promise<void>;
  /** GET /i: an impression tracker's view touch */
  impression(req: Request, res: Response): Promise<void>;
  /** POST /c: a conversion from the thank-you page (or GET /c?b= from the script's image fallback, answered with a GIF) */
  conversion(req: Request, res: Response, text?: unknown, gif?: boolean): Promise<void>;
}

export function publicIngest(ctx: Context, touches: Touches, conversions: Conversions): PublicIngest {
  const { config } = ctx;
  const refuseForgedFallback = (req: Request) => {
    const refusal = fallbackRefusal(req, config);
    if (refusal) throw refusal;
  };
  return {
    limit: rateLimit(config.rate_limit_per_minute, ctx.clock),
    cors: corsForSites(config),

    async touch(req, res, text, gif) {
      if (gif) refuseForgedFallback(req);
      const body = checked(scriptTouchSchema, jsonObject(req, text));
      const reason = touches.drop(req.headers);
      if (reason) return dropped(res, reason, gif);
      const site = siteOf(req, config);
      // the diagnostic: an older script's {p}, or a value the script found suspicious ({t} alone) that is a macro;
      // counted before a visitor cookie is set, so a misconfigured line item tracks nobody
      if (body.t === undefined ? body.e === 'macro' : isMacro(body.t)) {
        await touches.countMacro(site?.origin ?? null);
        res.set('X-Sspx-Reason', 'unreplaced_macro');
        return void (gif ? sendGif(res) : res.status(204).end());
      }
      const visitor_id = ensureVisitor(req, res, config, site);
      let facts = scriptTouchFacts(body, req.headers);
      if (facts.device_id && !deviceIdsAllowed(req, config, gif ? 'image' : 'script')) {
        facts = withoutDeviceIds(facts);
        ctx.events.emit('device_ids_ignored', { route: '/t' });
      }
      const t = await touches.record({
        ...facts,
        kind: 'click',
        source: 'script',
        visitor_id,
        site: site?.origin ?? null,
        ip: req.ip,
        user_agent: headerText(req.headers['user-agent'], 512),
        occurred_at: ctx.clock.now(),
      });
      if (gif) return sendGif(res);
      res.json({ cid: t.cid });
    },

    async impression(req, res) {
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
        ip: req.ip,
        user_agent: headerText(req.headers['user-agent'], 512),
        url: null,
        referrer: null,
        hints: null,
        occurred_at: ctx.clock.now(),
      });
      sendGif(res);
    },

    async conversion(req, res, text = req.body, gif = false) {
      if (gif) refuseForgedFallback(req);
      // Sec-GPC as on /t and /i: firing the conversion would share the visitor's data with the ad network
      if (gpcOptOut(req.headers, config.honor_gpc)) return dropped(res, 'gpc', gif);
      const input = await conversions.input(browserConversionSchema, jsonObject(req, text), 'browser', { visitor_id: visitorOf(req) });
      const result = await conversions.record(input);
      if (gif) return sendGif(res);
      res.json(conversionAnswer(result));
    },
  };
}

export function publicRoutes(ingest: PublicIngest): Router {
  const router = Router();
  const { limit, cors } = ingest;
  router.options(['/t', '/c'], cors);
  router.post('/t', limit, cors, rawBody(`${BODY_BYTES}b`), (req, res) => ingest.touch(req, res, req.body, false));
  router.get('/t', limit, cors, (req, res) => ingest.touch(req, res, single(queryOf(req), 'b') ?? '', true));
  router.get('/i', limit, (req, res) => ingest.impression(req, res));
  router.post('/c', limit, cors, rawBody(`${BODY_BYTES}b`), (req, res) => ingest.conversion(req, res));
  // the script's last resort, an image, can only GET: the conversion as ?b=, answered with a GIF
  router.get('/c', limit, cors, (req, res) => ingest.conversion(req, res, single(queryOf(req), 'b') ?? '', true));
  return router;
}
