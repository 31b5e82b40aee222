/** Time is injected everywhere, so attribution windows and retry schedules are testable in milliseconds. */
export interface Clock {
  /** milliseconds since the epoch */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: for tests and the bench. */
export class ManualClock implements Clock {
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;
export const HOUR = 60 * MINUTE;

// The time formats the collector writes, each defined once here; all UTC, never the server's local time.

/** ISO 8601 with milliseconds (`2026-01-31T12:00:05.123Z`): transcripts and `<time datetime>` */
export const isoMillis = (ms: number): string => new Date(ms).toISOString();

/** ISO 8601 to the second (`2026-01-31T12:00:05Z`): what the APIs and reconciliation answer */
export const isoTime = (ms: number): string => `${isoMillis(ms).slice(0, 19)}Z`;

/** for people (the CLI, the dashboard, the Report Service's query): `2026-01-31 12:00`, or `…:05` to the second */
export const utcText = (ms: number, to: 'minute' | 'second' = 'minute'): string =>
  isoMillis(ms).slice(0, to === 'minute' ? 16 : 19).replace('T', ' ');

/** the UTC day (YYYY-MM-DD) of a ms time, as the diagnostics table and the hint salt key it */
export const utcDay = (ms: number): string => isoMillis(ms).slice(0, 10);

/** the UTC midnight at or before a ms time */
export const dayStart = (ms: number): number => ms - (((ms % DAY) + DAY) % DAY);

/**
 * The one time format operators and APIs type: milliseconds since the epoch, or ISO 8601 — a date
 * (`2026-01-31`), or a date and time to the minute, second or millisecond with an optional offset
 * (`2026-01-31T12:00`, `…:00Z`, `…:00+02:00`). A time without an offset is UTC, never the server's local time.
 * Answers undefined for anything else.
 */
export function parseTime(text: string): number | undefined {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (!m) return undefined;
  const t = Date.parse(m[2] === undefined ? `${m[1]}T00:00:00Z` : `${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
  return Number.isNaN(t) ? undefined : t;
}
