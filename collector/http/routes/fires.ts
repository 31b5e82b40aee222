// Operators' view of the outbox: list fires, read one with every attempt and its verbose transcript, download the
// evidence text for an investigation, replay a failed or held fire. Admin key only.
import express, { type Request } from 'express';
import type { Context } from '../../context.js';
import { findPixel } from '../../config.js';
import { invalidOrderId } from '../../dispatch/fields.js';
import { renderAttempt, renderEvidence } from '../../dispatch/transcript.js';
import type { AttemptOutcome, FireDetail, FireFilter, FireState } from '../../store/store.js';
import { requireKey } from '../auth.js';
import { HttpError, badRequest } from '../errors.js';

const STATES: readonly FireState[] = ['queued', 'in_flight', 'fired', 'failed', 'held'];
const OUTCOMES: readonly AttemptOutcome[] = ['fired', 'retry', 'failed', 'ambiguous', 'lease_expired'];
const FIRE_ID = /^[\w.:-]{1,128}$/;

/** one query value: a repeated parameter is a client mistake, not something to pick from */
function one(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`bad_${name}`, `${name} must be given once, as a plain value`);
  return v;
}

/** ISO 8601 or milliseconds since the epoch */
function time(req: Request, name: string): number | undefined {
  const v = one(req, name);
  if (v === undefined) return undefined;
  const t = /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw badRequest(`bad_${name}`, `${name} must be an ISO 8601 time or milliseconds since the epoch`);
  return t;
}

export function parseFireFilter(req: Request, ctx: Context): FireFilter {
  const filter: FireFilter = {};
  const state = one(req, 'state');
  if (state !== undefined) {
    if (!STATES.includes(state as FireState)) throw badRequest('bad_state', `state must be one of ${STATES.join(', ')}`);
    filter.state = state as FireState;
  }
  const outcome = one(req, 'last_outcome');
  if (outcome !== undefined) {
    if (!OUTCOMES.includes(outcome as AttemptOutcome)) throw badRequest('bad_last_outcome', `last_outcome must be one of ${OUTCOMES.join(', ')}`);
    filter.last_outcome = outcome as AttemptOutcome;
  }
  const pixel = one(req, 'pixel');
  if (pixel !== undefined) {
    // a configured name, or any numeric id: fires of a pixel since removed from the config stay findable
    const id = findPixel(ctx.config, pixel)?.id ?? (/^\d{1,12}$/.test(pixel) ? Number(pixel) : undefined);
    if (id === undefined) throw badRequest('unknown_pixel', `pixel must be a configured pixel name or a numeric pixel id`);
    filter.pixel_id = id;
  }
  const order = one(req, 'order_id');
  if (order !== undefined) {
    const why = invalidOrderId(order);
    if (why) throw badRequest('bad_order_id', why);
    filter.order_id = order;
  }
  filter.from = time(req, 'from');
  filter.to = time(req, 'to');
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) throw badRequest('bad_range', 'from must not be after to');
  const limit = one(req, 'limit');
  if (limit !== undefined) {
    if (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000) throw badRequest('bad_limit', 'limit must be an integer from 1 to 1000');
    filter.limit = Number(limit);
  }
  const before = one(req, 'before');
  if (before !== undefined) {
    if (!FIRE_ID.test(before)) throw badRequest('bad_before', 'before must be a fire id (the last one of the previous page)');
    filter.before = before;
  }
  return filter;
}

function fireId(req: Request): string {
  const id = String(req.params.id);
  if (!FIRE_ID.test(id)) throw new HttpError(404, 'fire_not_found', 'no fire has this id');
  return id;
}

async function loadFire(ctx: Context, req: Request): Promise<FireDetail> {
  const fire = await ctx.store.getFire(fireId(req));
  if (!fire) throw new HttpError(404, 'fire_not_found', 'no fire has this id');
  return fire;
}

const pixelName = (ctx: Context, id: number) => findPixel(ctx.config, id)?.name;

export function fireRoutes(ctx: Context, dispatcher?: { wake(): void }): express.Router {
  const router = express.Router();
  const admin = requireKey(ctx.config, 'admin');

  router.get('/v1/fires', admin, async (req, res) => {
    const fires = await ctx.store.listFires(parseFireFilter(req, ctx));
    res.set('Cache-Control', 'no-store').json({ fires });
  });

  router.get('/v1/fires/:id', admin, async (req, res) => {
    const fire = await loadFire(ctx, req);
    const attempts = fire.attempts.map((a) => ({ ...a, transcript: renderAttempt(a) }));
    res.set('Cache-Control', 'no-store').json({ ...fire, pixel: pixelName(ctx, fire.pixel_id) ?? null, attempts });
  });

  router.get('/v1/fires/:id/evidence', admin, async (req, res) => {
    const fire = await loadFire(ctx, req);
    res
      .set('Cache-Control', 'no-store')
      .type('text/plain; charset=utf-8')
      .attachment(`sspx-fire-${fire.id}.txt`)
      .send(renderEvidence(fire, pixelName(ctx, fire.pixel_id), ctx.clock.now()));
  });

  router.post('/v1/fires/:id/replay', admin, async (req, res) => {
    const id = fireId(req);
    const fire = await ctx.store.replayFire(id, ctx.clock.now());
    if (!fire) {
      const existing = await ctx.store.getFire(id);
      if (!existing) throw new HttpError(404, 'fire_not_found', 'no fire has this id');
      throw new HttpError(409, 'not_replayable', `only failed or held fires can be replayed; this one is ${existing.state}`);
    }
    ctx.log.info({ fire_id: id, by: 'admin' }, 'fire replayed');
    dispatcher?.wake();
    res.json(fire);
  });

  return router;
}
