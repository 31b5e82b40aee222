// Liveness and readiness: /healthz answers while the process runs; /readyz only while the store answers
// and its migrations are current.
import { Router } from 'express';
import type { Context } from '../../context.js';

export function healthRoutes(ctx: Context): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  router.get('/readyz', async (_req, res) => {
    try {
      await ctx.store.ping();
      if (!(await ctx.store.migrationsCurrent())) {
        return void res.status(503).json({ status: 'unready', error: 'migrations_pending', message: 'run sspx-relay migrate' });
      }
      res.json({ status: 'ready', store: ctx.store.kind });
    } catch (err) {
      res.status(503).json({ status: 'unready', error: 'store_unreachable', message: (err as Error).message });
    }
  });
  return router;
}
