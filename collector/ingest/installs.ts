// App installs: the first open of an install binds it to the touch that earned it, deterministic evidence first
// (deep-link click id → Play install-referrer click id → raw token → the referrer's token → advertising id), then,
// only when `hint_matching` is on, device hints. One click id binds one install; an install, once bound, keeps its
// binding and answers it again, and a later deep link into it records a re-engagement click tied to it. The binding
// and the install conversions of `on_install` pixels commit in one transaction.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { decode, isMacro, isToken } from '../../snippet/token.js';
import { MINUTE } from '../clock.js';
import { MAX_WINDOWS, type Config } from '../config.js';
import type { Context } from '../context.js';
import { fields, ID_PATTERN, ORDER_ID, Refusal } from '../fields.js';
import type { AttributionStore, BindMethod, IngestStore, Install, Touch, TouchKind, Tx } from '../store/store.js';
import { BIND_CONFIDENCE, bindConfidence, type ReengageMethod } from '../vocabulary.js';
import { emptyKeys } from '../store/store.js';
import { decideConversion } from './attribution.js';
import { truncateIp } from './client.js';
import { hintKeys, hintWindowMs, normalizeLanguage, osOfApp } from './hints.js';
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
  /** a test open: the install conversions are test conversions and the install is not bound (Installs.open) */
  test: fields.test.optional(),
});
export type AppOpenBody = z.infer<typeof appOpenSchema>;

/** an open's evidence, validated */
export interface AppOpen {
  install_id: string;
  platform: string;
  cid: string | null;
  /** the click id and the token the Play install referrer carried */
  referrer_cid: string | null;
  referrer_token: string | null;
  token: string | null;
  device_id: string | null;
  referrer_click_at: number | null;
  install_begin_at: number | null;
  /** the hint keys this open may match, computed before the transaction (none unless hint matching is on) */
  hint_keys: string[];
  /** a test open ("test": true) */
  test: boolean;
}

/** the request facts hint matching uses; the address is truncated at once and never kept */
export interface OpenRequest {
  ip: string | undefined;
  user_agent: string | null;
  accept_language: string | null;
}

export interface TouchAnswer {
  touch_id: string;
  cid: string;
  kind: TouchKind;
  occurred_at: number;
}

export interface AppOpenAnswer {
  install_id: string;
  bound: boolean;
  method: BindMethod | null;
  /** the install's binding */
  touch: TouchAnswer | null;
  /** how far the binding is trusted (BIND_CONFIDENCE): 1 for a click id, referrer or token, less for a device id or hint */
  confidence?: number;
  flags?: Record<string, unknown>;
  /** an open of a bound install by a deep link naming another click: the re-engagement click it recorded */
  reengagement?: TouchAnswer & { method: ReengageMethod };
  /** a test open: the binding answered was not stored */
  test?: true;
}

