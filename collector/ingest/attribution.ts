// Attribution exactly as Microsoft's conversion pixels decide it, run inside one store transaction: the touch the
// conversion names itself (its cid, its token) when in window; else, over every touch that identifies the visitor
// (an install's too), the latest click in its window, even over a more recent view; with no click, the latest
// impression in the view window (a click is also an impression); otherwise the conversion is unattributed. Touches
// reached only through a device id count only when the surer identities have none (identityKeys). Then the order-id
// and repeat rules, then the conversion and its fire.
import { MINUTE } from '../clock.js';
import type { PixelConfig } from '../config.js';
import { rowId } from '../ids.js';
import type { Conversion, ConversionOutcome, DuplicateRule, IdentityKeys, Touch, Tx } from '../store/store.js';
import { emptyKeys } from '../store/store.js';
import { newTouch } from './new-touch.js';
import { BIND_CONFIDENCE } from '../vocabulary.js';

/** a conversion as validated at the edge, before attribution decides its outcome */
export type ConversionInput = Pick<Conversion, 'source' | 'order_id' | 'value' | 'other' | 'visitor_id' | 'token' | 'cid' | 'install_id' | 'device_id' | 'occurred_at'> & {
  pixel: PixelConfig;
  /** what the edge dropped from the request (Conversion.warning) */
  warning?: string | null;
  /** a test conversion (Conversion.test) */
  test?: boolean;
};

export interface ConversionResult {
  outcome: ConversionOutcome;
  conversion_id: string;
  fire_id: string | null;
  touch_id: string | null;
  /** the rule that made it a duplicate; null otherwise */
  rule: DuplicateRule | null;
}

const add = (list: string[], v: string | null | undefined) => {
  if (v && !list.includes(v)) list.push(v);
};

/** a touch's identity: its visitor, else its token; its device goes to `weak` */
function addTouchIdentity(strong: IdentityKeys, weak: IdentityKeys, t: Touch): void {
  add(strong.visitor_ids, t.visitor_id);
  add(weak.device_ids, t.device_id);
  if (!t.visitor_id && !t.device_id) add(strong.tokens, t.token);
}

/** keys in tiers, surest first: attribution takes the first tier with a touch in window (attributedTouch) */
export type IdentityTiers = IdentityKeys[];

/**
 * Everything the conversion is identified by, resolved to the keys touches are stored under, in two tiers. Sure:
 * its visitor and token, its click id's touch (and that touch's visitor), and for an install its re-engagement
 * clicks and a binding by click id, referrer or token (BIND_CONFIDENCE 1). Weaker: whatever is reached only through
 * a device id — the conversion's, its touches', the install's — and a binding by device id or hint. A device id
 * says "this device", and anyone with an HTTP client and someone's advertising id can put it on a touch, so it
 * never outweighs what the visitor or the install's own click says.
 */
export async function identityKeys(tx: Tx, c: ConversionInput, byCid?: Touch): Promise<IdentityTiers> {
  const sure = emptyKeys();
  const weak = emptyKeys();
  add(sure.visitor_ids, c.visitor_id);
  add(weak.device_ids, c.device_id);
  add(sure.tokens, c.token);
  if (byCid) {
    add(sure.touch_ids, byCid.id);
    addTouchIdentity(sure, weak, byCid);
  }
  if (c.install_id) {
    add(sure.install_ids, c.install_id);
    const install = await tx.installById(c.install_id);
    const bound = install?.touch_id ? await tx.touchById(install.touch_id) : undefined;
    if (bound) {
      const tier = install!.method && BIND_CONFIDENCE[install!.method] < 1 ? weak : sure;
      add(tier.touch_ids, bound.id);
      addTouchIdentity(tier, weak, bound);
    }
    add(weak.device_ids, install?.device_id);
  }
  return [sure, weak];
}

