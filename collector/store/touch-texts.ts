// What a request says about its client and page — the site, the source, the address prefix, the user agent, the
// landing URL, the referrer and the hints — takes few distinct values across many touches (one landing page per line
// item, a few browsers, a few sites), yet was half of a touch's disk (issue 16: ~270 of ~600 B). A touch keeps each by reference
// into touch_texts, one row per distinct text; the view `touches` reads them back, so every reader sees the same
// columns as before (schema.ts, migration 13).
//
// Retention: a text is kept while a touch names it. Its last_used is past the occurred_at of every touch that names
// it (the end of that UTC day, raised when a later touch names it), so once the touch purge is done, a text whose
// last_used is before the touch cutoff is named, if at all, only by the older touches the purge kept
// (retention-rules.ts, sweepTexts).
import { DAY, dayStart } from '../clock.js';
import type { Touch } from './store.js';
import { PER_CLICK_PARAMS } from '../vocabulary.js';

/** the touch's columns kept by reference, each in the base table as `<column>_ref` */
export const TOUCH_TEXT_COLUMNS = ['site', 'source', 'ip_prefix', 'user_agent', 'url', 'referrer', 'hints'] as const satisfies (keyof Touch)[];
export type TextColumn = (typeof TOUCH_TEXT_COLUMNS)[number];
export const textRef = (column: TextColumn) => `${column}_ref`;
/** the ids of a touch's texts (null where it has none) */
export type TextRefs = Record<TextColumn, number | null>;

/** The longest text kept, in UTF-8 bytes: PostgreSQL's unique index on touch_texts.text refuses an entry past 2,704
 * bytes, and a refused text would fail every touch of its commit. A URL or referrer (../ingest/client.ts) is ASCII
 * once serialised and kept to this many characters; a user agent is at most 512 characters */
export const MAX_TOUCH_TEXT = 2048;

/** the base table's name; `touches` is the view that reads it with its texts */
export const TOUCH_TABLE = 'touch_rows';

/**
 * A landing URL in two: the part a campaign's touches share (origin, path, utm_* tags), kept once in touch_texts, and
 * the click's own from its first click-id or advertising-id parameter (../ingest/client.ts's landingUrl puts them
 * last) to the end, unique to the click (an msclkid on every Microsoft Ads click), kept in the touch's row
 * (url_params); null when there is none. The two joined give the URL back, byte for byte, whatever its order.
 */
export function splitUrl(url: string): [shared: string, own: string | null] {
  for (let at = url.indexOf('?'); at >= 0; at = url.indexOf('&', at + 1)) {
    const end = url.indexOf('=', at + 1);
    const next = url.indexOf('&', at + 1);
    const name = url.slice(at + 1, end < 0 || (next >= 0 && next < end) ? (next < 0 ? undefined : next) : end);
    if (PER_CLICK_PARAMS.has(name)) return [url.slice(0, at), url.slice(at)];
  }
  return [url, null];
}

/** a touch's stored texts, by column (hints as JSON; of the landing URL, the part its campaign shares; null where it
 * has none), and its landing URL's own part (url_params): worked out once per touch, for its needs, refs and row */
export interface TouchTexts {
  texts: Record<TextColumn, string | null>;
  urlParams: string | null;
}

export function touchTexts(t: Touch): TouchTexts {
  const [url, urlParams] = t.url == null ? [null, null] : splitUrl(t.url);
  return {
    texts: { site: t.site, source: t.source, ip_prefix: t.ip_prefix, user_agent: t.user_agent, url, referrer: t.referrer, hints: t.hints == null ? null : JSON.stringify(t.hints) },
    urlParams,
  };
}

/** the last_used a touch needs of each text it names: the end of the UTC day it occurred or was recorded in,
 * whichever is later (so a text a process remembers for today's touches is never one a purge may sweep) */
export const usedUntil = (t: Pick<Touch, 'occurred_at' | 'created_at'>): number => dayStart(Math.max(t.occurred_at, t.created_at)) + DAY;

/** a text to look up or add: its last_used at least `used` */
export interface TextNeed {
  text: string;
  used: number;
}

/**
 * Each process remembers the texts it has used (id and last_used), so a touch whose texts are known costs no
 * statement: only a new text, or one last marked used before this touch's day, goes to the store. Bounded: past
 * MAX_CACHED texts it starts over.
 */
export class TextCache {
  static readonly MAX_CACHED = 20_000;
  private readonly known = new Map<string, { id: number; used: number }>();

  /** the id of a text known to be kept at least until `used`, or undefined */
  id(text: string, used: number): number | undefined {
    const k = this.known.get(text);
    return k && k.used >= used ? k.id : undefined;
  }

  remember(text: string, id: number, used: number): void {
    if (this.known.size >= TextCache.MAX_CACHED) this.known.clear();
    this.known.set(text, { id, used });
  }

  /** after a sweep removed texts: what this process remembers may be gone */
  forget(): void {
    this.known.clear();
  }

  /**
   * the texts of these touches that the store must add or mark used, each once with the latest `used`; the ids of
   * the others, remembered, go into `ids` now — the cache may start over or be forgotten (a sweep) while the store
   * adds the needs (PostgreSQL awaits it), and what it was relied on for must not be looked up again
   */
  needs(touches: Touch[], texts: TouchTexts[], ids: Map<string, number>): TextNeed[] {
    const needs = new Map<string, number>();
    for (const [i, t] of touches.entries()) {
      const used = usedUntil(t);
      for (const column of TOUCH_TEXT_COLUMNS) {
        const text = texts[i].texts[column];
        if (text == null) continue;
        const id = this.id(text, used);
        // a text both remembered (for one touch) and needed (for a later one) takes the id the store gives its need
        if (id === undefined) needs.set(text, Math.max(used, needs.get(text) ?? 0));
        else if (!ids.has(text)) ids.set(text, id);
      }
    }
    // sorted, so concurrent upserts (PostgreSQL) take their row locks in one order
    return [...needs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([text, used]) => ({ text, used }));
  }

  /** the ids of a touch's texts, by column: `ids` as needs() filled it, with the ids the store gave its needs.
   * A literal of one shape (not built key by key): a touch's insert parameters are made thousands of times a second */
  refs({ texts: x }: TouchTexts, ids: ReadonlyMap<string, number>): TextRefs {
    const ref = (text: string | null) => {
      if (text == null) return null;
      const id = ids.get(text);
      if (id === undefined) throw new Error('a touch text was not added before its touch');
      return id;
    };
    return {
      site: ref(x.site), source: ref(x.source), ip_prefix: ref(x.ip_prefix), user_agent: ref(x.user_agent), url: ref(x.url),
      referrer: ref(x.referrer), hints: ref(x.hints),
    };
  }
}
