// Per-client-address limits on the public routes: a fixed one-minute window per address, answered with 429
// and the standard RateLimit headers. The address comes from Express's `trust proxy` (the configured
// number of hops), so a forged X-Forwarded-For cannot escape it; an IPv6 client is its /64 (ingest/client.ts).
import type { RequestHandler } from 'express';
import type { Clock } from '../clock.js';
import { clientNetwork } from '../ingest/client.js';
import { HttpError } from './errors.js';

export function rateLimit(perMinute: number, clock: Clock): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  let windowStart = 0;
  let counts = new Map<string, number>();
  return (req, res, next) => {
    const now = clock.now();
    if (now - windowStart >= 60_000) {
      windowStart = now - (now % 60_000);
      counts = new Map();
    }
    const key = clientNetwork(req.ip);
    const used = (counts.get(key) ?? 0) + 1;
    counts.set(key, used);
    const reset = Math.max(1, Math.ceil((windowStart + 60_000 - now) / 1000));
    res.set({
      'RateLimit-Limit': String(perMinute),
      'RateLimit-Remaining': String(Math.max(0, perMinute - used)),
      'RateLimit-Reset': String(reset),
    });
    if (used > perMinute) {
      return next(new HttpError(429, 'rate_limited', `more than ${perMinute} requests a minute from this address`, { 'Retry-After': String(reset) }));
    }
    next();
  };
}
