// The Express app: security headers, one log line per request, the routes, and named errors for everything else.
// The script and the beacon routes are mounted first, without the security headers and the request log: the same
// functions the front (front.ts) serves them with.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import helmet from 'helmet';
import type { Context } from '../context.js';
import type { Conversions } from '../ingest/conversions.js';
import type { Touches } from '../ingest/touches.js';
import { errorHandler, HttpError } from './errors.js';
import { healthRoutes } from './routes/health.js';
import type { PublicRoute } from './routes/public.js';
import { serverRoutes } from './routes/server.js';
import { randomBytesPooled } from '../ids.js';
import { parseQuery } from './query.js';

export interface AppParts {
  touches: Touches;
  conversions: Conversions;
  /** further routers (operators' routes, metrics), mounted after the ingest routes */
  routers?: Router[];
  /** runs before everything else, e.g. for latency metrics */
  before?: RequestHandler[];
}

/** what the front (front.ts) serves before Express, which mounts the same functions */
export interface FrontRoutes {
  beacons: PublicRoute[];
  runBeacon(route: PublicRoute, req: IncomingMessage, res: ServerResponse): void;
  script(req: IncomingMessage, res: ServerResponse, next: () => void): void;
}

/** one JSON line per request, with a request id that is also answered in X-Request-Id */
function requestLog(ctx: Context): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    const id = randomBytesPooled(8).toString('hex');
    res.setHeader('X-Request-Id', id);
    res.on('finish', () => {
      ctx.log.info({
        msg: 'request',
        request_id: id,
        method: req.method,
        path: req.path.slice(0, 200),
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
        error: res.locals.error,
      });
    });
    next();
  };
}

/** what every request but the script and the beacons runs first, in order */
function frontHandlers(ctx: Context, before: RequestHandler[] = []): RequestHandler[] {
  return [
    ...before,
    requestLog(ctx),
    helmet({
      crossOriginResourcePolicy: { policy: 'same-site' },
      contentSecurityPolicy: { directives: { 'default-src': ["'self'"], 'img-src': ["'self'", 'data:'], 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"] } },
      hsts: ctx.config.public_url?.startsWith('https:') ?? false,
    }),
  ];
}

/** the last handler: named JSON refusals, and a log line for anything unexpected */
const appErrors = (ctx: Context): ErrorRequestHandler => errorHandler((err) => ctx.log.error({ msg: 'request failed', err }));

export function createApp(ctx: Context, parts: AppParts, front: FrontRoutes): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', ctx.config.trust_proxy);
  // every route's req.query from the one parser (query.ts): `+` is a token byte, not a space
  app.set('query parser', parseQuery);
  app.set('etag', false);
  // the script and the beacons first: they need none of the front handlers' security headers or request log
  const first = Router();
  first.get('/sspx.js', (req, res, next) => front.script(req, res, () => next()));
  for (const route of front.beacons) first[route.method.toLowerCase() as 'get' | 'head' | 'post' | 'options'](route.path, (req, res) => front.runBeacon(route, req, res));
  app.use(first);
  for (const h of frontHandlers(ctx, parts.before)) app.use(h);
  app.use(healthRoutes(ctx));
  app.use(serverRoutes(ctx, parts.touches, parts.conversions));
  for (const r of parts.routers ?? []) app.use(r);
  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path.slice(0, 200)}`)));
  app.use(appErrors(ctx));
  return app;
}