/** a `name=value` of a referrer at the depth being read: after its start, `? & ; #` or whitespace */
const REFERRER_PARAM = /(?:^|[?&;#\s])([\w.-]+)=([^?&;#\s]*)/g;
/** how deep a referrer may be percent-encoded (Play hands it decoded once; links get wrapped a few times) */
const REFERRER_DEPTH = 5;

/** what a Play install referrer carries: the script's click id and the token itself, under any token param */
export interface ReferrerEvidence {
  cid: string | null;
  token: string | null;
  /** a token param held an unreplaced ${SSP_DATA}: counted as the route's other macros are */
  macro: boolean;
}

/**
 * The click id (`sspx_cid`) and the token (any name in `tokenParams`, as the landing page is read) in a Play install
 * referrer, in any form the store hands it over: `sspx_cid=X` or `sspdata=T`, URL-encoded (`sspdata%3DT`), among
 * other parameters, inside a whole `…&referrer=…` URL, or encoded twice or more. `+` is a token byte, never a space.
 * The first of each found, shallowest first, wins.
 */
export function readReferrer(referrer: string, tokenParams: readonly string[]): ReferrerEvidence {
  const found: ReferrerEvidence = { cid: null, token: null, macro: false };
  let text = referrer.trim();
  for (let depth = 0; depth < REFERRER_DEPTH && !(found.cid && found.token); depth++) {
    for (const [, name, raw] of text.matchAll(REFERRER_PARAM)) {
      if (name === 'sspx_cid') {
        if (ID_PATTERN.test(raw)) found.cid ??= raw;
      } else if (tokenParams.includes(name)) {
        const value = decode(raw);
        if (isToken(value)) found.token ??= value;
        else if (isMacro(value)) found.macro = true;
      }
    }
    const next = decode(text);
    if (next === text) break;
    text = next;
  }
  return found;
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
    const referrer = body.referrer ? readReferrer(body.referrer, config.token_params) : null;
    if (referrer?.macro) await this.macros.count('app');
    return {
      install_id: body.install_id,
      platform: body.platform.toLowerCase(),
      cid: body.cid ?? null,
      referrer_cid: referrer?.cid ?? null,
      referrer_token: referrer?.token ?? null,
      token: body.token ?? null,
      device_id: body.device_id ?? null,
      referrer_click_at,
      install_begin_at,
      hint_keys,
      test: body.test ?? false,
    };
  }

  /** binds (or records) the install and, on binding, decides the install conversions: one transaction */
  async open(open: AppOpen): Promise<AppOpenAnswer> {
    const { store, clock, config } = this.ctx;
    const answer = await store.transaction(async (tx) => {
      const now = clock.now();
      const existing = await tx.installById(open.install_id);
      if (existing?.touch_id) return reopened(tx, existing, open, now);
      if (open.referrer_click_at !== null && open.install_begin_at !== null && open.referrer_click_at > open.install_begin_at) {
        throw new Refusal('click_after_install_begin', 'referrer_click_ts is after install_begin_ts: a click cannot follow the install it earned (click injection); nothing was bound');
      }

      const match = await findTouch(tx, config, open, now);
      const install: Install = {
        install_id: open.install_id,
        platform: open.platform,
        touch_id: match?.touch.id ?? null,
        method: match?.method ?? null,
        confidence: match ? BIND_CONFIDENCE[match.method] : null,
        flags: match ? fraudFlags(open, match, now) : null,
        device_id: open.device_id ?? existing?.device_id ?? null,
        bound_at: match ? now : null,
        created_at: existing?.created_at ?? now,
      };
      if (open.test) {
        // a test open binds nothing, so the install's real first open later binds and converts as if it never
        // happened: it answers the binding it would make and records its install pixels' test fires
        if (match) await installConversions(tx, config, open.install_id, now, match.touch);
        return { ...(await answerOf(tx, install, match?.touch)), test: true as const };
      }
      if (!(await write(tx, install, Boolean(existing)))) {
        // another open committed first: one of this same install (answer as it did), or another install's for this touch
        const again = await tx.installById(open.install_id);
        if (again?.touch_id) return reopened(tx, again, open, now);
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

/**
 * An open of an install that is bound already: the binding and its install conversions stay as they are, and a deep
 * link's `cid` or `token` that names another click than the binding's is a re-engagement click, recorded as a touch
 * tied to the install (`source: app`) that its later conversions may be credited to. The referrer is the install's
 * own evidence and never re-engages. Answers as before, plus the re-engagement touch (the same on a retry).
 */
async function reopened(tx: Tx, install: Install, open: AppOpen, now: number): Promise<AppOpenAnswer> {
  const answer = await answerOf(tx, install);
  const clicked = await reengagementOf(tx, install, open, now);
  if (!clicked) return answer;
  let touch = await tx.installTouchByToken(install.install_id, clicked.token);
  if (!touch) {
    touch = newTouch({ ...clicked, kind: 'click', source: 'app', device_id: install.device_id ?? open.device_id, install_id: install.install_id }, now);
    // a concurrent open of the same install and token recorded it first: answer that one
    if (!(await tx.insertInstallTouch(touch))) touch = (await tx.installTouchByToken(install.install_id, clicked.token))!;
  }
  return { ...answer, reengagement: { method: clicked.method, ...touchAnswer(touch) } };
}

/**
 * The click a reopening names: the touch of its deep link's cid (at that click's time), else its token (at the time
 * of that token's recorded click, or now: the app's own deep link was the click). Nothing when it names the
 * binding's click; a click bound to another install refuses the open, as for a binding.
 */
async function reengagementOf(tx: Tx, install: Install, open: AppOpen, now: number) {
  const bound = (await tx.touchById(install.touch_id!))!;
  const byCid = open.cid ? await tx.touchByCid(open.cid) : undefined;
  const token = byCid?.token ?? open.token;
  if (!token || token === bound.token) return undefined;
  const click = byCid ?? (await tx.latestTouch({ ...emptyKeys(), tokens: [token] }, 'click', 0, now));
  const owner = click && (await tx.installByTouch(click.id));
  if (owner && owner.install_id !== install.install_id) throw conflict();
  return { token, occurred_at: click?.occurred_at ?? now, method: (byCid ? 'deep_link' : 'token') as ReengageMethod };
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
  for (const [method, token] of [['token', open.token], ['referrer', open.referrer_token]] as const) {
    if (!token) continue;
    const keys = { ...emptyKeys(), tokens: [token] };
    const touch = await tx.latestTouch(keys, 'click', 0, Number.MAX_SAFE_INTEGER);
    if (touch) {
      if (!(await free(touch))) throw conflict();
      return { touch, method, recorded: false };
    }
    // the app got the token itself (its own deep link carried ${SSP_DATA}, or the ad linked straight to Play with
    // it in the referrer): that link was the click
    const recorded = newTouch({ kind: 'click', source: 'app', token, device_id: open.device_id, occurred_at: now }, now);
    await tx.insertTouch(recorded);
    return { touch: recorded, method, recorded: true };
  }
  if (open.device_id) {
    // the advertising id from a landing URL or an impression tracker: post-click, else post-view, in the longest
    // windows Microsoft allows (each pixel's own windows decide the install's conversions)
    const keys = { ...emptyKeys(), device_ids: [open.device_id] };
    const touch = (await tx.latestTouch(keys, 'click', now - MAX_WINDOWS.post_click_expire_mins * MINUTE, now))
      ?? (await tx.latestTouch(keys, 'view', now - MAX_WINDOWS.post_view_expire_mins * MINUTE, now));
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
 * The first open is the conversion of every `on_install` pixel that takes conversions from apps (its `sources`, as
 * for every other conversion: a pixel limited to the server is never fired by an app key). Its order id is derived
 * from the install id, so an install converts once per pixel; the pixel's min_minutes_per_conv applies per visitor as
 * to any conversion. A test open's (`testTouch`, the touch it would bind) are test conversions, credited through that
 * touch's click id as the unstored binding cannot be.
 */
async function installConversions(tx: Tx, config: Config, install_id: string, now: number, testTouch?: Touch): Promise<void> {
  for (const [name, pixel] of Object.entries(config.pixels)) {
    if (!pixel.on_install || !pixel.sources.includes('app')) continue;
    await decideConversion(tx, {
      pixel: { ...pixel, name }, source: 'app', order_id: installOrderId(install_id), value: null, other: null,
      visitor_id: null, token: null, cid: testTouch?.cid ?? null, install_id, device_id: null, occurred_at: now, test: Boolean(testTouch),
    }, now);
  }
}

const touchAnswer = (t: Touch): TouchAnswer => ({ touch_id: t.id, cid: t.cid, kind: t.kind, occurred_at: t.occurred_at });

/** the answer is a function of the stored install, so asking again answers the same */
async function answerOf(tx: Tx, install: Install, touch?: Touch): Promise<AppOpenAnswer> {
  const t = install.touch_id ? (touch ?? (await tx.touchById(install.touch_id))) : undefined;
  const answer: AppOpenAnswer = {
    install_id: install.install_id,
    bound: Boolean(t),
    method: t ? install.method : null,
    touch: t ? touchAnswer(t) : null,
  };
  if (t && install.method) answer.confidence = bindConfidence(install.method, install.confidence);
  if (t && install.flags) answer.flags = install.flags;
  return answer;
}
