// Apps: POST /v1/app/open with an app key — the first open of an install binds it to its touch (see
// ingest/installs.ts for the order of evidence). Asking again answers the same.
import { Router } from 'express';
import type { Context } from '../../context.js';
import { appOpenSchema, Installs } from '../../ingest/installs.js';
import type { Touches } from '../../ingest/touches.js';
import { requireKey } from '../auth.js';
import { checked, jsonObject, rawBody } from '../body.js';

export function appRoutes(ctx: Context, touches: Touches, installs = new Installs(ctx, touches)): Router {
  const router = Router();

  router.post('/v1/app/open', requireKey(ctx.config, 'app'), rawBody('16kb'), async (req, res) => {
    const body = checked(appOpenSchema, jsonObject(req));
    const open = await installs.input(body, {
      ip: req.ip,
      user_agent: String(req.headers['user-agent'] ?? '').slice(0, 512) || null,
      accept_language: String(req.headers['accept-language'] ?? '').slice(0, 256) || null,
    });
    res.json(await installs.open(open));
  });

  return router;
}
