// The HTTP front: the node:http listener. The beacon routes (POST /t, GET /t, GET /i, POST /c, GET /c and the
// preflights, routes/public.ts) and GET /sspx.js (routes/script.ts) are served here, on node:http's own request and
// response; every other request goes to the Express app. Express mounts the same functions (createApp), so there is
// one implementation of each route, and a spelling only Express routes (`/T`, `/t/`) gets the same answer.
//
// Why: landing-page bursts arrive on exactly these routes, and a beacon needs none of Express's per-request work
// (re-parenting the request and response, the router's layers, body-parser's pipeline for a plain body) nor the
// HTML security headers (CSP, COOP, X-Frame-Options…: nothing to frame or inject into a JSON answer or a GIF). What a
// beacon keeps: the metrics hooks, an X-Request-Id, nosniff and CORP, the rate limit, CORS, the body cap and the named
// refusals (also in X-Sspx-Reason); a success is counted in the metrics (sspx_beacon_answers_total), not logged; a
// refusal or an error is logged.
import { IncomingMessage, ServerResponse, type RequestListener, type ServerOptions } from 'node:http';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Context } from '../context.js';
import { randomBytesPooled } from '../ids.js';
import { createApp, type AppParts } from './app.js';
import { toHttpError, writeError } from './errors.js';
import { publicRoutes, type PublicRoute } from './routes/public.js';
import { scriptHandler } from './routes/script.js';

/** the path of a request target, without its query */
const pathOf = (url = '') => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

/**
 * Serves one beacon: the `before` hooks (metrics), a request id, the route's own steps; a refusal or an error is
 * answered as the app's error handler answers it, and logged with the request line the app writes for every request.
 */
export function beaconRunner(ctx: Context, before: RequestHandler[] = []) {
  return (route: PublicRoute, req: IncomingMessage, res: ServerResponse): void => {
    // the hooks call next at once (they only watch the response); an Express hook that did not would be skipped
    for (const hook of before) hook(req as Request, res as Response, () => undefined);
    const start = process.hrtime.bigint();
    const id = randomBytesPooled(8).toString('hex');
    res.setHeader('X-Request-Id', id);
    // what of helmet's headers a JSON answer or a GIF needs: no sniffing, and no cross-site reads (a GIF says otherwise)
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-site');
    let error: string | undefined;
    res.on('finish', () => {
      if (res.statusCode < 400) return;
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      ctx.log.info({ msg: 'request', request_id: id, method: req.method, path: pathOf(req.url).slice(0, 200), status: res.statusCode, ms, error });
    });
    route.serve(req, res).catch((err: unknown) => {
      const http = toHttpError(err);
      if (http.status >= 500) ctx.log.error({ msg: 'request failed', err });
      error = http.code;
      // named in a header too, as the beacons' drops are (X-Sspx-Reason): what a browser hides from the page stays visible
      if (!res.headersSent) res.setHeader('X-Sspx-Reason', http.code);
      writeError(res, http);
    });
  };
}

export interface HttpFront {
  app: Express;
  /** for node:http's createServer: requests and responses constructed with Express's prototypes */
  options: ServerOptions;
  listener: RequestListener;
}

/**
 * Express's request and response prototypes as classes node:http constructs from the start (createServer's
 * IncomingMessage and ServerResponse options), so app.handle's re-parenting of each request (which V8 makes as
 * expensive as a whole bare node:http request) finds the prototype already in place and does nothing. The beacon
 * routes use only what node:http's classes have.
 */
function constructWithExpressPrototypes(app: Express): Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  class ExpressRequest extends IncomingMessage {}
  class ExpressResponse<R extends IncomingMessage = IncomingMessage> extends ServerResponse<R> {}
  Object.setPrototypeOf(ExpressRequest.prototype, app.request);
  Object.setPrototypeOf(ExpressResponse.prototype, app.response);
  app.request = ExpressRequest.prototype as unknown as Request;
  app.response = ExpressResponse.prototype as unknown as Response;
  return { IncomingMessage: ExpressRequest, ServerResponse: ExpressResponse };
}

/** the Express app, the server options that construct its requests, and the listener that serves the beacons and the script before it */
export function createHttpFront(ctx: Context, parts: AppParts): HttpFront {
  const routes = publicRoutes(ctx, parts.touches, parts.conversions);
  const runBeacon = beaconRunner(ctx, parts.before);
  const script = scriptHandler();
  const app = createApp(ctx, parts, { beacons: routes, runBeacon, script });
  const beacons = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));

  const listener: RequestListener = (req, res) => {
    const path = pathOf(req.url);
    const beacon = beacons.get(`${req.method} ${path}`);
    if (beacon) return runBeacon(beacon, req, res);
    if (path === '/sspx.js') return script(req, res, () => app(req, res));
    app(req, res);
  };
  return { app, options: constructWithExpressPrototypes(app), listener };
}
