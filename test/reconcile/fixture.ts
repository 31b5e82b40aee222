// The store side of the reconciliation fixture (test/fixtures/reconcile/attributed-conversions.*): conversions and
// fires in every state, each placed so that it lands in one class for a known reason. The comments say which.
import { parseConfig, type Config } from '../../collector/config.js';
import type { Conversion, Fire, FireState, Store, Touch, TouchKind } from '../../collector/store/store.js';
import { attempt, conversion, fire, touch } from '../store/rows.js';

export const FIXTURES = new URL('../fixtures/reconcile/', import.meta.url).pathname;
export const PURCHASE = 59633;
export const SIGNUP = 70001;
/** the report covers these two UTC days */
export const FROM = Date.UTC(2026, 10, 16);
export const TO = Date.UTC(2026, 10, 18);
/** when the fixture is reconciled */
export const NOW = Date.UTC(2026, 10, 18, 12);

const MIN = 60_000;
const HOUR = 60 * MIN;
const t = (iso: string) => Date.parse(iso.replace(' ', 'T') + 'Z');

export const FIXTURE_CONFIG = {
  pixels: {
    // hybrid, 30-day clicks, 1-day views, every conversion counts
    purchase: { id: PURCHASE, trigger_type: 'hybrid', post_click_expire_mins: 43_200, post_view_expire_mins: 1440, min_minutes_per_conv: 0 },
    // clicks only, 7 days, one conversion per user
    signup: { id: SIGNUP, trigger_type: 'click', post_click_expire_mins: 10_080, min_minutes_per_conv: null },
  },
};
export const fixtureConfig = (over: Record<string, unknown> = {}): Config => parseConfig({ ...FIXTURE_CONFIG, ...over });

interface Seed {
  order?: string | null;
  pixel?: number;
  /** the touch: its kind and time; none for an unattributed conversion */
  touch?: [TouchKind, string];
  /** when the conversion occurred and was recorded */
  at: string;
  value?: string | null;
  outcome?: Conversion['outcome'];
  state?: FireState;
  fired?: string;
  last_error?: string;
  user?: string;
  duplicate_of?: string;
  rule?: Conversion['rule'];
}

/** conversion ids by order, for assertions */
export type Seeded = Record<string, { conversion: Conversion; fire?: Fire }>;

