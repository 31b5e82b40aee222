// Apps: POST /v1/app/open with an app key — the first open of an install binds it to its touch (see
// ingest/installs.ts for the order of evidence). Asking again answers the same.
import { Router } from 'express';
import type { Context } from '../../context.js';
import { headerText } from '../../ingest/client.js';
import type { Installs } from '../../ingest/installs.js';
import { keyGuard } from '../auth.js';
import { jsonObject, rawBody } from '../body.js';

export function appRoutes(ctx: Context, installs: Installs): Router {
  const router = Router();

  router.post('/v1/app/open', keyGuard(ctx).require('app'), rawBody('16kb'), async (req, res) => {
    const open = await installs.input(jsonObject(req.body), {
      ip: req.ip,
      user_agent: headerText(req.headers['user-agent'], 512),
      accept_language: headerText(req.headers['accept-language'], 256),
    });
    res.json(await installs.open(open));
  });

  return router;
}
