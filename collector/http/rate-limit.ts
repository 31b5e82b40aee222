// Request limits: a fixed window per key (a client address on the public routes, an IPv6 client being its /64
// (ingest/client.ts); a Bearer key on /v1), answered with 429, a named reason and the standard RateLimit headers.
// The address comes from Express's `trust proxy` (the configured number of hops), so a forged X-Forwarded-For
// cannot escape it.
import type { Request, RequestHandler, Response } from 'express';
import type { Clock } from '../clock.js';
import { clientNetwork } from '../ingest/client.js';
import { HttpError } from './errors.js';

/** counts per key in a fixed window that moves with the (injected) clock */
export class WindowCounter {
  private windowStart = 0;
  private counts = new Map<string, number>();

  constructor(private readonly windowMs: number, private readonly clock: Clock) {}

  private roll(): number {
    const now = this.clock.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now - (now % this.windowMs);
      this.counts = new Map();
    }
    return now;
  }

  /** the key's count in this window, after adding `n` */
  add(key: string, n = 1): number {
    this.roll();
    const used = (this.counts.get(key) ?? 0) + n;
    if (n) this.counts.set(key, used);
    return used;
  }

  /** whole seconds until the window resets, at least 1 */
  resetSeconds(): number {
    const now = this.roll();
    return Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000));
  }
}

/**
 * `perMinute` requests a minute per key (`keyOf`: the client address unless given; a request it answers no key for
 * is not counted), answered with 429 `code`; 0 turns the limit off.
 */
export function rateLimit(
  perMinute: number,
  clock: Clock,
  opts: { keyOf?: (req: Request, res: Response) => string | undefined; code?: string; per?: string } = {},
): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  const { keyOf = (req: Request) => clientNetwork(req.ip), code = 'rate_limited', per = 'from this address' } = opts;
  const window = new WindowCounter(60_000, clock);
  return (req, res, next) => {
    const key = keyOf(req, res);
    if (key === undefined) return next();
    const used = window.add(key);
    const reset = window.resetSeconds();
    res.set({
      'RateLimit-Limit': String(perMinute),
      'RateLimit-Remaining': String(Math.max(0, perMinute - used)),
      'RateLimit-Reset': String(reset),
    });
    if (used > perMinute) {
      return next(new HttpError(429, code, `more than ${perMinute} requests a minute ${per}`, { 'Retry-After': String(reset) }));
    }
    next();
  };
}
