// Site backends: POST /v1/touches (a touch the backend saw itself) and POST /v1/conversions, with a server key.
// Apps may post conversions with an app key, for pixels whose sources include `app`.
import { Router } from 'express';
import type { Context } from '../../context.js';
import { cleanUrl } from '../../ingest/client.js';
import { conversionAnswer, conversionSchema, hasIdentity, parseOccurredAt, type Conversions } from '../../ingest/conversions.js';
import type { Touches } from '../../ingest/touches.js';
import { randomId } from '../../ids.js';
import { keyGuard } from '../auth.js';
import { jsonObject, rawBody } from '../body.js';
import { badRequest } from '../errors.js';

export function serverRoutes(ctx: Context, touches: Touches, conversions: Conversions): Router {
  const router = Router();
  const body = rawBody('16kb');
  const keys = keyGuard(ctx);

  router.post('/v1/touches', keys.require('server'), body, async (req, res) => {
    const b = await touches.parseServer(jsonObject(req.body));
    const visitor_id = b.visitor_id ?? randomId();
    const touch = await touches.record({
      kind: b.kind,
      source: 'server',
      token: b.token,
      visitor_id,
      device_id: b.device_id ?? null,
      site: null,
      ip: b.ip,
      user_agent: b.user_agent ?? null,
      url: cleanUrl(b.url),
      referrer: null,
      hints: null,
      occurred_at: parseOccurredAt(b.occurred_at, ctx.clock.now()),
    });
    res.json({ touch_id: touch.id, cid: touch.cid, visitor_id });
  });

  router.post('/v1/conversions', keys.require('server', 'app'), body, async (req, res) => {
    const input = await conversions.input(conversionSchema, jsonObject(req.body), res.locals.role === 'app' ? 'app' : 'server');
    if (!hasIdentity(input)) {
      throw badRequest('missing_identity', 'a conversion needs one of visitor_id, token, cid, install_id or device_id');
    }
    const result = await conversions.record(input);
    res.json(conversionAnswer(result));
  });

  return router;
}
