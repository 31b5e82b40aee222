// GET /sspx.js: the built landing-page script, cacheable (ETag + a day's lifetime), loadable from any site.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Router } from 'express';
import { SCRIPT_PATH } from '../../paths.js';

export function scriptRoute(path = SCRIPT_PATH): Router {
  const router = Router();
  let cached: { body: Buffer; etag: string } | undefined;
  const load = () => {
    if (!cached) {
      const body = readFileSync(path);
      cached = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    }
    return cached;
  };
  router.get('/sspx.js', (req, res) => {
    let script;
    try {
      script = load();
    } catch {
      return void res.status(503).json({ error: 'script_not_built', message: 'dist/sspx.js is missing: run npm run build' });
    }
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=86400, stale-while-revalidate=604800',
      ETag: script.etag,
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Access-Control-Allow-Origin': '*',
      'Timing-Allow-Origin': '*',
    });
    if (req.headers['if-none-match'] === script.etag) return void res.status(304).end();
    res.end(script.body);
  });
  return router;
}
