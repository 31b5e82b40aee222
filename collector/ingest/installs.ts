// App installs: the first open of an install binds it to the touch that earned it, deterministic evidence first
// (deep-link click id → Play install-referrer click id → raw token → advertising id), then, only when
// `hint_matching` is on, device hints. One click id binds one install; an install, once bound, always gets
// the same answer. The binding and the install conversions of `on_install` pixels commit in one transaction.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { decode } from '../../snippet/token.js';
import { MINUTE } from '../clock.js';
import { WINDOW_DEFAULTS, type Config } from '../config.js';
import type { Context } from '../context.js';
import { fields, ORDER_ID, Refusal } from '../fields.js';
import type { AttributionStore, BindMethod, IngestStore, Install, Touch, TouchKind, Tx } from '../store/store.js';
import { emptyKeys } from '../store/store.js';
import { decideConversion } from './attribution.js';
import { truncateIp } from './client.js';
import { HINT_CONFIDENCE, hintKeys, hintWindowMs, normalizeLanguage, osOfApp } from './hints.js';
import type { Macros } from './macros.js';
import { newTouch } from './new-touch.js';

/** under this from click to open (or to install begin), the click was probably injected */
export const CLICK_INJECTION_MS = 10_000;

const opt = <T extends z.ZodType>(s: T) => s.nullable().optional();
/** Play hands over seconds; some SDKs milliseconds. 0 means "unknown". */
const timestamp = opt(z.number().min(0).max(Number.MAX_SAFE_INTEGER));

/** What an app posts to /v1/app/open. */
export const appOpenSchema = z.strictObject({
  install_id: fields.install_id,
  platform: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,31}$/, 'must be ios, android or another platform name'),
  cid: opt(fields.cid),
  referrer: opt(z.string().max(4096)),
  token: opt(fields.token),
  device_id: opt(fields.device_id),
  referrer_click_ts: timestamp,
  install_begin_ts: timestamp,
  /** for hint matching only: the OS version (`17.1`) and language (`en-US`) the app runs with */
  os_version: opt(z.string().max(32)),
  language: opt(z.string().max(64)),
});
export type AppOpenBody = z.infer<typeof appOpenSchema>;

/** an open's evidence, validated */
export interface AppOpen {
  install_id: string;
  platform: string;
  cid: string | null;
  referrer_cid: string | null;
  token: string | null;
  device_id: string | null;
  referrer_click_at: number | null;
  install_begin_at: number | null;
  /** the hint keys this open may match, computed before the transaction (none unless hint matching is on) */
  hint_keys: string[];
}

/** the request facts hint matching uses; the address is truncated at once and never kept */
export interface OpenRequest {
  ip: string | undefined;
  user_agent: string | null;
  accept_language: string | null;
}

export interface AppOpenAnswer {
  install_id: string;
  bound: boolean;
  method: BindMethod | null;
  touch: { touch_id: string; cid: string; kind: TouchKind; occurred_at: number } | null;
  confidence?: number;
  flags?: Record<string, unknown>;
}

