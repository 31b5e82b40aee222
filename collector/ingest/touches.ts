// Touch ingestion as an ordered list of small steps: validate → drop bots and opted-out visitors →
// refuse unreplaced macros (counted) → build the row → group commit. Framework-free, so any HTTP
// front (Express or a raw fast path) can call it.
import { z } from 'zod';
import { isMacro, isToken } from '../../snippet/token.js';
import type { Context } from '../context.js';
import { Batcher } from '../batcher.js';
import { HttpError } from '../http/errors.js';
import { ID_PATTERN, randomId, rowId } from '../ids.js';
import type { Touch, TouchKind, TouchSource } from '../store/store.js';
import { cleanUrl, DEVICE_ID_PARAMS, dropReason, normalizeDeviceId, plainText, truncateIp, utcDay } from './client.js';
import { touchHintKey } from './hints.js';

/** What the script posts to /t (short keys keep the script small). */
export const scriptTouchSchema = z.object({
  t: z.string().max(10_000).optional(),
  e: z.literal('macro').optional(),
  p: plainText(64).optional(),
  u: z.string().max(4096).optional(),
  r: z.string().max(4096).optional(),
  w: z.number().int().min(0).max(100_000).optional(),
  h: z.number().int().min(0).max(100_000).optional(),
  d: z.number().min(0).max(100).optional(),
  l: plainText(35).optional(),
  z: plainText(64).optional(),
  mo: z.boolean().optional(),
  pf: plainText(32).optional(),
  ids: z.record(z.string().max(16), z.string().max(128)).optional(),
});
export type ScriptTouch = z.infer<typeof scriptTouchSchema>;

/** What a site backend posts to /v1/touches. */
export const serverTouchSchema = z.strictObject({
  token: z.string().max(10_000),
  kind: z.enum(['click', 'view']).default('click'),
  visitor_id: z.string().regex(ID_PATTERN, 'must be 16 to 64 characters of A-Z a-z 0-9 _ -').optional(),
  device_id: z.string().max(128).optional(),
  ip: z.string().max(64).optional(),
  user_agent: plainText(512).optional(),
  url: z.string().max(4096).optional(),
  occurred_at: z.union([z.number(), z.string().max(40)]).optional(),
});

/** the request facts a touch keeps, gathered by whichever HTTP front received it */
export interface TouchRequest {
  kind: TouchKind;
  source: TouchSource;
  token: unknown;
  visitor_id: string | null;
  device_id: string | null;
  site: string | null;
  ip: string | undefined;
  user_agent: string | null;
  url: string | null;
  referrer: string | null;
  hints: Record<string, unknown> | null;
  occurred_at: number;
}

export type TouchOutcome = { touch: Touch } | { dropped: string };

/** refuses a token with a named reason; an unreplaced macro is counted against its site first */
export class Touches {
  private readonly writes: Batcher<Touch, void>;
  private readonly diagnostics: Batcher<{ day: string; site: string; kind: string; count: number }, void>;
  /** a hook for metrics: every touch outcome with its reason */
  onOutcome: (outcome: 'stored' | 'dropped' | 'refused', reason: string) => void = () => {};

  constructor(private readonly ctx: Context) {
    this.writes = new Batcher((touches) => ctx.store.insertTouches(touches).then(() => touches.map(() => undefined)));
    this.diagnostics = new Batcher((rows) => ctx.store.countDiagnostics(rows).then(() => rows.map(() => undefined)));
  }

  /** counts an unreplaced macro for its site and day */
  async countMacro(site: string | null): Promise<void> {
    await this.diagnostics.add({ day: utcDay(this.ctx.clock.now()), site: site ?? 'unknown', kind: 'unreplaced_macro', count: 1 });
    this.onOutcome('refused', 'unreplaced_macro');
  }

  /** the browser-side drop rules (bots, prefetch, Sec-GPC), as a named reason */
  dropReason(headers: Record<string, string | string[] | undefined>): string | null {
    const reason = dropReason(headers, this.ctx.config.honor_gpc);
    if (reason) this.onOutcome('dropped', reason);
    return reason;
  }

  async record(req: TouchRequest): Promise<Touch> {
    const token = req.token;
    if (typeof token === 'string' && isMacro(token)) {
      await this.countMacro(req.site);
      throw new HttpError(400, 'unreplaced_macro', 'the token is an unreplaced ${SSP_DATA} macro: the line item is misconfigured; counted, not stored');
    }
    if (!isToken(token)) {
      this.onOutcome('refused', 'invalid_token');
      throw new HttpError(400, 'invalid_token', 'the token must be 1 to 1,024 printable characters without whitespace, quotes or angle brackets');
    }
    const now = this.ctx.clock.now();
    const touch: Touch = {
      id: rowId('t'),
      kind: req.kind,
      token,
      cid: randomId(),
      visitor_id: req.visitor_id,
      device_id: req.device_id,
      site: req.site,
      source: req.source,
      ip_prefix: truncateIp(req.ip),
      user_agent: req.user_agent,
      url: req.url,
      referrer: req.referrer,
      hints: req.hints,
      hint_key: null,
      occurred_at: req.occurred_at,
      created_at: now,
    };
    if (this.ctx.config.hint_matching) touch.hint_key = await touchHintKey(this.ctx.store, touch);
    await this.writes.add(touch);
    this.onOutcome('stored', req.kind);
    return touch;
  }

  async drain(): Promise<void> {
    await Promise.all([this.writes.drain(), this.diagnostics.drain()]);
  }
}

/** the script's payload → the facts of a touch (hints kept, ids normalised, token params already stripped by the script) */
export function scriptTouchFacts(body: ScriptTouch): Pick<TouchRequest, 'token' | 'device_id' | 'url' | 'referrer' | 'hints'> {
  const hints: Record<string, unknown> = {};
  for (const k of ['w', 'h', 'd', 'l', 'z', 'mo', 'pf'] as const) if (body[k] !== undefined) hints[k] = body[k];
  let device_id: string | null = null;
  const ids: Record<string, string> = {};
  for (const name of DEVICE_ID_PARAMS) {
    const id = normalizeDeviceId(body.ids?.[name]);
    if (id) (ids[name] = id), (device_id ??= id);
  }
  if (Object.keys(ids).length) hints.ids = ids;
  return {
    token: body.t,
    device_id,
    url: cleanUrl(body.u),
    referrer: cleanUrl(body.r),
    hints: Object.keys(hints).length ? hints : null,
  };
}
