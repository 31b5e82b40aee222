// Dashboard sessions: a signed cookie, so every collector process sharing the store accepts it and a restart keeps
// operators logged in. The signing key derives from a per-store secret and the configured admin keys together:
// rotating the admin keys ends every session. A logout is kept in the store until the session would have expired
// anyway, so it holds across a restart and in every process sharing the store. Forms carry a CSRF token derived from the session; POSTs must carry
// it and, when the browser names one, come from our own Origin.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';
import { unrebindableHost } from '../net.js';
import type { IngestStore } from '../store/store.js';

export const SESSION_COOKIE = 'sspx_admin';
export const SESSION_MS = 12 * 3600_000;
const COOKIE_PATH = '/admin';

export interface Session {
  nonce: string;
  expires: number;
  /** the token forms carry in `_csrf` */
  csrf: string;
}

const mac = (key: Buffer, what: string) => createHmac('sha256', key).update(what).digest('base64url');

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class Sessions {
  private key?: Promise<Buffer>;
  constructor(
    private readonly store: Pick<IngestStore, 'secret' | 'revokeSession' | 'sessionRevoked'>,
    private readonly config: Config,
    private readonly now: () => number,
  ) {}

  private signingKey(): Promise<Buffer> {
    this.key ??= this.store.secret('admin_session', randomBytes(32).toString('base64url')).then((secret) =>
      createHmac('sha256', secret).update(['sspx-admin-session', ...[...this.config.keys.admin].sort()].join('\0')).digest(),
    ).catch((err: unknown) => {
      this.key = undefined; // the store was unreachable: try again on the next request
      throw err;
    });
    return this.key;
  }

  private async make(nonce: string, expires: number): Promise<Session> {
    const key = await this.signingKey();
    return { nonce, expires, csrf: mac(key, `csrf.${nonce}`) };
  }

  /** a new session, its cookie set on the response */
  async start(req: Request, res: Response): Promise<Session> {
    const nonce = randomBytes(18).toString('base64url');
    const expires = this.now() + SESSION_MS;
    const key = await this.signingKey();
    res.cookie(SESSION_COOKIE, `v1.${expires}.${nonce}.${mac(key, `session.${expires}.${nonce}`)}`, {
      httpOnly: true,
      sameSite: 'strict',
      secure: this.secure(req),
      path: COOKIE_PATH,
      maxAge: SESSION_MS,
    });
    return this.make(nonce, expires);
  }

  /** the request's valid session, if any */
  async of(req: Request): Promise<Session | undefined> {
    const header = req.headers.cookie;
    if (!header || header.length > 8192) return undefined;
    const value = parse(header)[SESSION_COOKIE];
    const m = value && /^v1\.(\d{1,15})\.([\w-]{24})\.([\w-]{43})$/.exec(value);
    if (!m) return undefined;
    const [, exp, nonce, sig] = m;
    const expires = Number(exp);
    if (expires <= this.now()) return undefined;
    if (!same(sig, mac(await this.signingKey(), `session.${exp}.${nonce}`))) return undefined;
    if (await this.store.sessionRevoked(nonce)) return undefined;
    return this.make(nonce, expires);
  }

  /** logs the session out, for every process sharing the store, and clears its cookie */
  async end(req: Request, res: Response, session: Session | undefined): Promise<void> {
    if (session) await this.store.revokeSession(session.nonce, session.expires, this.now());
    res.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', secure: this.secure(req), path: COOKIE_PATH });
  }

  checkCsrf(session: Session, token: unknown): boolean {
    return typeof token === 'string' && same(token, session.csrf);
  }

  private secure(req: Request): boolean {
    return req.secure || (this.config.public_url?.startsWith('https:') ?? false);
  }
}

/**
 * A state-changing request must come from our own pages: when the browser names an Origin (every current browser
 * does on a POST), its host must be the configured public URL's, or the one the request was sent to when that is an
 * address or localhost (../net.ts unrebindableHost: a name could be an attacker's, rebound to us).
 */
export function sameOrigin(req: Request, config: Config): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  if (host === req.headers.host && unrebindableHost(host)) return true;
  try {
    return config.public_url !== undefined && new URL(config.public_url).host === host;
  } catch {
    return false;
  }
}
