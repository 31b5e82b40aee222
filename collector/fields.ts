// The field rules, each written once: every request schema (browser, server, app, the CLI's checks and the operators'
// filters) composes these, and the OpenAPI document is generated from the same schemas. A broken rule is a domain
// `Refusal` naming its reason and field; the HTTP edge (http/errors.ts) alone turns it into a status.
import { z } from 'zod';
import { isMacro, isToken } from '../snippet/token.js';

/** Why a request is not taken: a stable reason (`invalid_order_id`), a message for a person, and the field. */
export class Refusal extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}

// ---- The patterns ----

/** letters and digits per Microsoft, plus the `.`, `_` and `-` common in order numbers; at most 36 */
export const ORDER_ID = /^[A-Za-z0-9._-]{1,36}$/;
/** purely numeric: `10` and `10.5` are values, `$10`, `1e3` and `-1` are not */
export const VALUE = /^\d{1,15}(\.\d{1,6})?$/;
/** at most 20 printable ASCII characters (space included) without quotes, backtick, angle brackets or backslash */
export const OTHER = /^[ !#-&(-;=?-[\]-_a-~]{1,20}$/;
/** what we accept as a cid or a visitor cookie: the shape we mint (forged ones simply match nothing) */
export const ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
/** a visitor id a site backend names: ours, or its own user or session id (opaque, no whitespace or quotes) */
export const VISITOR_ID_PATTERN = /^[A-Za-z0-9._:@+=\/-]{1,128}$/;
export const VISITOR_ID_RULE = 'must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ + = / -';
export const INSTALL_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// ---- Each rule as a check: the reason a value breaks it, or null ----

const TOKEN_RULE = 'the token must be 1 to 1,024 printable characters without whitespace, quotes or angle brackets';
export const MACRO_MESSAGE = 'the token is an unreplaced ${SSP_DATA} macro: the line item is misconfigured; counted, not stored';

/** the token's refusal (../snippet/token.ts holds the character rules), or null for a token we keep and fire */
export function tokenRefusal(v: unknown): Refusal | null {
  if (typeof v === 'string' && isMacro(v)) return new Refusal('unreplaced_macro', MACRO_MESSAGE, 'token');
  return isToken(v) ? null : new Refusal('invalid_token', TOKEN_RULE, 'token');
}

export function invalidOrderId(v: unknown): string | null {
  if (typeof v !== 'string') return 'order_id must be a string';
  return ORDER_ID.test(v) ? null : 'order_id must be 1 to 36 letters, digits, ".", "_" or "-"';
}

/**
 * A JSON number as decimal text, rounded to at most 6 decimals with trailing zeros trimmed: a computed price
 * (`0.1+0.2` is 0.30000000000000004, `49.9*1.19` is 59.38099999999999) is the price meant (0.3, 59.381), not a refusal.
 * Not finite: '' (refused by the value rule).
 */
export function decimalText(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toFixed(6))) : '';
}

/** a JSON number is accepted as its decimal text, rounded (decimalText) before the rule is checked */
export function invalidValue(v: unknown): string | null {
  if (typeof v === 'number') v = decimalText(v);
  if (typeof v !== 'string') return 'value must be a number or a numeric string';
  return VALUE.test(v) ? null : 'value must be purely numeric, such as 10 or 10.50 (at most 15 digits, 6 decimals; no currency sign)';
}

export function invalidOther(v: unknown): string | null {
  if (typeof v !== 'string') return 'other must be a string';
  return OTHER.test(v) ? null : 'other must be 1 to 20 printable ASCII characters without quotes, angle brackets or backslash';
}

/** the text fired for a value that passed invalidValue */
export function valueText(v: string | number): string {
  return typeof v === 'number' ? decimalText(v) : v;
}

/**
 * A usable advertising id, lower-cased; a zeroed id (what limited ad tracking reports) is no id: null. Anything else
 * that is not an id is undefined (refused where a caller names it). Decided once for every route: before, the
 * conversion routes and /v1/touches refused a zeroed id while /v1/app/open took it as no id; now all take it as no id.
 */
