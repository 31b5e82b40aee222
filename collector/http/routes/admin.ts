// GET /admin: the operators' dashboard. Log in with an admin key (compared in constant time) for a signed,
// HttpOnly, SameSite=Strict session cookie; every POST carries the session's CSRF token and, when the browser names
// one, our own Origin. Pages: the overview with its charts, the fires table, one fire with its transcripts, the
// evidence download and the replay button; one install with its touches in order and what each conversion credited.
import express, { type NextFunction, type Request, type Response } from 'express';
import { ADMIN_CSS, ADMIN_CSS_ETAG, ADMIN_JS, ADMIN_JS_ETAG } from '../../admin/assets.js';
import type { Html } from '../../admin/html.js';
import { query } from '../../admin/html.js';
import { isPeriod, loadOverview } from '../../admin/overview.js';
import { errorPage, firePage, firesPage, installPage, loginPage, overviewPage } from '../../admin/pages.js';
import { Sessions, sameOrigin, type Session } from '../../admin/session.js';
import type { Context } from '../../context.js';
import { Refusal } from '../../fields.js';
import { Fires, parseFireFilter } from '../../operators/fires.js';
import type { FireFilter } from '../../store/store.js';
import { keyGuard, keyMatches } from '../auth.js';
import { reconcileRoutes } from './admin-reconcile.js';
import { HttpError, toHttpError } from '../errors.js';

const PAGE_SIZE = 50;
/** the fires-table filters that links carry along */
const FILTER_KEYS = ['pixel', 'order_id', 'state', 'from', 'to'] as const;

type SessionRes = Response<unknown, { session: Session }>;

function send(res: Response, page: Html, status = 200): void {
  res.status(status).set('Cache-Control', 'no-store').type('html').send(page.value);
}

/** the first value of a query parameter, as typed */
function param(req: Request, name: string): string | undefined {
  const v = req.query[name];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' ? s.slice(0, 200) : undefined;
}

/** the table's filters as typed (kept in links), and what they mean for the store; a bad one is named, not a 400 */
function fireFilters(req: Request, ctx: Context): { shown: Record<string, string>; filter: FireFilter; error?: string } {
  const shown: Record<string, string> = {};
  for (const k of FILTER_KEYS) {
    const v = param(req, k)?.trim();
    if (v) shown[k] = v;
  }
  const { filter, refusals } = parseFireFilter(ctx, { ...shown, before: param(req, 'before') });
  filter.limit = PAGE_SIZE + 1;
  return { shown, filter, error: refusals.length ? `Filters ignored: ${refusals.map((r) => r.message).join('; ')}.` : undefined };
}

/** only our own pages are a place to return to after logging in */
const safeNext = (next: unknown) =>
  typeof next === 'string' && /^\/admin(\/[\w./:-]*)?(\?[^\s\\]*)?$/.test(next) && !next.includes('..') ? next : '/admin';