/**
 * The conversion's own evidence — the touch its cid names, the token it carries — earns it when in window under the
 * pixel's rules, whatever else identifies the visitor: an install's older binding, a visitor's other clicks never
 * override what the conversion itself says. A token no touch was recorded for is its own click (implicitTouch).
 */
async function explicitTouch(tx: Tx, c: ConversionInput, byCid: Touch | undefined, now: number): Promise<Touch | undefined> {
  if (!byCid && !c.token) return undefined;
  const keys = emptyKeys();
  add(keys.touch_ids, byCid?.id);
  add(keys.tokens, c.token);
  return (await attributedTouch(tx, c.pixel, [keys], c.occurred_at)) ?? (await implicitTouch(tx, c, now));
}

/**
 * The touch that earned the conversion under the pixel's trigger type and windows, if any, each taken from the
 * surest tier of identity that has one. A click is also an impression: after the clicks in their window (click,
 * hybrid), the latest touch of either kind in the view window.
 */
export async function attributedTouch(tx: Tx, pixel: PixelConfig, tiers: IdentityTiers, at: number): Promise<Touch | undefined> {
  if (pixel.trigger_type !== 'view') {
    const from = at - pixel.post_click_expire_mins * MINUTE;
    for (const keys of tiers) {
      const click = await tx.latestTouch(keys, 'click', from, at);
      if (click) return click;
    }
    if (pixel.trigger_type === 'click') return undefined;
  }
  const from = at - pixel.post_view_expire_mins * MINUTE;
  // a hybrid pixel's clicks in the view window were looked at already, unless its view window is the longer one
  const lookAtClicks = pixel.trigger_type === 'view' || pixel.post_view_expire_mins > pixel.post_click_expire_mins;
  for (const keys of tiers) {
    const view = await tx.latestTouch(keys, 'view', from, at);
    const click = lookAtClicks ? await tx.latestTouch(keys, 'click', from, at) : undefined;
    // the later wins; at the same time, the click
    const touch = click && (!view || click.occurred_at >= view.occurred_at) ? click : view;
    if (touch) return touch;
  }
  return undefined;
}

const userKey = (t: Touch) => (t.visitor_id ? `v:${t.visitor_id}` : t.device_id ? `d:${t.device_id}` : `t:${t.token}`);

/**
 * A token no touch was recorded for (a backend or app that kept the landing URL's token itself) is its own
 * evidence of the click: it becomes a click touch at the conversion's time.
 */
async function implicitTouch(tx: Tx, c: ConversionInput, now: number): Promise<Touch | undefined> {
  if (!c.token) return undefined;
  const byToken = { ...emptyKeys(), tokens: [c.token] };
  const seen = await tx.latestTouch(byToken, 'click', 0, Number.MAX_SAFE_INTEGER)
    ?? await tx.latestTouch(byToken, 'view', 0, Number.MAX_SAFE_INTEGER);
  // a click of this very token recorded after the conversion's time is the same click reported late (the landing
  // page's touch racing the backend's conversion): a click precedes its conversion, so it earns it
  if (seen) return seen.kind === 'click' && seen.occurred_at > c.occurred_at ? seen : undefined;
  const touch = newTouch({ kind: 'click', source: 'conversion', token: c.token, visitor_id: c.visitor_id, device_id: c.device_id, occurred_at: c.occurred_at }, now);
  await tx.insertTouch(touch);
  return touch;
}

/**
 * Since when an earlier attributed conversion of the same visitor makes this one a duplicate under the pixel's
 * min_minutes_per_conv (null: ever; N: the last N minutes); undefined when every conversion counts (0).
 */
function repeatSince(pixel: PixelConfig, at: number): number | undefined {
  const mins = pixel.min_minutes_per_conv;
  if (mins === 0) return undefined;
  return mins === null ? 0 : at - mins * MINUTE + 1;
}