export function deviceIdOf(raw: unknown): string | null | undefined {
  if (typeof raw !== 'string' || raw.length > 128 || !/^[A-Za-z0-9._:-]+$/.test(raw)) return undefined;
  const id = raw.toLowerCase();
  return /^[0-]+$/.test(id) ? null : id;
}

/** a usable advertising id or null (landing URLs and impression trackers: a bad one is simply none) */
export const normalizeDeviceId = (raw: unknown): string | null => deviceIdOf(raw) ?? null;

// ---- The rules as zod schemas, which the request schemas compose ----

/** a custom issue carrying its own reason: parseRequest answers it as given */
function refine<T>(check: (v: T) => Refusal | string | null, field: string) {
  return (v: T, ctx: z.RefinementCtx) => {
    const why = check(v);
    if (why === null) return;
    const refusal = typeof why === 'string' ? new Refusal(`invalid_${field}`, why, field) : why;
    ctx.addIssue({ code: 'custom', message: refusal.message, params: { reason: refusal.reason } });
  };
}

const scalar = z.union([z.string().max(256), z.number()]);

export const fields = {
  /** the auction token, byte for byte: an unreplaced macro or a non-token is refused (counted by ingest) */
  token: z.string().max(10_000).superRefine(refine(tokenRefusal, 'token')),
  cid: z.string().regex(ID_PATTERN, 'must be 16 to 64 characters of A-Z a-z 0-9 _ -'),
  install_id: z.string().regex(INSTALL_ID, 'must be 1 to 128 characters of A-Z a-z 0-9 . _ : -'),
  visitor_id: z.string().regex(VISITOR_ID_PATTERN, VISITOR_ID_RULE),
  /** an advertising id (idfa, aaid, …), lower-cased; a zeroed one becomes null (no id) */
  device_id: z
    .string()
    .max(128)
    .superRefine(refine((v: string) => (deviceIdOf(v) === undefined ? 'device_id must be an advertising id (idfa, aaid), at most 128 characters' : null), 'device_id'))
    .transform((v) => deviceIdOf(v) ?? null),
  /** a non-negative integer is taken as its digits */
  order_id: scalar
    .transform((v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v))
    .superRefine(refine(invalidOrderId, 'order_id'))
    .transform((v) => v as string),
  value: scalar.superRefine(refine(invalidValue, 'value')).transform(valueText),
  other: scalar.superRefine(refine(invalidOther, 'other')).transform((v) => v as string),
  /**
   * a test conversion: attributed as any other, its fire recorded (URL and transcript) as a dry run and never sent,
   * never replayed; it never makes a later real conversion a duplicate (ingest/attribution.ts)
   */
  test: z.boolean(),
};

/**
 * The optional fields a browser conversion may lose without losing itself: on the thank-you page nobody reads a 400,
 * so a `value` or `other` that breaks its rule is dropped and the conversion counts without it, the warning kept
 * (the backend and app routes refuse instead, naming the field). Answers the body without the broken fields, and a
 * warning per field, such as `value dropped: value must be purely numeric…`.
 */
export function dropBrokenOptional(body: Record<string, unknown>, names: readonly ('value' | 'other')[]): { body: Record<string, unknown>; warnings: string[] } {
  const kept = { ...body };
  const warnings: string[] = [];
  for (const name of names) {
    if (kept[name] === undefined) continue;
    const checked = fields[name].safeParse(kept[name]);
    if (checked.success) continue;
    delete kept[name];
    warnings.push(`${name} dropped: ${checked.error.issues[0]?.message ?? 'broke its rule'}`);
  }
  return { body: kept, warnings };
}

/**
 * Checks a parsed body against a request schema; the first issue becomes a Refusal: an unknown field is
 * `unknown_field`, a rule's own issue keeps its reason, any other names its field (`invalid_<field>`).
 */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    throw new Refusal('unknown_field', `unknown field ${issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}`);
  }
  const field = issue.path[0] === undefined ? undefined : String(issue.path[0]);
  const own = issue.code === 'custom' ? (issue.params as { reason?: string } | undefined)?.reason : undefined;
  if (own) throw new Refusal(own, issue.message, field);
  throw new Refusal(`invalid_${field ?? 'body'}`, `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`, field);
}
