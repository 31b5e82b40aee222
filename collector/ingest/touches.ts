// Touch ingestion as an ordered list of small steps: validate → drop bots and opted-out visitors →
// refuse unreplaced macros (counted) → build the row → group commit. Framework-free, so any HTTP
// front (Express or the node:http beacon front) can call it; a refusal is a Refusal (../fields.ts), not an HTTP status.
import { z } from 'zod';
import { params, readLanding, tokenValues } from '../../snippet/landing.js';
import { isMacro } from '../../snippet/token.js';
import type { Context } from '../context.js';
import { Batcher } from '../batcher.js';
import { fields, normalizeDeviceId, parseRequest, Refusal, tokenRefusal } from '../fields.js';
import type { IngestStore, Touch, TouchKind, TouchSource } from '../store/store.js';
import { TOUCH_KINDS } from '../vocabulary.js';
import { DEVICE_ID_PARAMS, dropReason, landingUrl, plainText, referrerOrigin, truncateIp } from './client.js';
import { normalizeLanguage, touchHintKey } from './hints.js';
import type { Macros } from './macros.js';
import { newTouch } from './new-touch.js';

/** The tag's data- attributes, as the script posts them (`a`, its dataset): only data-params and data-ids are read,
 * the rest (data-collector, data-decorate, …) is dropped unread. */
const tagAttributesSchema = z.object({ params: plainText(512).optional(), ids: plainText(512).optional() });

/** What the script posts to /t (short keys keep the script small). Today's script sends the landing URL `u` as it
 * is (none from a browser without navigation timing: the current one is taken for it), the current URL `v`, the
 * tag's attributes `a` and `r` ('' for none), and no token: the collector reads it from `u` then `v` under a.params,
 * where the script found that one may be; the language and the client hints come from the request's headers (both
 * in scriptTouchFacts). Copies of the script from before (it is served cacheable) send the token as `t`, and a
 * diagnostic as `{t}` alone, a value that may be an unreplaced macro, which the route classifies with isMacro; older
 * ones w h d l, `z` as Intl's resolvedOptions() or the time zone's name, `c` as NavigatorUAData's toJSON() or
 * `mo`/`pf`, `u` already stripped, `ids`, and the diagnostics `{p}` and `{e: 'macro', p, u}`: still read. Only what
 * is kept is checked closely; what is dropped unread (brands, locale, …) cannot refuse a touch. */
export const scriptTouchSchema = z.object({
  t: z.string().max(10_000).optional().describe('the auction token, byte for byte'),
  e: z.literal('macro').optional().describe('an older script\'s diagnostic mark'),
  p: plainText(64).optional().describe('an older script\'s diagnostic without t, naming the param that held the macro'),
  u: z.string().max(8192).optional().describe('the landing URL as the browser has it; the collector reads the token there (then in v), strips the token params (a.params) and reads the device ids (a.ids) there'),
  v: z.string().max(8192).optional().describe('the current URL, where the collector looks for the token after u (a router may have put it there)'),
  a: tagAttributesSchema.optional().describe('the tag\'s data- attributes; only params and ids are read'),
  r: z.string().max(4096).optional().describe('document.referrer; empty for none'),
  w: z.number().int().min(0).max(100_000).optional(),
  h: z.number().int().min(0).max(100_000).optional(),
  d: z.number().min(0).max(100).optional(),
  l: plainText(35).optional(),
  z: z
    .union([plainText(64), z.object({ timeZone: plainText(64).optional() })])
    .optional()
    .describe('Intl.DateTimeFormat().resolvedOptions(), of which only timeZone is kept (an older script: the time zone\'s name)'),
  c: z
    .object({ mobile: z.boolean().optional(), platform: plainText(32).optional() })
    .optional()
    .describe('navigator.userAgentData as its toJSON() gives it: the low-entropy client hints; brands are dropped'),
  mo: z.boolean().optional().describe('an older script: c.mobile'),
  pf: plainText(32).optional().describe('an older script: c.platform'),
  ids: z.record(z.string().max(16), z.string().max(128)).optional().describe('an older script: the device ids it read from the URL'),
})
  // an older script's diagnostic is `{p}` alone; it is read as the `{e: 'macro', p}` the route answers as one
  .transform((body) => (body.t === undefined && body.p !== undefined ? { ...body, e: 'macro' as const } : body))
  // a browser without navigation timing gives the script no landing URL: the current one is it
  .transform((body) => (body.u === undefined && body.v !== undefined ? { ...body, u: body.v } : body));