/**
 * Decides one conversion and writes it (and its fire) in the caller's transaction. The rules, as Microsoft counts:
 * an order attributed already is a duplicate (`order_id`), whoever reports it again; an unattributed conversion never
 * takes its order, so a later attributed one fires it and supersedes it; then the visitor's repeat window
 * (`min_minutes_per_conv`), with or without an order id. The order's unique dedup key settles concurrent arrivals,
 * the user lock the repeat window's.
 */
export async function decideConversion(tx: Tx, c: ConversionInput, now: number): Promise<ConversionResult> {
  const byCid = c.cid ? await tx.touchByCid(c.cid) : undefined;
  const touch = (await explicitTouch(tx, c, byCid, now)) ?? (await attributedTouch(tx, c.pixel, await identityKeys(tx, c, byCid), c.occurred_at));
  const pixel_id = c.pixel.id;
  // a test conversion is checked for attribution only: it takes no order id and counts for no visitor, so it is never
  // a duplicate and never makes a later real conversion one
  const test = c.test === true;
  const user_key = touch && !test ? userKey(touch) : null;
  const order_key = c.order_id && !test ? `o:${pixel_id}:${c.order_id}` : null;
  const conversion: Conversion = {
    id: rowId('c'), pixel_id, pixel: c.pixel.name, source: c.source, order_id: c.order_id, value: c.value, other: c.other,
    visitor_id: c.visitor_id, token: c.token, cid: c.cid, install_id: c.install_id, device_id: c.device_id,
    outcome: touch ? 'attributed' : 'unattributed', touch_id: touch?.id ?? null, user_key, dedup_key: touch ? order_key : null,
    duplicate_of: null, occurred_at: c.occurred_at, created_at: now, warning: c.warning ?? null, rule: null, superseded_by: null, test,
  };

  const ordered = order_key ? await tx.conversionByDedupKey(order_key) : undefined;
  if (ordered) return duplicate(tx, conversion, ordered, 'order_id');
  if (!touch) {
    await tx.insertConversion(conversion);
    return { outcome: 'unattributed', conversion_id: conversion.id, fire_id: null, touch_id: null, rule: null };
  }
  const since = user_key ? repeatSince(c.pixel, c.occurred_at) : undefined;
  if (since !== undefined) {
    await tx.lockUser(pixel_id, user_key!);
    const earlier = await tx.lastAttributedConversion(pixel_id, user_key!, since);
    if (earlier) return duplicate(tx, conversion, earlier, 'min_minutes_per_conv');
  }
  // false: a concurrent conversion of this order committed first
  if (!(await tx.insertConversion(conversion))) return duplicate(tx, conversion, (await tx.conversionByDedupKey(order_key!))!, 'order_id');
  if (order_key) await tx.supersedeUnattributed(pixel_id, c.order_id!, conversion.id);
  const fire_id = rowId('f');
  await tx.insertFire({
    id: fire_id, conversion_id: conversion.id, pixel_id, order_id: c.order_id, value: c.value, other: c.other,
    token: touch.token, state: 'queued', dry_run: false, sending_at: null, attempt_count: 0, next_attempt_at: now, lease_owner: null, lease_expires_at: null,
    last_outcome: null, last_error: null, created_at: now, updated_at: now, fired_at: null, test,
  });
  return { outcome: 'attributed', conversion_id: conversion.id, fire_id, touch_id: touch.id, rule: null };
}

/** A duplicate: kept as evidence, answered with the conversion (and fire) it duplicates, so a retry is idempotent. */
async function duplicate(tx: Tx, conversion: Conversion, original: Conversion, rule: DuplicateRule): Promise<ConversionResult> {
  await tx.insertConversion({ ...conversion, outcome: 'duplicate', dedup_key: null, duplicate_of: original.id, rule });
  const fire = await tx.fireByConversion(original.id);
  return { outcome: 'duplicate', conversion_id: original.id, fire_id: fire?.id ?? null, touch_id: original.touch_id, rule };
}
