// Conversion ingestion: validate (schema, caps, named reasons) → resolve the pixel and its allowed sources →
// group commit, where each conversion is attributed, deduplicated and (when attributed) queued as a fire in the
// same transaction. The answer is sent only after that commit.
import { z } from 'zod';
import { MINUTE, parseTime } from '../clock.js';
import { findPixel, MAX_WINDOW_MINS } from '../config.js';
import type { Context } from '../context.js';
import { Batcher } from '../batcher.js';
import { dropBrokenOptional, fields, Refusal } from '../fields.js';
import type { AttributionStore, ConversionSource } from '../store/store.js';
import { decideConversion, type ConversionInput, type ConversionResult } from './attribution.js';
import type { Macros } from './macros.js';

const scalar = z.union([z.string().max(256), z.number()]);

/** What a site backend or an app posts to /v1/conversions; the thank-you page's body is a `.pick` of it. */
export const conversionSchema = z.strictObject({
  pixel: z.union([z.string().max(64), z.number().int()]),
  order_id: fields.order_id.optional(),
  value: fields.value.optional(),
  other: fields.other.optional(),
  visitor_id: fields.visitor_id.optional(),
  token: fields.token.optional(),
  cid: fields.cid.optional(),
  install_id: fields.install_id.optional(),
  device_id: fields.device_id.optional(),
  occurred_at: scalar.optional(),
  test: fields.test.optional(),
});
export type ConversionBody = z.infer<typeof conversionSchema>;

/** What the script posts to /c: the thank-you page names no visitor, token or device (the cookie does). */
export const browserConversionSchema = conversionSchema.pick({ pixel: true, order_id: true, value: true, other: true, cid: true, test: true });

/** ms since the epoch from an ISO 8601 time (../clock.ts parseTime: no offset means UTC) or epoch ms; bounded to
 * the longest window behind and 5 minutes ahead */
export function parseOccurredAt(raw: unknown, now: number): number {
  if (raw === undefined || raw === null) return now;
  const ms = typeof raw === 'number' ? raw : parseTime(String(raw));
  if (ms === undefined || !Number.isSafeInteger(ms) || ms < now - MAX_WINDOW_MINS * MINUTE || ms > now + 5 * MINUTE) {
    throw new Refusal('invalid_occurred_at', 'occurred_at must be an ISO 8601 time or epoch milliseconds within the last 90 days', 'occurred_at');
  }
  return ms;
}

/** what a conversion route answers: the decision, and for a duplicate the rule that decided it */
export const conversionAnswer = (r: ConversionResult) => ({ outcome: r.outcome, conversion_id: r.conversion_id, fire_id: r.fire_id, rule: r.rule });

export const hasIdentity = (c: ConversionInput) => Boolean(c.visitor_id || c.token || c.cid || c.install_id || c.device_id);

export class Conversions {
  private readonly batcher: Batcher<ConversionInput, ConversionResult>;

  constructor(private readonly ctx: Context<AttributionStore>, private readonly macros: Macros) {
    this.batcher = new Batcher((inputs) => {
      const now = ctx.clock.now();
      return ctx.store.decideBatch(inputs, (tx, c) => decideConversion(tx, c, now));
    }, 200);
  }

  /**
   * A posted body, checked by `schema` (conversionSchema or a pick of it), its pixel resolved and allowed for
   * `source`. An unreplaced macro is counted as touches and app opens count theirs (before, conversions refused it
   * uncounted): an app's against `app`, like an app open's; the others against `unknown`, like a backend's touch.
   */
  async input(schema: z.ZodType<Partial<ConversionBody>, unknown>, raw: unknown, source: ConversionSource, extra: { visitor_id?: string | null } = {}): Promise<ConversionInput> {
    // the browser's thank-you page loses a broken value or other, never the conversion (fields.ts says why)
    const lenient = source === 'browser' && typeof raw === 'object' && raw !== null ? dropBrokenOptional(raw as Record<string, unknown>, ['value', 'other']) : undefined;
    const body = await this.macros.parse(schema, lenient?.body ?? raw, source === 'app' ? 'app' : 'unknown');
    const pixel = findPixel(this.ctx.config, body.pixel);
    if (!pixel) throw new Refusal('unknown_pixel', `pixel ${JSON.stringify(body.pixel)} is neither a configured pixel name nor its id`, 'pixel');
    if (!pixel.sources.includes(source)) {
      throw new Refusal('source_not_allowed', `pixel ${pixel.name} does not take conversions from the ${source} (its sources: ${pixel.sources.join(', ')})`, 'pixel');
    }
    return {
      pixel,
      source,
      order_id: body.order_id ?? null,
      value: body.value ?? null,
      other: body.other ?? null,
      visitor_id: body.visitor_id ?? extra.visitor_id ?? null,
      token: body.token ?? null,
      cid: body.cid ?? null,
      install_id: body.install_id ?? null,
      device_id: body.device_id ?? null,
      occurred_at: parseOccurredAt(body.occurred_at, this.ctx.clock.now()),
      warning: lenient?.warnings.length ? lenient.warnings.join('; ') : null,
      test: body.test ?? false,
    };
  }

  async record(input: ConversionInput): Promise<ConversionResult> {
    const result = await this.batcher.add(input);
    this.ctx.events.emit('conversion', { result, input });
    return result;
  }

  drain(): Promise<void> {
    return this.batcher.drain();
  }
}
