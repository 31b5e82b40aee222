// GET /metrics: Prometheus text from this collector's own registry. Open like /healthz, as scrapers expect;
// it carries counts and latencies only, never a token, key or visitor.
import { Router } from 'express';
import type { Metrics } from '../../metrics.js';

export function metricsRoutes(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    const text = await metrics.registry.metrics();
    res.set({ 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' }).send(text);
  });
  return router;
}