export function adminRoutes(ctx: Context, dispatcher?: { wake(): void }, fires = new Fires(ctx, dispatcher)): express.Router {
  const router = express.Router();
  const sessions = new Sessions(ctx.store, ctx.config, () => ctx.clock.now());
  const keys = keyGuard(ctx);
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  // helmet's no-referrer makes browsers send `Origin: null` on our own form POSTs; same-origin keeps the Origin check
  // possible and still sends nothing to other sites
  router.use('/admin', (_req, res, next) => {
    res.set('Referrer-Policy', 'same-origin');
    next();
  });

  const asset = (body: string, etag: string, type: string) => (req: Request, res: Response) => {
    res.set({ 'Content-Type': type, 'Cache-Control': 'public, max-age=86400', ETag: etag });
    if (req.headers['if-none-match'] === etag) return void res.status(304).end();
    res.send(body);
  };
  router.get('/admin/assets/admin.css', asset(ADMIN_CSS, ADMIN_CSS_ETAG, 'text/css; charset=utf-8'));
  router.get('/admin/assets/admin.js', asset(ADMIN_JS, ADMIN_JS_ETAG, 'text/javascript; charset=utf-8'));

  router.get('/admin/login', async (req, res) => {
    if (await sessions.of(req)) return void res.redirect(303, safeNext(param(req, 'next')));
    send(res, loginPage({ next: safeNext(param(req, 'next')) }));
  });

  router.post('/admin/login', form, async (req, res) => {
    const next = safeNext(req.body?.next);
    if (!sameOrigin(req, ctx.config)) return send(res, errorPage(403, 'This form must be sent from the dashboard itself (opened by a name, the dashboard needs public_url set to its address).'), 403);
    const key = typeof req.body?.key === 'string' ? req.body.key : '';
    if (!ctx.config.keys.admin.length) {
      return send(res, loginPage({ next, error: 'No admin key is configured: add one under keys.admin in the configuration.' }), 401);
    }
    // checked before the key is compared: an address that guessed wrong too often is not heard until the window ends
    const throttled = keys.throttled(req);
    if (throttled) {
      res.set(throttled.headers);
      return send(res, loginPage({ next, error: 'Too many wrong keys from this address: try again later.' }), 429);
    }
    if (!key || key.length > 512 || !keyMatches(key, ctx.config.keys.admin)) {
      if (key) keys.failed(req);
      ctx.log.warn({ msg: 'admin login refused', ip: req.ip });
      return send(res, loginPage({ next, error: 'That is not an admin key.' }), 401);
    }
    await sessions.start(req, res);
    ctx.log.info({ msg: 'admin login', ip: req.ip });
    res.redirect(303, next);
  });

  // Everything below needs a session; every POST below needs the CSRF token too.
  router.use('/admin', async (req: Request, res: SessionRes, next: NextFunction) => {
    const session = await sessions.of(req);
    if (!session) {
      if (req.method === 'GET' || req.method === 'HEAD') return void res.redirect(303, `/admin/login${query({ next: req.originalUrl.slice(0, 500) })}`);
      return send(res, errorPage(403, 'Your session has ended: log in again.'), 403);
    }
    res.locals.session = session;
    next();
  });
  const csrf = (req: Request, res: SessionRes, next: NextFunction) => {
    if (!sameOrigin(req, ctx.config) || !sessions.checkCsrf(res.locals.session, req.body?._csrf)) {
      ctx.log.warn({ msg: 'admin request refused: CSRF check failed', path: req.path.slice(0, 200) });
      return send(res, errorPage(403, 'This form is stale or was not sent from the dashboard: reload the page and try again.', res.locals.session.csrf), 403);
    }
    next();
  };

  router.post('/admin/logout', form, csrf, async (req, res: SessionRes) => {
    await sessions.end(req, res, res.locals.session);
    res.redirect(303, '/admin/login');
  });

  router.get('/admin', async (req, res: SessionRes) => {
    const p = param(req, 'period');
    const overview = await loadOverview(ctx.store, isPeriod(p) ? p : 'day', ctx.clock.now());
    send(res, overviewPage(overview, res.locals.session.csrf));
  });

  router.get('/admin/fires', async (req, res: SessionRes) => {
    const { shown, filter, error } = fireFilters(req, ctx);
    const listed = await fires.list(filter);
    const more = listed.length > PAGE_SIZE;
    const page = listed.slice(0, PAGE_SIZE);
    send(res, firesPage({ fires: page, filters: shown, error, next: more ? page[page.length - 1].id : undefined, config: ctx.config, csrf: res.locals.session.csrf }));
  });

  const loadFire = (req: Request) => fires.load(String(req.params.id));
  const back = (req: Request) => query(fireFilters(req, ctx).shown);

  router.get('/admin/fires/:id', async (req, res: SessionRes) => {
    const fire = await loadFire(req);
    const notice = param(req, 'replayed') ? 'Replayed: the fire is queued again and due now.' : undefined;
    send(res, firePage({ fire, config: ctx.config, csrf: res.locals.session.csrf, back: back(req), notice }));
  });

  router.get('/admin/installs/:id', async (req, res: SessionRes) => {
    const detail = await ctx.store.installDetail(String(req.params.id).slice(0, 200));
    if (!detail) throw new HttpError(404, 'not_found', 'No install with this id.');
    send(res, installPage({ detail, config: ctx.config, csrf: res.locals.session.csrf }));
  });

  router.get('/admin/fires/:id/evidence', async (req, res) => {
    const { filename, text } = await fires.evidence(String(req.params.id));
    res.set('Cache-Control', 'no-store').type('text/plain; charset=utf-8').attachment(filename).send(text);
  });

  router.post('/admin/fires/:id/replay', form, csrf, async (req, res: SessionRes) => {
    const id = String(req.params.id);
    try {
      await fires.replay(id, 'admin dashboard');
    } catch (err) {
      if (!(err instanceof Refusal && err.reason === 'not_replayable')) throw err;
      const fire = await loadFire(req);
      return send(res, firePage({ fire, config: ctx.config, csrf: res.locals.session.csrf, back: back(req), error: err.message }), 409);
    }
    res.redirect(303, `/admin/fires/${encodeURIComponent(id)}${query({ ...fireFilters(req, ctx).shown, replayed: 1 })}`);
  });

  reconcileRoutes(router, ctx, csrf, send);

  router.use('/admin', (req: Request) => {
    throw new HttpError(404, 'not_found', `No dashboard page at ${req.path.slice(0, 200)}.`);
  });
  router.use('/admin', (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const http = toHttpError(err);
    if (http.status >= 500) ctx.log.error({ msg: 'admin page failed', err });
    res.locals.error = http.code;
    send(res, errorPage(http.status, http.status >= 500 ? 'The store could not be read; try again in a moment.' : http.message, res.locals.session?.csrf), http.status);
  });

  return router;
}
