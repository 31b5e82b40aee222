// The Express app: security headers, one log line per request, the routes, and named errors for everything else.
import express, { type ErrorRequestHandler, type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import type { Context } from '../context.js';
import type { Conversions } from '../ingest/conversions.js';
import type { Touches } from '../ingest/touches.js';
import { errorHandler, HttpError } from './errors.js';
import { healthRoutes } from './routes/health.js';
import { publicIngest, publicRoutes, type PublicIngest } from './routes/public.js';
import { scriptRoute } from './routes/script.js';
import { serverRoutes } from './routes/server.js';
import { randomBytesPooled } from '../ids.js';

export interface AppParts {
  touches: Touches;
  conversions: Conversions;
  /** further routers (operators' routes, metrics), mounted after the ingest routes */
  routers?: Router[];
  /** runs before everything else, e.g. for latency metrics */
  before?: RequestHandler[];
  /** the browser-facing handlers; built here unless given (the fast path in fast.ts shares one, and its rate limiter) */
  public?: PublicIngest;
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

/** what every request runs first, in order: the Express app and the fast path (fast.ts) run this same list */
export function frontHandlers(ctx: Context, before: RequestHandler[] = []): RequestHandler[] {
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
export const appErrors = (ctx: Context): ErrorRequestHandler => errorHandler((err) => ctx.log.error({ msg: 'request failed', err }));

export function createApp(ctx: Context, parts: AppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', ctx.config.trust_proxy);
  app.set('query parser', 'simple');
  app.set('etag', false);
  // the script first: it needs none of the front handlers' security headers or request ids (routes/script.ts)
  app.use(scriptRoute());
  for (const h of frontHandlers(ctx, parts.before)) app.use(h);
  app.use(healthRoutes(ctx));
  app.use(publicRoutes(parts.public ?? publicIngest(ctx, parts.touches, parts.conversions)));
  app.use(serverRoutes(ctx, parts.touches, parts.conversions));
  for (const r of parts.routers ?? []) app.use(r);
  app.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route ${req.method} ${req.path.slice(0, 200)}`)));
  app.use(appErrors(ctx));
  return app;
}