const SSPX_CID = /(?:^|[?&;#\s])sspx_cid=([A-Za-z0-9_-]{16,64})(?![A-Za-z0-9_-])/;

/**
 * The click id in a Play install referrer, in any form the store hands it over: `sspx_cid=X`, URL-encoded
 * `sspx_cid%3DX`, among other parameters, inside a whole `…&referrer=…` URL, or encoded twice or more.
 */
export function cidFromReferrer(referrer: string): string | null {
  let text = referrer.trim();
  for (let depth = 0; depth < 5; depth++) {
    const m = SSPX_CID.exec(text);
    if (m) return m[1];
    const next = decode(text.replace(/\+/g, ' '));
    if (next === text) return null;
    text = next;
  }
  return null;
}

/** epoch ms from seconds or ms (anything below 1e11 is seconds: 1e11 ms is 1973) */
const toMs = (v: number | null | undefined): number | null => (!v ? null : v < 1e11 ? Math.round(v * 1000) : Math.round(v));

/** the install conversion's order id: `install-<install_id>`, or a digest of the id where that would not fit */
export function installOrderId(install_id: string): string {
  const plain = `install-${install_id}`;
  if (ORDER_ID.test(plain)) return plain;
  return `install-${createHash('sha256').update(install_id).digest('base64url').replace(/[^A-Za-z0-9]/g, '').slice(0, 28)}`;
}

interface Match {
  touch: Touch;
  method: BindMethod;
  /** the open recorded this touch itself (a token no touch was seen for): it has no click time to measure */
  recorded: boolean;
}

const conflict = () => new Refusal('cid_already_bound', 'this click is bound to another install already; one click binds one install');

export class Installs {
  constructor(private readonly ctx: Context<AttributionStore & Pick<IngestStore, 'secret'>>, private readonly macros: Macros) {}

  /** a posted body checked field by field, each refusal naming its field; an unreplaced macro is counted (site `app`) */
  async input(raw: unknown, req: OpenRequest): Promise<AppOpen> {
    const body = await this.macros.parse(appOpenSchema, raw, 'app');
    const referrer_click_at = toMs(body.referrer_click_ts);
    const install_begin_at = toMs(body.install_begin_ts);
    const { config, store, clock } = this.ctx;
    let hint_keys: string[] = [];
    if (config.hint_matching) {
      const now = clock.now();
      const hints = {
        ip_prefix: truncateIp(req.ip),
        os: osOfApp(body.platform, body.os_version, req.user_agent),
        language: normalizeLanguage(body.language ?? req.accept_language),
      };
      hint_keys = await hintKeys(store, hints, now - hintWindowMs(config.hint_window_mins), now);
    }
    return {
      install_id: body.install_id,
      platform: body.platform.toLowerCase(),
      cid: body.cid ?? null,
      referrer_cid: body.referrer ? cidFromReferrer(body.referrer) : null,
      token: body.token ?? null,
      device_id: body.device_id ?? null,
      referrer_click_at,
      install_begin_at,
      hint_keys,
    };
  }

  /** binds (or records) the install and, on binding, decides the install conversions: one transaction */
  async open(open: AppOpen): Promise<AppOpenAnswer> {
    const { store, clock, config } = this.ctx;
    const answer = await store.transaction(async (tx) => {
      const now = clock.now();
      const existing = await tx.installById(open.install_id);
      if (existing?.touch_id) return answerOf(tx, existing);
      if (open.referrer_click_at !== null && open.install_begin_at !== null && open.referrer_click_at > open.install_begin_at) {
        throw new Refusal('click_after_install_begin', 'referrer_click_ts is after install_begin_ts: a click cannot follow the install it earned (click injection); nothing was bound');
      }

      const match = await findTouch(tx, config, open, now);
      const install: Install = {
        install_id: open.install_id,
        platform: open.platform,
        touch_id: match?.touch.id ?? null,
        method: match?.method ?? null,
        confidence: match?.method === 'hint' ? HINT_CONFIDENCE : null,
        flags: match ? fraudFlags(open, match, now) : null,
        device_id: open.device_id ?? existing?.device_id ?? null,
        bound_at: match ? now : null,
        created_at: existing?.created_at ?? now,
      };
      if (!(await write(tx, install, Boolean(existing)))) {
        // another open committed first: one of this same install (answer as it did), or another install's for this touch
        const again = await tx.installById(open.install_id);
        if (again?.touch_id) return answerOf(tx, again);
        if (!(again && match && (await tx.bindInstall(install)))) {
          if (match && match.method !== 'hint') throw conflict();
          // a hint that lost its touch to another install binds nothing: the install stays unbound
          const unbound: Install = { ...install, touch_id: null, method: null, confidence: null, flags: null, bound_at: null };
          if (!again) await tx.insertInstall(unbound);
          return answerOf(tx, again ?? unbound);
        }
      }
      if (match) await installConversions(tx, config, open.install_id, now);
      return answerOf(tx, install, match?.touch);
    });
    this.ctx.events.emit('app_open', answer);
    return answer;
  }
}

/** a new install is inserted; an unbound one takes its binding (or its new device id) */
async function write(tx: Tx, install: Install, exists: boolean): Promise<boolean> {
  return exists ? tx.bindInstall(install) : tx.insertInstall(install);
}

/** the evidence in order of strength; the first that names a touch decides, and a bound click refuses the open */
async function findTouch(tx: Tx, config: Config, open: AppOpen, now: number): Promise<Match | null> {
  const free = async (touch: Touch) => !(await tx.installByTouch(touch.id));
  for (const [method, cid] of [['deep_link', open.cid], ['referrer', open.referrer_cid]] as const) {
    const touch = cid ? await tx.touchByCid(cid) : undefined;
    if (touch) {
      if (!(await free(touch))) throw conflict();
      return { touch, method, recorded: false };
    }
  }
  if (open.token) {
    const keys = { ...emptyKeys(), tokens: [open.token] };
    const touch = await tx.latestTouch(keys, 'click', 0, Number.MAX_SAFE_INTEGER);
    if (touch) {
      if (!(await free(touch))) throw conflict();
      return { touch, method: 'token', recorded: false };
    }
    // the app got the token itself (its own deep link carried ${SSP_DATA}): that link was the click
    const recorded = newTouch({ kind: 'click', source: 'app', token: open.token, device_id: open.device_id, occurred_at: now }, now);
    await tx.insertTouch(recorded);
    return { touch: recorded, method: 'token', recorded: true };
  }
  if (open.device_id) {
    // the advertising id from a landing URL or an impression tracker: post-click, else post-view, in the longest windows
    const keys = { ...emptyKeys(), device_ids: [open.device_id] };
    const pixels = Object.values(config.pixels);
    const clickMins = Math.max(WINDOW_DEFAULTS.post_click_expire_mins, ...pixels.map((p) => p.post_click_expire_mins));
    const viewMins = Math.max(WINDOW_DEFAULTS.post_view_expire_mins, ...pixels.map((p) => p.post_view_expire_mins));
    const touch = (await tx.latestTouch(keys, 'click', now - clickMins * MINUTE, now))
      ?? (await tx.latestTouch(keys, 'view', now - viewMins * MINUTE, now));
    // bound already: a reinstall on the same device; its conversions still attribute through the device id
    if (touch) return (await free(touch)) ? { touch, method: 'device_id', recorded: false } : null;
  }
  if (open.hint_keys.length) {
    const from = now - hintWindowMs(config.hint_window_mins);
    const candidates: Touch[] = [];
    for (const key of open.hint_keys) candidates.push(...(await tx.touchesByHint(key, from, now, 2)));
    // one candidate or none: two people behind one address, OS and language are not told apart by guessing
    if (candidates.length === 1) return { touch: candidates[0], method: 'hint', recorded: false };
  }
  return null;
}

/** click injection: a click that lands seconds before the open (or the install begin) was fired by another app */
function fraudFlags(open: AppOpen, match: Match, now: number): Record<string, unknown> | null {
  const measured: Record<string, number> = {};
  if (!match.recorded && now - match.touch.occurred_at < CLICK_INJECTION_MS) measured.click_to_open_ms = now - match.touch.occurred_at;
  if (open.referrer_click_at !== null && open.install_begin_at !== null && open.install_begin_at - open.referrer_click_at < CLICK_INJECTION_MS) {
    measured.click_to_install_begin_ms = open.install_begin_at - open.referrer_click_at;
  }
  return Object.keys(measured).length ? { possible_click_injection: measured } : null;
}

/**
 * The first open is the conversion of every `on_install` pixel. Its order id is derived from the install id, so
 * an install converts once per pixel whatever its min_minutes_per_conv says (a binding happens once anyway).
 */
async function installConversions(tx: Tx, config: Config, install_id: string, now: number): Promise<void> {
  for (const [name, pixel] of Object.entries(config.pixels)) {
    if (!pixel.on_install) continue;
    await decideConversion(tx, {
      pixel: { ...pixel, name }, source: 'app', order_id: installOrderId(install_id), value: null, other: null,
      visitor_id: null, token: null, cid: null, install_id, device_id: null, occurred_at: now,
    }, now);
  }
}

/** the answer is a function of the stored install, so asking again answers the same */
async function answerOf(tx: Tx, install: Install, touch?: Touch): Promise<AppOpenAnswer> {
  const t = install.touch_id ? (touch ?? (await tx.touchById(install.touch_id))) : undefined;
  const answer: AppOpenAnswer = {
    install_id: install.install_id,
    bound: Boolean(t),
    method: t ? install.method : null,
    touch: t ? { touch_id: t.id, cid: t.cid, kind: t.kind, occurred_at: t.occurred_at } : null,
  };
  if (t && install.confidence !== null) answer.confidence = install.confidence;
  if (t && install.flags) answer.flags = install.flags;
  return answer;
}
