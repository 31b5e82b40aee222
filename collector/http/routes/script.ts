// GET /sspx.js: the built landing-page script, on every landing page, so as few bytes as possible on the wire.
// Compressed once (brotli at its best, gzip -9), chosen by Accept-Encoding, with a strong ETag per encoding and a
// 304 for a cache that has it. `?v=<version>` (the ETag without its quotes and suffix) is cached for a year as
// immutable; the plain URL for an hour, so a new build reaches pages soon. Only the headers a script needs: no HTML
// security headers (CSP, X-Frame-Options: nothing to frame or inject into), no request id. Framework-free: the
// node:http front (../front.ts) serves it, and the Express app mounts the same handler before its front handlers.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { SCRIPT_PATH } from '../../paths.js';

/** the encodings the script is kept in, best first */
const ENCODINGS = ['br', 'gzip'] as const;
type Encoding = (typeof ENCODINGS)[number] | 'identity';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const SHORT = 'public, max-age=3600';

export interface BuiltScript {
  /** the content hash: the ETag's core and the `?v=` that earns the long cache */
  version: string;
  bodies: Record<Encoding, Buffer>;
}

/** reads dist/sspx.js and compresses it once */
export function buildScript(path = SCRIPT_PATH): BuiltScript {
  const identity = readFileSync(path);
  return {
    version: createHash('sha256').update(identity).digest('base64url').slice(0, 16),
    bodies: {
      identity,
      br: brotliCompressSync(identity, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT, [constants.BROTLI_PARAM_SIZE_HINT]: identity.length },
      }),
      gzip: gzipSync(identity, { level: 9 }),
    },
  };
}

/** the best encoding Accept-Encoding allows (a coding with q=0 is refused; `*` stands for any not named) */
export function chooseEncoding(accept: string | undefined): Encoding {
  const q: Record<string, number> = {};
  for (const item of (accept ?? '').toLowerCase().split(',')) {
    const [name, ...params] = item.split(';').map((s) => s.trim());
    const weight = params.find((p) => p.startsWith('q='));
    if (name) q[name] = weight ? Number(weight.slice(2)) || 0 : 1;
  }
  return ENCODINGS.find((e) => (q[e] ?? q['*'] ?? 0) > 0) ?? 'identity';
}

const etagOf = (script: BuiltScript, encoding: Encoding) => `"${script.version}${encoding === 'identity' ? '' : '-' + encoding}"`;

/** true when If-None-Match names this ETag (weak comparison, as RFC 9110 says for If-None-Match) or is `*` */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/** the script built now, or undefined while dist/sspx.js is missing */
function tryBuild(path: string): BuiltScript | undefined {
  try {
    return buildScript(path);
  } catch {
    return undefined;
  }
}

/**
 * A connect-style handler for GET and HEAD /sspx.js (and /sspx.js?…); anything else goes to `next`. The script is
 * read and compressed once, when the handler is made (at start), or else by the first request that finds it built.
 */
export function scriptHandler(path = SCRIPT_PATH) {
  let script = tryBuild(path);
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== '/sspx.js' || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
    script ??= tryBuild(path);
    if (!script) {
      const refusal = Buffer.from(JSON.stringify({ error: 'script_not_built', message: 'dist/sspx.js is missing: run npm run build' }));
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': refusal.length });
      return void res.end(refusal);
    }
    const encoding = chooseEncoding(req.headers['accept-encoding']);
    const etag = etagOf(script, encoding);
    const versioned = q >= 0 && new URLSearchParams(url.slice(q + 1)).get('v') === script.version;
    // what a 304 must repeat of the 200 (RFC 9110 §15.4.5)
    const cache = { 'Cache-Control': versioned ? IMMUTABLE : SHORT, ETag: etag, Vary: 'Accept-Encoding' };
    if (matches(req.headers['if-none-match'], etag)) return void res.writeHead(304, cache).end();
    const body = script.bodies[encoding];
    res.writeHead(200, {
      'Content-Type': 'text/javascript; charset=utf-8',
      ...(encoding === 'identity' ? {} : { 'Content-Encoding': encoding }),
      'Content-Length': body.length,
      ...cache,
      // any page may load it, also with crossorigin (error details, SRI) and under Cross-Origin-Embedder-Policy
      'Access-Control-Allow-Origin': '*',
      'Cross-Origin-Resource-Policy': 'cross-origin',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
