// The HTTP front: a node:http server whose requests and responses are Express's from birth, and a listener that
// serves the two hottest routes, POST /t and GET /i, itself and hands every other request to the Express app.
//
// Why: landing-page bursts arrive on exactly these two routes, and `npm run bench` (touch ingest; CPU time per
// request, which stays comparable on a busy machine) measured Express's own per-request machinery as the cost:
// - app.handle re-parents every request and response (Object.setPrototypeOf onto Express's request and response),
//   which V8 makes expensive: on its own about as much CPU as a whole request of a bare node:http server. Here both
//   objects are constructed with those prototypes already (createServer's IncomingMessage/ServerResponse options), so
//   Express's re-parenting becomes a no-op, for every route, and nothing else about them changes;
// - the router walking its layers and nested routers, and body-parser's read pipeline (type-is, raw-body, iconv),
//   are then still a sixth of a touch's CPU (the same touch costs 15–20 % less here than through the Express
//   route). The two routes skip those, nothing else:
//   the same handlers run in the same order — frontHandlers (metrics hook, request log and X-Request-Id, helmet's
//   security headers), the shared rate limiter and CORS check, then the route's own handler from routes/public.ts —
//   on the same Express request and response (req.ip and req.secure from trust_proxy, res.cookie, res.json), and an
//   error goes to the app's own error handler: status codes, JSON errors, headers and the cookie are the same;
// - anything but the plain case is handed to Express untouched (nothing read, nothing counted yet): another method
//   or path spelling, another content type or charset, a compressed, chunked or over-long body.
import { IncomingMessage, ServerResponse, type RequestListener, type ServerOptions } from 'node:http';
import type { ErrorRequestHandler, Express, Request, RequestHandler, Response } from 'express';
import type { Context } from '../context.js';
import { appErrors, createApp, frontHandlers, type AppParts } from './app.js';
import { HttpError } from './errors.js';
import { BODY_BYTES, publicIngest, type PublicIngest } from './routes/public.js';

/** what express.text in rawBody accepts and decodes as UTF-8 without help: the script's text/plain;charset=UTF-8 */
const PLAIN_TYPE = /^(?:text\/plain|application\/json)\s*(?:;\s*charset=(?:utf-8|"utf-8")\s*)?$/i;

/** a body the fast path may read itself: known length within the cap, plain type, no content coding */
function plainBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined || h['content-length'] === undefined) return false;
  return Number(h['content-length']) <= BODY_BYTES && PLAIN_TYPE.test(h['content-type'] ?? '');
}

/** `/t` or `/t?…`, exactly: other spellings Express also routes there (`/T`, `/t/`) take the Express path */
const isPath = (url: string | undefined, path: string) => url === path || (url !== undefined && url.startsWith(path + '?'));

/**
 * The body as text, decoded as body-parser decodes UTF-8 (a leading byte-order mark dropped). A client that goes away
 * mid-body gets body-parser's refusal (which it will not read); nothing was stored.
 */
function readText(req: IncomingMessage, fail: (err: unknown) => void, then: (text: string) => void): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('error', () => fail(new HttpError(400, 'request_aborted', 'request aborted')));
  req.on('end', () => {
    const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
    then(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  });
}

/** runs connect-style handlers in order, as Express's router would: an error, thrown or passed to next, stops the chain */
function runChain(handlers: RequestHandler[], req: Request, res: Response, fail: (err: unknown) => void, last: () => void): void {
  let i = 0;
  const next = (err?: unknown): void => {
    if (err) return fail(err);
    const handler = handlers[i++];
    if (!handler) return last();
    try {
      const out: unknown = handler(req, res, next);
      if (out instanceof Promise) out.catch(fail);
    } catch (e) {
      fail(e);
    }
  };
  next();
}

export interface HttpFront {
  app: Express;
  /** for node:http's createServer: requests and responses constructed with Express's prototypes */
  options: ServerOptions;
  listener: RequestListener;
}

/**
 * Express's request and response prototypes as classes node:http constructs from the start (createServer's
 * IncomingMessage and ServerResponse options). They extend node's classes, inherit everything from the app's
 * request and response objects, and become them (app.request, app.response), so app.handle's re-parenting of each
 * request finds the prototype already in place and does nothing.
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

/** the Express app, the server options that construct its requests, and the listener that serves POST /t and GET /i before it */
export function createHttpFront(ctx: Context, parts: AppParts): HttpFront {
  const ingest: PublicIngest = parts.public ?? publicIngest(ctx, parts.touches, parts.conversions);
  const app = createApp(ctx, { ...parts, public: ingest });
  const front = frontHandlers(ctx, parts.before);
  const touchChain = [...front, ingest.limit, ingest.cors];
  const impressionChain = [...front, ingest.limit];
  const errors: ErrorRequestHandler = appErrors(ctx);

  type Handle = (req: Request, res: Response, fail: (err: unknown) => void) => void;
  const serve = (req: IncomingMessage, res: ServerResponse, chain: RequestHandler[], handle: Handle): void => {
    // what Express's app.handle does before routing (the prototypes are there since construction)
    const request = req as Request;
    const response = res as Response;
    request.res = response;
    response.req = request;
    response.locals = Object.create(null);
    const fail = (err: unknown) => errors(err, request, response, () => undefined);
    runChain(chain, request, response, fail, () => {
      try {
        handle(request, response, fail);
      } catch (err) {
        fail(err);
      }
    });
  };
  const touch: Handle = (req, res, fail) => readText(req, fail, (text) => void ingest.touch(req, res, text, false).catch(fail));
  const impression: Handle = (req, res, fail) => void ingest.impression(req, res).catch(fail);

  const listener: RequestListener = (req, res) => {
    if (req.method === 'POST' && isPath(req.url, '/t') && plainBody(req)) return serve(req, res, touchChain, touch);
    if (req.method === 'GET' && isPath(req.url, '/i')) return serve(req, res, impressionChain, impression);
    app(req, res);
  };
  return { app, options: constructWithExpressPrototypes(app), listener };
}
