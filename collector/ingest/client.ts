// What a request tells us about its client, reduced to what we may keep.
import { isIP } from 'node:net';
import { isbot } from 'isbot';
import { z } from 'zod';
import { MAX_TOUCH_TEXT } from '../store/touch-texts.js';
import { CLICK_ID_PARAMS, DEVICE_ID_PARAMS, PER_CLICK_PARAMS } from '../vocabulary.js';

/** an IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 client) as the IPv4 address it is */
const unmapped = (ip: string) => (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip);

/** /24 for IPv4, /48 for IPv6: enough for hint matching and abuse control, not enough to single out a person */
export function truncateIp(ip: string | undefined): string | null {
  if (!ip) return null;
  const v4 = unmapped(ip);
  if (isIP(v4) === 4) return v4.split('.').slice(0, 3).join('.') + '.0/24';
  if (isIP(ip) === 6) {
    const full = expandIpv6(ip);
    return full.slice(0, 3).join(':') + '::/48';
  }
  return null;
}

/**
 * One client, for the rate limit: an IPv4 address, or an IPv6 /64 — a subscriber gets at least a /64 and may use any
 * address in it (privacy addresses change by the hour), so counting per /128 would let one client pick a new budget
 * for every request.
 */
export function clientNetwork(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const v4 = unmapped(ip);
  if (isIP(v4) === 4) return v4;
  if (isIP(ip) === 6) return expandIpv6(ip).slice(0, 4).join(':') + '::/64';
  return ip;
}

function expandIpv6(ip: string): string[] {
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}

/** the visitor asked not to be tracked (Global Privacy Control) and the operator honours it: /t, /i and /c drop */
export const gpcOptOut = (headers: Record<string, string | string[] | undefined>, honorGpc: boolean): boolean => honorGpc && headers['sec-gpc'] === '1';

/** the User-Agents isBotAgent has read, and whether each is a bot: a landing-page burst repeats a few browsers' */
const botVerdicts = new Map<string, boolean>();
/** at most this many User-Agents remembered (then forgotten all at once), each at most this long: a few hundred KB */
const BOT_VERDICTS = 1000;
const REMEMBERED_AGENT = 512;

/** a bot by its User-Agent: a maintained list (isbot, as Umami uses) rather than our own pattern, which took the Cubot
 * phone and the Pinterest in-app browser for bots. isbot's one large pattern costs more than anything else a touch
 * reads, so each User-Agent's verdict is remembered */
export function isBotAgent(ua: string): boolean {
  const known = botVerdicts.get(ua);
  if (known !== undefined) return known;
  const bot = isbot(ua);
  if (ua.length <= REMEMBERED_AGENT) {
    if (botVerdicts.size >= BOT_VERDICTS) botVerdicts.clear();
    botVerdicts.set(ua, bot);
  }
  return bot;
}

/** a named reason to drop a browser request before it is stored, or null */
export function dropReason(headers: Record<string, string | string[] | undefined>, honorGpc: boolean): string | null {
  const purpose = String(headers['sec-purpose'] ?? headers['purpose'] ?? headers['x-purpose'] ?? headers['x-moz'] ?? '');
  if (/prefetch|prerender|preview/i.test(purpose)) return 'prefetch';
  const ua = String(headers['user-agent'] ?? '');
  if (!ua) return 'no_user_agent';
  if (isBotAgent(ua)) return 'bot';
  if (gpcOptOut(headers, honorGpc)) return 'gpc';
  return null;
}

export { CLICK_ID_PARAMS, DEVICE_ID_PARAMS };

/** the landing-URL parameters a touch keeps: campaign tags (utm_*), and the click's own (PER_CLICK_PARAMS: click ids and
 * device-id names); anything else (an e-mail address, a session, a search) is the page's business, not attribution's */
const keptParam = (name: string): boolean => name.startsWith('utm_') || PER_CLICK_PARAMS.has(name);

/** a landing URL as a touch stores it: origin and path (the page the ad pointed at), then only the allow-listed
 * query parameters, each byte for byte, the campaign's before the click's own (so the store keeps the part a
 * campaign's touches share once: ../store/touch-texts.ts); no fragment, no credentials. SECURITY.md lists every
 * stored field. */
export function landingUrl(raw: unknown): string | null {
  const u = parsedUrl(raw);
  if (!u) return null;
  const pieces = u.search.slice(1).split('&').filter((piece) => piece && keptParam(piece.split('=', 1)[0]));
  const own = (piece: string) => PER_CLICK_PARAMS.has(piece.split('=', 1)[0]);
  const kept = [...pieces.filter((p) => !own(p)), ...pieces.filter(own)];
  return u.origin + u.pathname + (kept.length ? '?' + kept.join('&') : '');
}

/** a referrer as a touch stores it: its origin alone (where the visitor came from, not which page) */
export function referrerOrigin(raw: unknown): string | null {
  const origin = parsedUrl(raw)?.origin;
  return origin && origin !== 'null' ? origin : null;
}

/** a URL or referrer as we keep it: http(s) only, at most MAX_TOUCH_TEXT (2,048) characters as it is serialised */
export function cleanUrl(raw: unknown): string | null {
  return parsedUrl(raw)?.href ?? null;
}

/** cleanUrl's URL, parsed once for whoever reads its parts (each part, such as the origin, is no longer). The limit
 * holds of the serialised URL, not only of the raw text: percent-encoding makes each non-ASCII character up to 9
 * (2,000 CJK characters of path are 18 KB), past what touch_texts can index (../store/touch-texts.ts) */
function parsedUrl(raw: unknown): URL | null {
  if (typeof raw !== 'string' || !raw || raw.length > MAX_TOUCH_TEXT) return null;
  try {
    const u = new URL(raw);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.href.length <= MAX_TOUCH_TEXT ? u : null;
  } catch {
    return null;
  }
}

/**
 * free text we store: capped, and without control characters, C1 included (no NUL for PostgreSQL, no CR/LF or NEL
 * anywhere), nor unpaired surrogates (not UTF-8: PostgreSQL refuses them in JSONB, and they are never real text)
 */
export const plainText = (max: number) =>
  z.string().max(max).regex(/^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]*$/u, 'must not contain control characters or unpaired surrogates');

/**
 * a header's text as we keep it (the user agent): Node decodes obs-text bytes as latin1, so a header can carry C1
 * controls such as U+009B (an 8-bit terminal escape) or U+0085 (a line break to some readers); they are dropped
 */
export function headerText(raw: unknown, max: number): string | null {
  return String(raw ?? '').replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, max) || null;
}
