// The domain's words, each list written once: the SQL CHECK constraints, the metrics labels, the OpenAPI enums, the
// dashboard's filters and the CLI's options are all made from these lists (as pg-boss does with JOB_STATES).
// Framework-free and import-free, so every layer (the store included) may use it.

/** a touch is a click (the script, /v1/touches, an app's own deep link) or a view (an impression tracker) */
export const TOUCH_KINDS = ['click', 'view'] as const;
export type TouchKind = (typeof TOUCH_KINDS)[number];

/** where a touch came from */
export const TOUCH_SOURCES = ['script', 'impression', 'server', 'conversion', 'app'] as const;
export type TouchSource = (typeof TOUCH_SOURCES)[number];

/** who sent a conversion: the thank-you page, a site backend, an app */
export const CONVERSION_SOURCES = ['browser', 'server', 'app'] as const;
export type ConversionSource = (typeof CONVERSION_SOURCES)[number];

export const CONVERSION_OUTCOMES = ['attributed', 'unattributed', 'duplicate'] as const;
export type ConversionOutcome = (typeof CONVERSION_OUTCOMES)[number];

/**
 * the rule that made a conversion a duplicate, as Microsoft counts: `order_id`, the pixel's order was attributed
 * already; `min_minutes_per_conv`, the visitor converted on this pixel within its repeat window (null: ever)
 */
export const DUPLICATE_RULES = ['order_id', 'min_minutes_per_conv'] as const;
export type DuplicateRule = (typeof DUPLICATE_RULES)[number];

/** a fire's life: queued → in_flight → fired | failed | held (or queued again for a retry) */
export const FIRE_STATES = ['queued', 'in_flight', 'fired', 'failed', 'held'] as const;
export type FireState = (typeof FIRE_STATES)[number];

/** the states an operator may replay (queue again, due now) */
export const REPLAYABLE_STATES = ['failed', 'held'] as const satisfies readonly FireState[];

/** what one recorded attempt came to; `lease_expired` is written by the claim that found its owner gone */
export const ATTEMPT_OUTCOMES = ['fired', 'retry', 'failed', 'ambiguous', 'lease_expired'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/**
 * What happens to a fire whose request may have reached the router without an answer being recorded (a timeout after
 * the request was sent, a crash after it left): `retry` fires it again (the router may count it twice), `hold` parks
 * it as `held` for an operator to check the router's logs and replay it.
 */
export const ON_AMBIGUOUS = ['retry', 'hold'] as const;
export type OnAmbiguous = (typeof ON_AMBIGUOUS)[number];

/**
 * What one HTTP attempt came to, as the dispatcher's HTTP layer answers it: an attempt outcome, or `aborted` (the
 * dispatcher was stopping; nothing to record unless the request had been sent). Never `lease_expired`.
 */
export const FIRE_RESULTS = ['fired', 'retry', 'failed', 'ambiguous', 'aborted'] as const;
export type FireResultKind = (typeof FIRE_RESULTS)[number];

/** how an install was bound to its touch, strongest evidence first */
export const BIND_METHODS = ['deep_link', 'referrer', 'token', 'device_id', 'hint'] as const;
export type BindMethod = (typeof BIND_METHODS)[number];

/**
 * How far a binding by each method is trusted, stored on the install and answered with it: a click id, the Play
 * referrer and the token name their click; an advertising id only says "this device", and anyone with an HTTP client
 * and someone's id can send it; a hint match is a guess. Attribution prefers touches reached the surer way
 * (ingest/attribution.ts).
 */
export const BIND_CONFIDENCE = { deep_link: 1, referrer: 1, token: 1, device_id: 0.8, hint: 0.6 } as const satisfies Record<BindMethod, number>;

/** a binding's confidence: as stored, or its method's for an install bound before every binding stored one */
export const bindConfidence = (method: BindMethod, stored: number | null): number => stored ?? BIND_CONFIDENCE[method];

/** how a deep link into an install that is bound already named its re-engagement click: its cid, or the token itself */
export const REENGAGE_METHODS = ['deep_link', 'token'] as const satisfies readonly BindMethod[];
export type ReengageMethod = (typeof REENGAGE_METHODS)[number];

/** what a touch request came to, for metrics (the reason is the kind when stored, else why not) */
export const TOUCH_OUTCOMES = ['stored', 'dropped', 'refused'] as const;
export type TouchOutcome = (typeof TOUCH_OUTCOMES)[number];

/** true when `value` is one of `list`, typed as such */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}

/** a list as SQL string literals for `CHECK (col IN (…))`: `'queued', 'in_flight', …` (the words hold no quotes) */
export const sqlList = (list: readonly string[]): string => list.map((v) => `'${v}'`).join(', ');

/** the names under which landing URLs and impression trackers carry advertising ids */
export const DEVICE_ID_PARAMS = ['idfa', 'aaid', 'gaid', 'adid', 'ifa', 'device_id'] as const;

/** the click ids ad platforms append to a landing URL (Microsoft's msclkid first), and our own deep-link one */
export const CLICK_ID_PARAMS = ['msclkid', 'gclid', 'gbraid', 'wbraid', 'dclid', 'fbclid', 'ttclid', 'twclid', 'li_fat_id', 'yclid', 'sspx_cid'] as const;

/** a landing URL's parameters unique to one click: its click ids and advertising ids */
export const PER_CLICK_PARAMS: ReadonlySet<string> = new Set([...CLICK_ID_PARAMS, ...DEVICE_ID_PARAMS]);
