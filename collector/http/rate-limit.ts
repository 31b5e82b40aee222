// Per-client-address limits on the public routes: a fixed one-minute window per address, answered with 429
// and the standard RateLimit headers. The address is the client's behind the configured number of proxy hops
// (./peer.ts), so a forged X-Forwarded-For cannot escape it. Framework-free: the beacon routes call it on node:http.
import type { ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { HttpError } from './errors.js';

/** counts one request of `address`; throws the 429 past the limit. Sets the RateLimit headers either way. */
export type RateLimit = (address: string | undefined, res: ServerResponse) => void;

export function rateLimit(perMinute: number, clock: Clock): RateLimit {
  if (perMinute <= 0) return () => undefined;
  let windowStart = 0;
  let counts = new Map<string, number>();
  return (address, res) => {
    const now = clock.now();
    if (now - windowStart >= 60_000) {
      windowStart = now - (now % 60_000);
      counts = new Map();
    }
    const key = address ?? 'unknown';
    const used = (counts.get(key) ?? 0) + 1;
    counts.set(key, used);
    const reset = Math.max(1, Math.ceil((windowStart + 60_000 - now) / 1000));
    res.setHeader('RateLimit-Limit', String(perMinute));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, perMinute - used)));
    res.setHeader('RateLimit-Reset', String(reset));
    if (used > perMinute) throw new HttpError(429, 'rate_limited', `more than ${perMinute} requests a minute from this address`, { 'Retry-After': String(reset) });
  };
}
