// Operators' view of the outbox: list fires, read one with every attempt and its verbose transcript, download the
// evidence text for an investigation, replay a failed or held fire. Admin key only. The work is the operators'
// fires service (../../operators/fires.ts), which the dashboard shares; this is its JSON face.
import express, { type Request } from 'express';
import type { Context } from '../../context.js';
import { FIRE_FILTER_KEYS, Fires, parseFireFilter, type FireQuery } from '../../operators/fires.js';
import { keyGuard } from '../auth.js';
import { badRequest } from '../errors.js';

/** the filters of the query string: a repeated parameter is a client mistake, not something to pick from */
function fireQuery(req: Request): FireQuery {
  const q: FireQuery = {};
  for (const name of FIRE_FILTER_KEYS) {
    const v = req.query[name];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw badRequest(`bad_${name}`, `${name} must be given once, as a plain value`);
    q[name] = v;
  }
  return q;
}

export function fireRoutes(ctx: Context, dispatcher?: { wake(): void }, fires = new Fires(ctx, dispatcher)): express.Router {
  const router = express.Router();
  const admin = keyGuard(ctx).require('admin');

  router.get('/v1/fires', admin, async (req, res) => {
    const { filter, refusals } = parseFireFilter(ctx, fireQuery(req));
    if (refusals.length) throw refusals[0];
    res.set('Cache-Control', 'no-store').json({ fires: await fires.list(filter) });
  });

  router.get('/v1/fires/:id', admin, async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await fires.view(String(req.params.id)));
  });

  router.get('/v1/fires/:id/evidence', admin, async (req, res) => {
    const { filename, text } = await fires.evidence(String(req.params.id));
    res.set('Cache-Control', 'no-store').type('text/plain; charset=utf-8').attachment(filename).send(text);
  });

  router.post('/v1/fires/:id/replay', admin, async (req, res) => {
    res.json(await fires.replay(String(req.params.id), 'admin'));
  });

  return router;
}
