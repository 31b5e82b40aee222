// GET /metrics: Prometheus text from this collector's own registry. It carries counts and latencies only, never a
// token, key or visitor — but also the volume of the advertiser's business, so it is not public by default:
// `Bearer <admin key>` always works, and `metrics_public: true` opens it to a scraper that cannot send a key.
import { Router, type RequestHandler } from 'express';
import type { Context } from '../../context.js';
import type { Metrics } from '../../metrics.js';
import { keyGuard } from '../auth.js';

export function metricsRoutes(ctx: Context, metrics: Metrics): Router {
  const router = Router();
  const open: RequestHandler = (_req, _res, next) => next();
  router.get('/metrics', ctx.config.metrics_public ? open : keyGuard(ctx).require('admin'), async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.set({ 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).send(text);
  });
  return router;
}
