// Device-hint keys for install matching (off unless `hint_matching`): a salted SHA-256 of the address prefix
// (/24 or /48), the OS and its major version, and the language — nothing else (no screen, fonts or carrier),
// and never the raw address. The salt changes every UTC day: HMAC of the day under a per-store secret, so it
// is the same in every collector process yet cannot be guessed, and a key cannot be recomputed without the store.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { DAY, MINUTE, utcDay } from '../clock.js';
import type { IngestStore, RetentionStore, Touch } from '../store/store.js';

/** what hint keys need of the store: its secret */
type Secrets = Pick<IngestStore, 'secret'>;

/** hint keys live one day at most: the longest hint window */
export const HINT_TTL_MS = DAY;

export interface DeviceHints {
  ip_prefix: string | null;
  /** `ios 17`, `android 14`: family and major version */
  os: string | null;
  /** `en-us`: language and region, lower-cased */
  language: string | null;
}

const secrets = new WeakMap<Secrets, Promise<string>>();

/** the store's hint secret, read once per process */
function hintSecret(store: Secrets): Promise<string> {
  let secret = secrets.get(store);
  if (!secret) {
    secret = store.secret('hint_salt', randomBytes(32).toString('base64url'));
    secret.catch(() => secrets.delete(store));
    secrets.set(store, secret);
  }
  return secret;
}

/** the key for these hints on the UTC day of `at`, or null when a hint is missing (no key beats a vague one) */
export async function hintKey(store: Secrets, hints: DeviceHints, at: number): Promise<string | null> {
  if (!hints.ip_prefix || !hints.os || !hints.language) return null;
  const salt = createHmac('sha256', await hintSecret(store)).update(`sspx-hint:${utcDay(at)}`).digest();
  return createHash('sha256').update(salt).update(`\n${hints.ip_prefix}\n${hints.os}\n${hints.language}`).digest('base64url');
}

/** every key the hints may have had over [from, to]: one per UTC day (a window of at most a day spans two) */
export async function hintKeys(store: Secrets, hints: DeviceHints, from: number, to: number): Promise<string[]> {
  const keys: string[] = [];
  for (let at = to; ; at -= DAY) {
    const key = await hintKey(store, hints, Math.max(at, from));
    if (key && !keys.includes(key)) keys.push(key);
    if (at <= from || !key) break;
  }
  return keys;
}

const FAMILIES: [RegExp, string][] = [
  [/^(ios|ipados|iphone|ipad)/i, 'ios'],
  [/^android/i, 'android'],
];

/** `ios`, `android` or the platform as given, lower-cased */
export function osFamily(platform: string | null | undefined): string | null {
  if (!platform) return null;
  for (const [re, family] of FAMILIES) if (re.test(platform)) return family;
  return platform.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 16) || null;
}

/** the OS family and major version a User-Agent states; null where it is frozen or absent */
export function osFromUserAgent(ua: string | null | undefined): string | null {
  if (!ua) return null;
  // Chrome's reduced User-Agent says `Android 10; K` on every Android version: it tells nothing.
  if (/Android 10; K\)/.test(ua)) return null;
  const android = /\bAndroid (\d{1,3})\b/.exec(ua);
  if (android) return `android ${Number(android[1])}`;
  const ios = /\b(?:iPhone|CPU|iPad|iPod)(?: iPhone)? OS (\d{1,3})[_.\d]*/.exec(ua) ?? /\biOS[ /](\d{1,3})\b/.exec(ua);
  if (ios) return `ios ${Number(ios[1])}`;
  return null;
}

/** an app's own report: its platform and OS version (`17.1.2`, `14`) */
export function osOfApp(platform: string, os_version: string | null | undefined, ua: string | null | undefined): string | null {
  const family = osFamily(platform);
  const major = os_version ? /^\D*(\d{1,3})/.exec(os_version)?.[1] : undefined;
  if (family && major) return `${family} ${Number(major)}`;
  const fromUa = osFromUserAgent(ua);
  return fromUa && (!family || fromUa.startsWith(family + ' ')) ? fromUa : null;
}

/** `en-US`, `en_us`, `en-US,en;q=0.9` → `en-us`; scripts and variants after the region are dropped */
export function normalizeLanguage(raw: unknown): string | null {
  if (typeof raw !== 'string') return null;
  const tag = raw.split(/[,;]/)[0].trim().replace(/_/g, '-').toLowerCase();
  if (!/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(tag)) return null;
  return tag.split('-').slice(0, 2).join('-');
}

/** the hint key of a touch: clicks the script recorded, whose User-Agent, address and language are all known */
export async function touchHintKey(store: Secrets, touch: Touch): Promise<string | null> {
  if (touch.kind !== 'click' || !touch.hints) return null;
  const os = osFromUserAgent(touch.user_agent);
  const pf = osFamily(typeof touch.hints.pf === 'string' ? touch.hints.pf : null);
  // the script's platform hint, where the browser gives one, must agree with the User-Agent
  if (os && pf && !os.startsWith(pf + ' ')) return null;
  return hintKey(store, { ip_prefix: touch.ip_prefix, os, language: normalizeLanguage(touch.hints.l) }, touch.occurred_at);
}

/** for the retention job: hint keys older than a day are forgotten; answers how many touches lost theirs */
export function clearExpiredHints(store: Pick<RetentionStore, 'clearHints'>, now: number): Promise<number> {
  return store.clearHints(now - HINT_TTL_MS);
}

export const hintWindowMs = (mins: number): number => Math.min(mins * MINUTE, HINT_TTL_MS);
