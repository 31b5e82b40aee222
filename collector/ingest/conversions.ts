// Conversion ingestion: validate (schema, caps, named reasons) → resolve the pixel and its allowed sources →
// group commit, where each conversion is attributed, deduplicated and (when attributed) queued as a fire in the
// same transaction. The answer is sent only after that commit.
import { z } from 'zod';
import { isMacro, isToken } from '../../snippet/token.js';
import { DAY, MINUTE } from '../clock.js';
import { findPixel } from '../config.js';
import type { Context } from '../context.js';
import { Batcher } from '../batcher.js';
import { invalidOrderId, invalidOther, invalidValue, valueText } from '../dispatch/fields.js';
import { badRequest, HttpError } from '../http/errors.js';
import { ID_PATTERN, VISITOR_ID_PATTERN, VISITOR_ID_RULE } from '../ids.js';
import type { ConversionSource } from '../store/store.js';
import { decideConversion, type ConversionInput, type ConversionResult } from './attribution.js';
import { normalizeDeviceId } from './client.js';

const scalar = z.union([z.string().max(256), z.number()]);

export const conversionSchema = z.strictObject({
  pixel: z.union([z.string().max(64), z.number().int()]),
  order_id: scalar.optional(),
  value: scalar.optional(),
  other: scalar.optional(),
  visitor_id: z.string().max(256).optional(),
  token: z.string().max(10_000).optional(),
  cid: z.string().max(256).optional(),
  install_id: z.string().max(256).optional(),
  device_id: z.string().max(256).optional(),
  occurred_at: scalar.optional(),
});
export type ConversionBody = z.infer<typeof conversionSchema>;

export const INSTALL_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** ms since the epoch from an ISO date or a number; bounded to the longest window behind and 5 minutes ahead */
export function parseOccurredAt(raw: unknown, now: number): number {
  if (raw === undefined || raw === null) return now;
  const ms = typeof raw === 'number' ? raw : /^\d{1,15}$/.test(String(raw)) ? Number(raw) : Date.parse(String(raw));
  if (!Number.isSafeInteger(ms) || ms < now - 90 * DAY || ms > now + 5 * MINUTE) {
    throw badRequest('invalid_occurred_at', 'occurred_at must be an ISO 8601 time or epoch milliseconds within the last 90 days');
  }
  return ms;
}

/** the body's fields checked one by one, each refusal naming its field */
export function conversionInput(ctx: Context, body: ConversionBody, source: ConversionSource, extra: { visitor_id?: string | null } = {}): ConversionInput {
  const pixel = findPixel(ctx.config, body.pixel);
  if (!pixel) throw badRequest('unknown_pixel', `pixel ${JSON.stringify(body.pixel)} is neither a configured pixel name nor its id`);
  if (!pixel.sources.includes(source)) {
    throw new HttpError(403, 'source_not_allowed', `pixel ${pixel.name} does not take conversions from the ${source} (its sources: ${pixel.sources.join(', ')})`);
  }
  if (typeof body.order_id === 'number' && Number.isSafeInteger(body.order_id) && body.order_id >= 0) body = { ...body, order_id: String(body.order_id) };
  const checks = { order_id: invalidOrderId, value: invalidValue, other: invalidOther };
  for (const [name, invalid] of Object.entries(checks) as [keyof typeof checks, (v: unknown) => string | null][]) {
    const problem = body[name] === undefined ? null : invalid(body[name]);
    if (problem) throw badRequest(`invalid_${name}`, problem);
  }
  if (body.token !== undefined) {
    if (isMacro(body.token)) throw badRequest('unreplaced_macro', 'the token is an unreplaced ${SSP_DATA} macro');
    if (!isToken(body.token)) throw badRequest('invalid_token', 'the token must be 1 to 1,024 printable characters without whitespace, quotes or angle brackets');
  }
  if (body.visitor_id !== undefined && !VISITOR_ID_PATTERN.test(body.visitor_id)) throw badRequest('invalid_visitor_id', `visitor_id ${VISITOR_ID_RULE}`);
  if (body.cid !== undefined && !ID_PATTERN.test(body.cid)) throw badRequest('invalid_cid', 'cid must be 16 to 64 characters of A-Z a-z 0-9 _ -');
  if (body.install_id !== undefined && !INSTALL_ID.test(body.install_id)) throw badRequest('invalid_install_id', 'install_id must be 1 to 128 characters of A-Z a-z 0-9 . _ : -');
  let device_id: string | null = null;
  if (body.device_id !== undefined) {
    device_id = normalizeDeviceId(body.device_id);
    if (!device_id) throw badRequest('invalid_device_id', 'device_id must be an advertising id (not zeroed), at most 128 characters');
  }
  return {
    pixel,
    source,
    order_id: (body.order_id as string | undefined) ?? null,
    value: body.value === undefined ? null : valueText(body.value),
    other: (body.other as string | undefined) ?? null,
    visitor_id: body.visitor_id ?? extra.visitor_id ?? null,
    token: body.token ?? null,
    cid: body.cid ?? null,
    install_id: body.install_id ?? null,
    device_id,
    occurred_at: parseOccurredAt(body.occurred_at, ctx.clock.now()),
  };
}

export const hasIdentity = (c: ConversionInput) => Boolean(c.visitor_id || c.token || c.cid || c.install_id || c.device_id);

export class Conversions {
  private readonly batcher: Batcher<ConversionInput, ConversionResult>;
  /** a hook for metrics */
  onOutcome: (result: ConversionResult, input: ConversionInput) => void = () => {};

  constructor(ctx: Context) {
    this.batcher = new Batcher((inputs) =>
      ctx.store.transaction(async (tx) => {
        const now = ctx.clock.now();
        const out: ConversionResult[] = [];
        for (const c of inputs) out.push(await decideConversion(tx, c, now));
        return out;
      }), 200);
  }

  async record(input: ConversionInput): Promise<ConversionResult> {
    const result = await this.batcher.add(input);
    this.onOutcome(result, input);
    return result;
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }
}
