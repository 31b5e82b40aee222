// Request limits: a fixed window per key (a client address on the public routes, an IPv6 client being its /64
// (ingest/client.ts); a Bearer key on /v1), answered with 429, a named reason and the standard RateLimit headers.
// The address is the client's behind the configured number of proxy hops (./peer.ts, or Express's `trust proxy`),
// so a forged X-Forwarded-For cannot escape it. The counting is framework-free: the beacon routes call it on
// node:http; the /v1 routes through an Express handler.
import type { ServerResponse } from 'node:http';
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

/** counts one request of `key`; throws the 429 past the limit. Sets the RateLimit headers either way. */
type Limiter = (key: string, res: ServerResponse) => void;

function limiter(perMinute: number, clock: Clock, code: string, per: string): Limiter {
  const window = new WindowCounter(60_000, clock);
  return (key, res) => {
    const used = window.add(key);
    const reset = window.resetSeconds();
    res.setHeader('RateLimit-Limit', String(perMinute));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, perMinute - used)));
    res.setHeader('RateLimit-Reset', String(reset));
    if (used > perMinute) throw new HttpError(429, code, `more than ${perMinute} requests a minute ${per}`, { 'Retry-After': String(reset) });
  };
}

/** the public routes' limit: `perMinute` requests a minute per client network; 0 turns it off */
export type RateLimit = (address: string | undefined, res: ServerResponse) => void;

export function rateLimit(perMinute: number, clock: Clock): RateLimit {
  if (perMinute <= 0) return () => undefined;
  const count = limiter(perMinute, clock, 'rate_limited', 'from this address');
  return (address, res) => count(clientNetwork(address), res);
}

/**
 * An Express route's limit: `perMinute` requests a minute per key (`keyOf`; a request it answers no key for is not
 * counted), answered with 429 `code`; 0 turns the limit off.
 */
export function keyedRateLimit(
  perMinute: number,
  clock: Clock,
  opts: { keyOf: (req: Request, res: Response) => string | undefined; code: string; per: string },
): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  const count = limiter(perMinute, clock, opts.code, opts.per);
  return (req, res, next) => {
    const key = opts.keyOf(req, res);
    if (key !== undefined) count(key, res);
    next();
  };
}