export async function seedFixture(store: Store): Promise<Seeded> {
  const seeded: Seeded = {};
  const add = async (name: string, s: Seed) => {
    const at = t(s.at);
    let tt: Touch | undefined;
    if (s.touch) {
      const when = t(s.touch[1]);
      tt = touch({ kind: s.touch[0], occurred_at: when, created_at: when, visitor_id: s.user ?? `visitor-${name}` });
      await store.insertTouches([tt]);
    }
    const c = conversion({
      pixel_id: s.pixel ?? PURCHASE,
      pixel: (s.pixel ?? PURCHASE) === PURCHASE ? 'purchase' : 'signup',
      order_id: s.order === undefined ? name : s.order,
      value: s.value === undefined ? '10' : s.value,
      outcome: s.outcome ?? (s.state ? 'attributed' : 'unattributed'),
      touch_id: tt?.id ?? null,
      user_key: s.user ? `v:${s.user}` : null,
      duplicate_of: s.duplicate_of ?? null,
      rule: s.rule ?? null,
      occurred_at: at,
      created_at: at,
    });
    const f = s.state
      ? fire({
          conversion_id: c.id, pixel_id: c.pixel_id, order_id: c.order_id, value: c.value, token: tt?.token ?? 'ams1AAAAfixture.',
          state: s.state, created_at: at, updated_at: at, next_attempt_at: s.state === 'queued' ? NOW : null,
          fired_at: s.fired ? t(s.fired) : null, last_error: s.last_error ?? null, attempt_count: s.state === 'queued' ? 0 : 1,
          lease_owner: s.state === 'in_flight' ? 'elsewhere' : null, lease_expires_at: s.state === 'in_flight' ? NOW + HOUR : null,
        })
      : undefined;
    await store.transaction(async (tx) => {
      await tx.insertConversion(c);
      if (f) await tx.insertFire(f);
    });
    if (f && (s.state === 'fired' || s.state === 'failed' || s.state === 'held')) {
      const started = s.fired ? t(s.fired) : at;
      const outcome = s.state === 'held' ? 'ambiguous' : s.state;
      const url = `https://sspx-router.adnxs.com/sspx?id=${c.pixel_id}&sspdata=${f.token}`;
      // a logged fire answers 302 then 200, as the router does
      const hops = s.state === 'fired'
        ? [...attempt().hops!, { request: { method: 'GET', url: 'https://ib.adnxs.com/x', headers: [] as [string, string][] },
            response: { http_version: '1.1', status: 200, status_text: 'OK', headers: [] as [string, string][], body_excerpt: '' }, at_ms: 8, duration_ms: 4 }]
        : attempt().hops!;
      await store.recordAttempt(f.id, 'seed', attempt({ started_at: started, outcome, url, hops, status: s.state === 'fired' ? 200 : 400,
        error_class: s.state === 'fired' ? null : s.state === 'held' ? 'timeout_after_send' : 'http_4xx' }), { state: s.state, next_attempt_at: null, last_error: null });
    }
    seeded[name] = { conversion: c, fire: f };
  };

  // matched: click/view agree, value agrees (19.90)
  await add('A-100', { touch: ['click', '2026-11-16 06:59:00'], at: '2026-11-16 09:00:00', value: '19.90', state: 'fired', fired: '2026-11-16 09:00:40', user: 'u-a100' });
  // matched: we attributed a view, Microsoft a click
  await add('A-101', { touch: ['view', '2026-11-16 08:10:00'], at: '2026-11-16 10:15:00', value: '5', state: 'fired', fired: '2026-11-16 10:15:05' });
  // matched: value mismatch, 10.10 against Microsoft's 10.01
  await add('A-102', { touch: ['click', '2026-11-16 10:00:00'], at: '2026-11-16 11:00:20', value: '10.10', state: 'fired', fired: '2026-11-16 11:00:28' });
  // matched: 0.3 and 0.30 are one value (a float would have to be trusted to say so)
  await add('A-103', { touch: ['view', '2026-11-17 07:00:00'], at: '2026-11-17 08:00:00', value: '0.3', state: 'fired', fired: '2026-11-17 08:00:03' });

  // fired, not counted: the token was 29.5 days old, near the end of the 30-day click window
  await add('B-200', { touch: ['click', '2026-10-18 02:00:00'], at: '2026-11-16 13:59:00', state: 'fired', fired: '2026-11-16 14:00:00' });
  // fired, not counted: a 7-day click window, fired 8 days after the touch (the conversion was recorded the day before the period)
  await add('B-201', { pixel: SIGNUP, touch: ['click', '2026-11-09 09:00:00'], at: '2026-11-15 09:00:00', state: 'fired', fired: '2026-11-17 09:00:00' });
  // fired, not counted: one conversion per user on signup, and this visitor fired before (B-199, outside the period)
  await add('B-199', { pixel: SIGNUP, touch: ['click', '2026-11-10 08:00:00'], at: '2026-11-10 09:00:00', state: 'fired', fired: '2026-11-10 09:00:01', user: 'u-b202' });
  await add('B-202', { pixel: SIGNUP, touch: ['click', '2026-11-17 09:00:00'], at: '2026-11-17 10:00:00', state: 'fired', fired: '2026-11-17 10:00:02', user: 'u-b202' });
  // fired, not counted: fired an hour before the period ends; the report may not have it yet
  await add('B-203', { touch: ['click', '2026-11-17 22:00:00'], at: '2026-11-17 23:00:00', state: 'fired', fired: '2026-11-17 23:00:01' });

  // not fired here, counted anyway: failed, held, unattributed, duplicate, queued, in flight
  await add('D-400', { touch: ['click', '2026-11-16 14:00:00'], at: '2026-11-16 14:59:00', state: 'failed', last_error: 'HTTP 400 from the router: invalid sspdata' });
  await add('D-401', { touch: ['click', '2026-11-16 15:00:00'], at: '2026-11-16 15:59:00', state: 'held', last_error: 'timed out after the request was sent' });
  await add('D-402', { at: '2026-11-17 10:59:00', outcome: 'unattributed' });
  await add('D-403', { pixel: SIGNUP, at: '2026-11-17 11:59:00', outcome: 'duplicate', duplicate_of: seeded['B-199'].conversion.id, rule: 'min_minutes_per_conv' });
  await add('D-404', { touch: ['click', '2026-11-17 13:00:00'], at: '2026-11-17 13:59:00', state: 'queued' });
  await add('D-405', { touch: ['click', '2026-11-17 13:30:00'], at: '2026-11-17 14:29:00', state: 'in_flight' });

  // neither fired nor counted: the two sides agree, not listed
  await add('E-500', { at: '2026-11-17 16:00:00', outcome: 'unattributed' });

  // fires without an order id: 3 purchase fires in 09:00 on the 16th (Microsoft counts 2), a failed one that hour
  // (not a fire Microsoft could count), 1 signup fire at 13:00 on the 17th (Microsoft counts 1)
  for (const [i, fired] of ['2026-11-16 09:05:00', '2026-11-16 09:20:00', '2026-11-16 09:50:00'].entries()) {
    await add(`N-${i}`, { order: null, touch: ['click', '2026-11-16 08:00:00'], at: fired, state: 'fired', fired });
  }
  await add('N-failed', { order: null, touch: ['click', '2026-11-16 08:00:00'], at: '2026-11-16 09:30:00', state: 'failed' });
  await add('N-signup', { order: null, pixel: SIGNUP, touch: ['click', '2026-11-17 12:00:00'], at: '2026-11-17 13:25:00', state: 'fired', fired: '2026-11-17 13:25:00' });
  return seeded;
}
