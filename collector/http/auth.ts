// Bearer keys per role, compared in constant time; several keys per role so they can be rotated. Never logged.
// One KeyGuard per collector: failed key checks (Bearer and the dashboard's login alike) are throttled per client
// address, so keys cannot be guessed at speed, and each /v1 key has its own request budget.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Request } from 'express';
import { MINUTE } from '../clock.js';
import { FAILED_KEY_WINDOW_MINS } from '../config.js';
import type { Context } from '../context.js';
import { clientNetwork } from '../ingest/client.js';
import { HttpError } from './errors.js';
import { keyedRateLimit, WindowCounter } from './rate-limit.js';

export type Role = 'server' | 'app' | 'admin';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** the configured keys' digests, made once per list (the configuration is read once) rather than on every request */
const keyDigests = new WeakMap<readonly string[], Buffer[]>();
function digestsOf(keys: readonly string[]): Buffer[] {
  let digests = keyDigests.get(keys);
  if (!digests) keyDigests.set(keys, (digests = keys.map(digest)));
  return digests;
}

/** compares digests, so neither length nor content leaks through timing; every key is compared */
function digestMatches(candidate: Buffer, keys: readonly string[]): boolean {
  let ok = false;
  for (const k of digestsOf(keys)) ok = timingSafeEqual(candidate, k) || ok;
  return ok;
}

export function keyMatches(candidate: string, keys: readonly string[]): boolean {
  return digestMatches(digest(candidate), keys);
}

export function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  const m = h && /^Bearer +(\S{1,512})$/i.exec(h);
  return m ? m[1] : undefined;
}

export class KeyGuard {
  /** failed key checks per client address; off with failed_key_limit 0 or rate_limit_per_minute 0 (every limit off) */
  private readonly failures?: WindowCounter;
  /** each key's budget on the routes it opens: rate_limit_per_minute */
  private readonly budget: RequestHandler;

  constructor(private readonly ctx: Context) {
    const { config, clock } = ctx;
    if (config.failed_key_limit > 0 && config.rate_limit_per_minute > 0) this.failures = new WindowCounter(FAILED_KEY_WINDOW_MINS * MINUTE, clock);
    this.budget = keyedRateLimit(config.rate_limit_per_minute, clock, {
      keyOf: (_req, res) => res.locals.keyId as string | undefined,
      code: 'key_rate_limited',
      per: 'with this key',
    });
  }

  /** a 429 when this client address failed too many key checks in the window: checked before any key is compared */
  throttled(req: Request): HttpError | undefined {
    const limit = this.ctx.config.failed_key_limit;
    if (!this.failures || this.failures.add(clientNetwork(req.ip), 0) < limit) return undefined;
    return new HttpError(429, 'too_many_failed_keys', `${limit} failed key checks from this address in ${FAILED_KEY_WINDOW_MINS} minutes: try again later`, {
      'Retry-After': String(this.failures.resetSeconds()),
    });
  }

  /** counts a wrong key against the request's address */
  failed(req: Request): void {
    this.failures?.add(clientNetwork(req.ip)); // an IPv6 client is its /64, as for the rate limit
    this.ctx.log.warn({ msg: 'key check failed', ip: req.ip, path: req.path.slice(0, 200) });
  }

  /** rejects with 401 unless the request carries a key of one of the roles (sets res.locals.role), then the key's budget */
  require(...roles: Role[]): RequestHandler {
    const { config } = this.ctx;
    return (req, res, next) => {
      const throttled = this.throttled(req);
      if (throttled) return next(throttled);
      const key = bearer(req);
      if (!key) return next(new HttpError(401, 'missing_key', `this route needs Authorization: Bearer <${roles.join(' or ')} key>`, { 'WWW-Authenticate': 'Bearer' }));
      const candidate = digest(key);
      const role = roles.find((r) => digestMatches(candidate, config.keys[r]));
      if (!role) {
        this.failed(req);
        return next(new HttpError(401, 'invalid_key', `the key is not a configured ${roles.join(' or ')} key`, { 'WWW-Authenticate': 'Bearer error="invalid_token"' }));
      }
      res.locals.role = role;
      // the budget's key: a digest, so no key is kept beside the configuration
      res.locals.keyId = candidate.toString('base64url');
      this.budget(req, res, next);
    };
  }
}

const guards = new WeakMap<Context, KeyGuard>();

/** the collector's one KeyGuard (per Context), so every route shares its counts */
export function keyGuard(ctx: Context): KeyGuard {
  let guard = guards.get(ctx);
  if (!guard) guards.set(ctx, (guard = new KeyGuard(ctx)));
  return guard;
}
