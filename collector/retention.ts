// Retention: what the store keeps, enforced daily by the running collector and on demand by `sspx-relay purge`.
//  - conversions, fires and their attempts created more than retention_days ago go, except a queued or in-flight
//    fire and its conversion (and the touch that conversion names), whatever their age;
//  - touches go once older than retention_days AND past every configured pixel's window for their kind;
//  - attempts' transcripts (hops) older than transcript_retention_days are cleared, the attempt row stays;
//  - install hint keys older than a day are forgotten.
// What is deleted is first rolled up into per-day counts (same transaction), so the dashboard's charts over old
// periods keep their numbers. Deleting runs in small batches, so a long purge never holds the store for long.
// Note: a deleted conversion's dedup key goes with it, so an order id repeated after retention_days fires again.
import { DAY, MINUTE, type Clock } from './clock.js';
import type { Config } from './config.js';
import { clearExpiredHints } from './ingest/hints.js';
import type { Logger } from 'pino';
import { PURGE_STEPS, noPurgeCounts, type PurgeCounts, type PurgeCutoffs, type PurgeStep, type RetentionStore } from './store/store.js';

export const DEFAULT_BATCH = 500;

/**
 * the longest window any pixel gives a click and a view touch (0 when no pixel attributes that kind); a click is an
 * impression too, so a view or hybrid pixel keeps clicks for its view window
 */
export function touchWindows(config: Config): { click_ms: number; view_ms: number } {
  let click = 0;
  let view = 0;
  for (const p of Object.values(config.pixels)) {
    if (p.trigger_type !== 'view') click = Math.max(click, p.post_click_expire_mins);
    if (p.trigger_type !== 'click') {
      view = Math.max(view, p.post_view_expire_mins);
      click = Math.max(click, p.post_view_expire_mins);
    }
  }
  return { click_ms: click * MINUTE, view_ms: view * MINUTE };
}

export function purgeCutoffs(config: Config, now: number): PurgeCutoffs {
  const records = now - config.retention_days * DAY;
  const { click_ms, view_ms } = touchWindows(config);
  return {
    records_before: records,
    clicks_before: Math.min(records, now - click_ms),
    views_before: Math.min(records, now - view_ms),
    transcripts_before: now - config.transcript_retention_days * DAY,
  };
}

export interface PurgeProgress {
  step: PurgeStep;
  /** rows of this step done so far, and how many the run expects (counted at its start) */
  done: number;
  total: number;
  /** all steps together */
  all_done: number;
  all_total: number;
}

export interface PurgeOptions {
  dryRun?: boolean;
  batchSize?: number;
  onProgress?: (p: PurgeProgress) => void;
  /** checked between batches: a stopping collector ends the run early (the next run carries on) */
  signal?: AbortSignal;
}

export interface PurgeResult {
  dry_run: boolean;
  now: number;
  cutoffs: PurgeCutoffs;
  /** what was removed, or for a dry run what would be */
  counts: PurgeCounts;
  /** touches whose install hint key was forgotten (0 in a dry run) */
  hints: number;
  duration_ms: number;
  /** the run stopped early on the signal */
  aborted: boolean;
}

const stepCount = (c: PurgeCounts, step: PurgeStep) => c[step];

export async function purge(deps: { config: Config; store: RetentionStore; clock: Clock }, opts: PurgeOptions = {}): Promise<PurgeResult> {
  const started = Date.now();
  const now = deps.clock.now();
  const cutoffs = purgeCutoffs(deps.config, now);
  const planned = await deps.store.purgeCounts(cutoffs);
  const result = (counts: PurgeCounts, hints: number, aborted: boolean): PurgeResult =>
    ({ dry_run: !!opts.dryRun, now, cutoffs, counts, hints, duration_ms: Date.now() - started, aborted });
  if (opts.dryRun) return result(planned, 0, false);

  const batch = Math.max(1, Math.floor(opts.batchSize ?? DEFAULT_BATCH));
  const done = noPurgeCounts();
  const allTotal = PURGE_STEPS.reduce((s, step) => s + stepCount(planned, step), 0);
  let allDone = 0;
  for (const step of PURGE_STEPS) {
    for (;;) {
      if (opts.signal?.aborted) return result(done, 0, true);
      const got = await deps.store.purgeBatch(step, cutoffs, batch);
      for (const k of Object.keys(done) as (keyof PurgeCounts)[]) done[k] += got[k];
      allDone += stepCount(got, step);
      opts.onProgress?.({ step, done: stepCount(done, step), total: Math.max(stepCount(planned, step), stepCount(done, step)), all_done: allDone, all_total: Math.max(allTotal, allDone) });
      if (stepCount(got, step) < batch) break;
      // let requests and the dispatcher in between batches
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const hints = typeof deps.store.clearHints === 'function' ? await clearExpiredHints(deps.store, now) : 0;
  return result(done, hints, false);
}

export interface RetentionTimer {
  /** resolves once a run in progress has stopped */
  stop(): Promise<void>;
}

/**
 * The daily purge of a running collector: first shortly after start, then every day. The timer is unref'd, so it
 * never keeps a process alive; every process sharing a store may run it (batches skip rows another one holds).
 */
export function startRetention(
  deps: { config: Config; store: RetentionStore; clock: Clock; log: Logger },
  opts: { firstRunMs?: number; everyMs?: number } = {},
): RetentionTimer {
  const every = opts.everyMs ?? DAY;
  const abort = new AbortController();
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    if (abort.signal.aborted) return;
    timer = setTimeout(run, ms);
    timer.unref();
  };
  const run = () => {
    running = purge(deps, { signal: abort.signal })
      .then((r) => deps.log.info({ msg: 'retention purge', ...r.counts, hints: r.hints, ms: r.duration_ms, aborted: r.aborted }))
      .catch((err: unknown) => deps.log.error({ msg: 'retention purge failed; the next run retries', err }))
      .finally(() => {
        running = undefined;
        schedule(every);
      });
  };
  schedule(opts.firstRunMs ?? 5 * MINUTE);
  return {
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}
