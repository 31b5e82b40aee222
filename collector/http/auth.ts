// Bearer keys per role, compared in constant time; several keys per role so they can be rotated. Never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Request } from 'express';
import type { Config } from '../config.js';
import { HttpError } from './errors.js';

export type Role = 'server' | 'app' | 'admin';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** compares digests, so neither length nor content leaks through timing */
export function keyMatches(candidate: string, keys: readonly string[]): boolean {
  const c = digest(candidate);
  let ok = false;
  for (const k of keys) ok = timingSafeEqual(c, digest(k)) || ok;
  return ok;
}

export function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  const m = h && /^Bearer +(\S{1,512})$/i.exec(h);
  return m ? m[1] : undefined;
}

/** the role a request's Bearer key belongs to, trying the roles in order */
export function roleOf(req: Request, config: Config, roles: readonly Role[]): Role | undefined {
  const key = bearer(req);
  if (!key) return undefined;
  return roles.find((r) => keyMatches(key, config.keys[r]));
}

/** rejects with 401 unless the request carries a key of one of the roles; sets res.locals.role */
export function requireKey(config: Config, ...roles: Role[]): RequestHandler {
  return (req, res, next) => {
    if (!bearer(req)) return next(new HttpError(401, 'missing_key', `this route needs Authorization: Bearer <${roles.join(' or ')} key>`, { 'WWW-Authenticate': 'Bearer' }));
    const role = roleOf(req, config, roles);
    if (!role) return next(new HttpError(401, 'invalid_key', `the key is not a configured ${roles.join(' or ')} key`, { 'WWW-Authenticate': 'Bearer error="invalid_token"' }));
    res.locals.role = role;
    next();
  };
}
