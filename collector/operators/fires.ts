// The operators' fires, one service behind both faces: the admin-key API (/v1/fires*, http/routes/fires.ts) and the
// dashboard (/admin/fires*, http/routes/admin.ts). Filters are read here once, with one time format (../clock.ts
// parseTime: ISO 8601 or ms since the epoch; a time without an offset is UTC); loading, evidence and replay too.
import { parseTime } from '../clock.js';
import { findPixel } from '../config.js';
import type { Context } from '../context.js';
import { renderAttempt, renderEvidence } from '../dispatch/transcript.js';
import { invalidOrderId, Refusal } from '../fields.js';
import type { Fire, FireDetail, FireFilter, OperatorQueries, Outbox } from '../store/store.js';
import { ATTEMPT_OUTCOMES, FIRE_STATES, isOneOf, REPLAYABLE_STATES } from '../vocabulary.js';

export const FIRE_ID = /^[\w.:-]{1,128}$/;

/** the filters, as typed in a query string */
export const FIRE_FILTER_KEYS = ['pixel', 'order_id', 'state', 'last_outcome', 'test', 'from', 'to', 'limit', 'before'] as const;
export type FireQuery = Partial<Record<(typeof FIRE_FILTER_KEYS)[number], string>>;

export const TIME_FORMAT = 'ISO 8601 (such as 2026-01-31 or 2026-01-31T12:00; UTC unless an offset is given) or ms since the epoch';

/**
 * The store's filter for what was typed, and a refusal for each filter that is not understood (in the order of
 * FIRE_FILTER_KEYS): the API refuses the first, the dashboard names them all and ignores them.
 */
export function parseFireFilter(ctx: Context, q: FireQuery): { filter: FireFilter; refusals: Refusal[] } {
  const filter: FireFilter = {};
  const refusals: Refusal[] = [];
  const refuse = (field: string, reason: string, message: string) => refusals.push(new Refusal(reason, `${field.replace('_', ' ')}: ${message}`, field));
  if (q.pixel !== undefined) {
    // a configured name, or any numeric id: fires of a pixel since removed from the config stay findable
    const id = findPixel(ctx.config, q.pixel)?.id ?? (/^\d{1,12}$/.test(q.pixel) ? Number(q.pixel) : undefined);
    if (id === undefined) refuse('pixel', 'unknown_pixel', `${q.pixel} is neither a configured pixel name nor a numeric id`);
    else filter.pixel_id = id;
  }
  if (q.order_id !== undefined) {
    const why = invalidOrderId(q.order_id);
    if (why) refuse('order_id', 'bad_order_id', why);
    else filter.order_id = q.order_id;
  }
  if (q.state !== undefined) {
    if (isOneOf(FIRE_STATES, q.state)) filter.state = q.state;
    else refuse('state', 'bad_state', `must be one of ${FIRE_STATES.join(', ')}`);
  }
  if (q.last_outcome !== undefined) {
    if (isOneOf(ATTEMPT_OUTCOMES, q.last_outcome)) filter.last_outcome = q.last_outcome;
    else refuse('last_outcome', 'bad_last_outcome', `must be one of ${ATTEMPT_OUTCOMES.join(', ')}`);
  }
  if (q.test !== undefined) {
    if (q.test === 'true' || q.test === 'false') filter.test = q.test === 'true';
    else refuse('test', 'bad_test', 'must be true (test fires only) or false (real ones only)');
  }
  for (const k of ['from', 'to'] as const) {
    if (q[k] === undefined) continue;
    const t = parseTime(q[k]);
    if (t === undefined) refuse(k, `bad_${k}`, `not a time: ${TIME_FORMAT}`);
    else filter[k] = t;
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) refuse('from', 'bad_range', 'must not be after to');
  if (q.limit !== undefined) {
    if (!/^\d{1,4}$/.test(q.limit) || Number(q.limit) < 1 || Number(q.limit) > 1000) refuse('limit', 'bad_limit', 'must be an integer from 1 to 1000');
    else filter.limit = Number(q.limit);
  }
  if (q.before !== undefined) {
    if (!FIRE_ID.test(q.before)) refuse('before', 'bad_before', 'must be a fire id (the last one of the previous page)');
    else filter.before = q.before;
  }
  return { filter, refusals };
}

const notFound = () => new Refusal('fire_not_found', 'No fire has this id.');

export class Fires {
  constructor(private readonly ctx: Context<OperatorQueries & Pick<Outbox, 'replayFire'>>, private readonly dispatcher?: { wake(): void }) {}

  list(filter: FireFilter): Promise<Fire[]> {
    return this.ctx.store.listFires(filter);
  }

  /** one fire with its attempts, conversion and touch; a Refusal (fire_not_found) when there is none */
  async load(id: string): Promise<FireDetail> {
    const fire = FIRE_ID.test(id) ? await this.ctx.store.getFire(id) : undefined;
    if (!fire) throw notFound();
    return fire;
  }

  pixelName(fire: Fire): string | undefined {
    return findPixel(this.ctx.config, fire.pixel_id)?.name;
  }

  /** the fire as the API shows it: its pixel's name, and each attempt's verbose transcript */
  async view(id: string): Promise<FireDetail & { pixel: string | null }> {
    const fire = await this.load(id);
    const attempts = fire.attempts.map((a) => ({ ...a, transcript: renderAttempt(a) }));
    return { ...fire, pixel: this.pixelName(fire) ?? null, attempts };
  }

  /** the evidence text of one fire, for an investigation with Microsoft, and the name to save it under */
  async evidence(id: string): Promise<{ filename: string; text: string }> {
    const fire = await this.load(id);
    return { filename: `sspx-fire-${fire.id}.txt`, text: renderEvidence(fire, this.pixelName(fire), this.ctx.clock.now()) };
  }

  /** queues a failed or held fire again, due now, and wakes the dispatcher; `by` names who asked, for the log */
  async replay(id: string, by: string): Promise<Fire> {
    const fire = FIRE_ID.test(id) ? await this.ctx.store.replayFire(id, this.ctx.clock.now()) : undefined;
    if (!fire) {
      const existing = await this.load(id);
      if (existing.test) throw new Refusal('not_replayable', 'A test fire ("test": true) is never sent, so it is never replayed.');
      throw new Refusal('not_replayable', `Only ${REPLAYABLE_STATES.join(' or ')} fires can be replayed; this one is ${existing.state.replace('_', ' ')}.`);
    }
    this.ctx.log.info({ fire_id: id, by }, 'fire replayed');
    this.dispatcher?.wake();
    return fire;
  }
}