export type ScriptTouch = z.infer<typeof scriptTouchSchema>;

/** The token a script's touch carries in its URLs: the first value under a data-params name that is a token, the
 * landing URL's (`landingValues`, read by readLanding) before the current URL's; else the first value at all, which
 * is then an unreplaced macro (every value tokenValues lets through is one or the other); undefined when there is
 * none. Finding one is what made the script send (../../snippet/main.ts touchOf). The current URL, most often the
 * landing URL itself, is read only when it differs. */
function tokenInUrls(landingValues: string[], landing: string, current: string | undefined, paramsAttr: string | undefined): string | undefined {
  const values = current === undefined || current === landing ? landingValues : [...landingValues, ...tokenValues(current, params(paramsAttr))];
  // a single value is the answer, whichever it is; among several, the first token wins over a macro before it
  return values.length > 1 ? (values.find((value) => !isMacro(value)) ?? values[0]) : values[0];
}

/** What a site backend posts to /v1/touches. */
export const serverTouchSchema = z.strictObject({
  token: fields.token,
  kind: z.enum(TOUCH_KINDS).default('click'),
  visitor_id: fields.visitor_id.optional(),
  device_id: fields.device_id.optional(),
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

/** records touches; refuses a token with a named reason, an unreplaced macro counted against its site first */
export class Touches {
  private readonly writes: Batcher<Touch, void>;

  constructor(private readonly ctx: Context<IngestStore>, private readonly macros: Macros) {
    this.writes = new Batcher((touches) => ctx.store.insertTouches(touches).then(() => touches.map(() => undefined)));
  }

  /** the browser-side drop rules (bots, prefetch, Sec-GPC): drops the request, answering why (reported), or null */
  drop(headers: Record<string, string | string[] | undefined>): string | null {
    const reason = dropReason(headers, this.ctx.config.honor_gpc);
    if (reason) this.ctx.events.emit('touch', { outcome: 'dropped', reason });
    return reason;
  }

  /** the script's diagnostic: the landing page met an unreplaced macro (counted, nothing stored) */
  countMacro(site: string | null): Promise<void> {
    return this.macros.count(site ?? 'unknown');
  }

  /** a site backend's POST /v1/touches body, checked; a refused token is reported as record() reports it */
  async parseServer(body: unknown): Promise<z.infer<typeof serverTouchSchema>> {
    try {
      return parseRequest(serverTouchSchema, body);
    } catch (err) {
      if (err instanceof Refusal && err.field === 'token') await this.refused(err, null);
      throw err;
    }
  }

  private async refused(refusal: Refusal, site: string | null): Promise<never> {
    if (refusal.reason === 'unreplaced_macro') await this.countMacro(site);
    else this.ctx.events.emit('touch', { outcome: 'refused', reason: refusal.reason });
    throw refusal;
  }

  async record(req: TouchRequest): Promise<Touch> {
    const refusal = tokenRefusal(req.token);
    if (refusal) return this.refused(refusal, req.site);
    // named one by one, not spread (see newTouch); the address is kept as its prefix
    const touch = newTouch(
      {
        kind: req.kind,
        source: req.source,
        token: req.token as string,
        visitor_id: req.visitor_id,
        device_id: req.device_id,
        site: req.site,
        ip_prefix: truncateIp(req.ip),
        user_agent: req.user_agent,
        url: req.url,
        referrer: req.referrer,
        hints: req.hints,
        occurred_at: req.occurred_at,
      },
      this.ctx.clock.now(),
    );
    if (this.ctx.config.hint_matching) touch.hint_key = await touchHintKey(this.ctx.store, touch);
    await this.writes.add(touch);
    this.ctx.events.emit('touch', { outcome: 'stored', reason: req.kind });
    return touch;
  }

  drain(): Promise<void> {
    return this.writes.drain();
  }
}

/** the request headers scriptTouchFacts reads: what the browser sends with every request, so the script need not */
export type HintHeaders = Record<string, string | string[] | undefined>;

/** a header's first value */
const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** Sec-CH-UA-Mobile: `?1` or `?0` (a structured-field boolean) */
const chMobile = (value: string | undefined): boolean | undefined => (value === '?1' ? true : value === '?0' ? false : undefined);

/** Sec-CH-UA-Platform: a structured-field string such as `"Android"`; its text, at most 32 printable characters */
const chPlatform = (value: string | undefined): string | undefined => /^"([ -!#-[\]-~]{1,32})"$/.exec(value ?? '')?.[1];


/** the script's payload and the request's headers → the facts of a touch. The stored hints: l from Accept-Language's
 * first language, normalised as hint keys read it (`de-de`), mo and pf from Sec-CH-UA-Mobile and Sec-CH-UA-Platform,
 * the low-entropy client hints Chromium sends with every request (an older script's own l, c, mo and pf win), and the
 * device ids; the landing URL loses its token params and gives up the device ids named by data-ids
 * (../../snippet/landing.ts, the one parser of landing URLs), of which DEVICE_ID_PARAMS are kept, normalised; then
 * it keeps only its origin, path and allow-listed params, and the referrer only its origin (client.ts) */
export function scriptTouchFacts(body: ScriptTouch, headers: HintHeaders = {}): Pick<TouchRequest, 'token' | 'device_id' | 'url' | 'referrer' | 'hints'> {
  const hints: Record<string, unknown> = {};
  // only what hint keys read (language, platform) and mobile; an older script's screen, pixel ratio and time zone
  // are read and dropped
  const kept = {
    l: body.l ?? normalizeLanguage(first(headers['accept-language'])) ?? undefined,
    mo: body.c?.mobile ?? body.mo ?? chMobile(first(headers['sec-ch-ua-mobile'])),
    pf: body.c?.platform ?? body.pf ?? chPlatform(first(headers['sec-ch-ua-platform'])),
  };
  for (const [k, v] of Object.entries(kept)) if (v !== undefined) hints[k] = v;
  // an older script sent the URL stripped and the ids apart; stripping again changes nothing
  const landing = body.u === undefined ? null : readLanding(body.u, body.a?.params, body.a?.ids);
  // today's script sends no token: it is read from its URLs (an older script's diagnostic, `e`, has none)
  const token = body.t ?? (landing && body.e === undefined ? tokenInUrls(landing.tokens, body.u!, body.v, body.a?.params) : undefined);
  let device_id: string | null = null;
  const ids: Record<string, string> = {};
  for (const name of DEVICE_ID_PARAMS) {
    const id = normalizeDeviceId(landing?.ids[name] ?? body.ids?.[name]);
    if (id) (ids[name] = id), (device_id ??= id);
  }
  if (Object.keys(ids).length) hints.ids = ids;
  return {
    token,
    device_id,
    url: landingUrl(landing?.url),
    referrer: referrerOrigin(body.r),
    hints: Object.keys(hints).length ? hints : null,
  };
}

/** a touch's facts without its device ids: for a request that may not name any (../http/cors.ts deviceIdsAllowed) */
export function withoutDeviceIds<F extends Pick<TouchRequest, 'device_id' | 'hints'>>(facts: F): F {
  const { ids: _ids, ...hints } = facts.hints ?? {};
  return { ...facts, device_id: null, hints: Object.keys(hints).length ? hints : null };
}
