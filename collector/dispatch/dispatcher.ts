// The dispatcher: claims due fires with a lease, fires them (at most max_in_flight at once), records every attempt
// and schedules the next one. A committed conversion wakes it at once; otherwise it sleeps until the next fire is due
// or poll_interval_ms, whichever is sooner (other processes queue fires too). Each attempt commits a sending mark
// before its request leaves (markSending), so a crash leaves leased rows that the store tells apart when it takes them
// back (at start on SQLite, at lease expiry on PostgreSQL): unsent ones are fired again at once (`lease_expired`),
// ones that may have reached the router follow on_ambiguous (`ambiguous`). Never silently lost, never silently doubled.
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import type { CollectorEvents } from '../events.js';
import { HELD_NOTE } from '../store/queue-sql.js';
import type { Fire, FireState, NewAttempt, Outbox } from '../store/store.js';
import { fireUrl } from './fire-url.js';
import { dryRunFire, FireAgents, httpFire, type FireResult } from './http-fire.js';

export interface NextStep {
  state: FireState;
  next_attempt_at: number | null;
  last_error: string | null;
}

/** What happened to one attempt, as the dispatcher reports it on the collector's event channel (ctx.events). */
export interface AttemptEvent {
  fire: Fire;
  /** the attempt number (1 for the first) */
  n: number;
  attempt: NewAttempt;
  next: NextStep;
  /** false when the lease was lost meanwhile (another process took the fire over); the attempt row exists anyway */
  recorded: boolean;
}

export interface DispatcherOptions {
  /** unique per process by default: hostname:pid:random */
  owner?: string;
  /** fires per claim query; default max_in_flight */
  batch?: number;
  /** injected pools, e.g. with a test CA; by default the dispatcher makes (and on stop destroys) its own */
  agents?: FireAgents;
  /** for the jitter; tests pass a constant */
  random?: () => number;
}

export interface DispatcherStats {
  claimed: number;
  attempts: number;
  fired: number;
  retry: number;
  failed: number;
  ambiguous: number;
  lost_leases: number;
  released: number;
  errors: number;
}

/**
 * The state a fire moves to after an attempt. `attempt_count` is the fire's count before this attempt, so the
 * attempt just made is number attempt_count + 1 and the next one waits retry_schedule_seconds[attempt_count + 1]:
 * the schedule lists the delay before each attempt, and its length is the most attempts a fire gets.
 */
/** an attempt's result once `aborted` is settled: what the schedule acts on */
type Decided = Omit<FireResult, 'outcome'> & { outcome: Exclude<FireResult['outcome'], 'aborted'> };

export function nextStep(result: Pick<Decided, 'outcome' | 'error' | 'error_class' | 'retry_after_ms'>, attempt_count: number, config: Config, now: number, random: () => number = Math.random): NextStep {
  const error = result.error ?? result.error_class;
  if (result.outcome === 'fired') return { state: 'fired', next_attempt_at: null, last_error: null };
  if (result.outcome === 'failed') return { state: 'failed', next_attempt_at: null, last_error: error };
  if (result.outcome === 'ambiguous' && config.on_ambiguous === 'hold') {
    return { state: 'held', next_attempt_at: null, last_error: `${error} (${HELD_NOTE})` };
  }
  const made = attempt_count + 1;
  const delay = config.retry_schedule_seconds[made];
  if (delay === undefined) return { state: 'failed', next_attempt_at: null, last_error: `${error} (gave up after ${made} attempts: the retry schedule is exhausted)` };
  const jittered = delay * 1000 * (1 + config.retry_jitter * (2 * random() - 1));
  const wait = Math.max(jittered, result.retry_after_ms ?? 0);
  return { state: 'queued', next_attempt_at: now + Math.round(wait), last_error: error };
}

export function ownerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export class Dispatcher {
  readonly owner: string;
  /** this dispatcher's counts, read from the event channel like every other observer (errors: its own failures) */
  readonly stats: DispatcherStats = { claimed: 0, attempts: 0, fired: 0, retry: 0, failed: 0, ambiguous: 0, lost_leases: 0, released: 0, errors: 0 };
  private readonly agents: FireAgents;
  private readonly ownsAgents: boolean;
  private readonly random: () => number;
  private readonly batch: number;
  /** each fire in flight: its attempt, settled once recorded (or given up on) */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** cuts short every attempt still running when stop()'s grace ran out: one signal for all of them */
  private readonly cutShort = new AbortController();
  private running = false;
  private loop?: Promise<void>;
  private stopping?: Promise<void>;
  private unsubscribe?: () => void;
  private woken = false;
  private wakeSleeper?: () => void;
  private waitingForSlot = false;

  constructor(private readonly ctx: Context<Outbox>, opts: DispatcherOptions = {}) {
    this.owner = opts.owner ?? ownerId();
    this.ownsAgents = !opts.agents;
    this.agents = opts.agents ?? new FireAgents(ctx.config.max_in_flight);
    this.random = opts.random ?? Math.random;
    this.batch = Math.max(1, opts.batch ?? ctx.config.max_in_flight);
    // every attempt in flight listens to it (up to max_in_flight): not a leak
    setMaxListeners(0, this.cutShort.signal);
    this.on('attempt', ({ attempt, recorded }) => {
      this.stats.attempts++;
      this.stats[attempt.outcome as 'fired' | 'retry' | 'failed' | 'ambiguous']++;
      if (!recorded) this.stats.lost_leases++;
    });
    this.on('claimed', (count) => (this.stats.claimed += count));
    this.on('released', (count) => (this.stats.released += count));
  }

  /** this dispatcher's events on the collector's channel (ctx.events carries every dispatcher's); answers the unsubscribe */
  on(event: 'attempt', listener: (e: AttemptEvent) => void): () => void;
  on(event: 'claimed' | 'released', listener: (count: number) => void): () => void;
  on(event: 'attempt' | 'claimed' | 'released', listener: (e: never) => void): () => void {
    const mine = (e: CollectorEvents['attempt'] | CollectorEvents['claimed']) => e.owner === this.owner;
    if (event === 'attempt') return this.ctx.events.on('attempt', (e) => mine(e) && (listener as (e: AttemptEvent) => void)(e));
    return this.ctx.events.on(event, (e) => mine(e) && (listener as (n: number) => void)(e.count));
  }

  /** the next attempt this dispatcher records */
  once(event: 'attempt', listener: (e: AttemptEvent) => void): void {
    const off = this.on(event, (e) => (off(), listener(e)));
  }

  /** fires leased to this dispatcher that have not finished */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.running || this.loop) return;
    const { config, log } = this.ctx;
    if (config.lease_seconds * 1000 < config.request_timeout_ms + 1000) {
      log.warn({ lease_seconds: config.lease_seconds, request_timeout_ms: config.request_timeout_ms },
        'lease_seconds is not comfortably longer than request_timeout_ms: a slow attempt may outlive its lease and be fired twice');
    }
    this.running = true;
    this.unsubscribe = this.ctx.store.onFiresQueued(() => this.wake());
    this.loop = this.run();
    log.info({ owner: this.owner, max_in_flight: config.max_in_flight, router: config.router }, 'dispatcher started');
  }

  /** look for due fires now (a conversion committed, an operator replayed a fire) */
  wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  /**
   * Graceful stop (SIGTERM): no more claims; in-flight attempts get `graceMs` to finish and be recorded; the rest are
   * cut short: one whose request had reached the router is recorded as an `ambiguous` attempt, the others are released,
   * due now, with no attempt recorded (the next claim, here or elsewhere, fires them).
   */
  stop(graceMs = 5000): Promise<void> {
    if (!this.loop) return Promise.resolve();
    return (this.stopping ??= this.shutdown(graceMs));
  }

  private async shutdown(graceMs: number): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.wake();
    await this.loop;
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
      await Promise.race([Promise.all(this.inFlight.values()), grace]);
      clearTimeout(timer);
      this.cutShort.abort();
      await Promise.all(this.inFlight.values());
    }
    try {
      const released = await this.ctx.store.releaseFires(this.owner, this.ctx.clock.now());
      if (released) this.ctx.events.emit('released', { owner: this.owner, count: released });
      this.ctx.log.info({ owner: this.owner, released }, 'dispatcher stopped');
    } catch (err) {
      this.ctx.log.error({ err, owner: this.owner }, 'dispatcher stopped but could not release its leases; they expire after lease_seconds');
    }
    if (this.ownsAgents) this.agents.destroy();
  }

  private async run(): Promise<void> {
    const { store, clock, config, log } = this.ctx;
    let failures = 0;
    while (this.running) {
      this.woken = false;
      const room = this.room();
      let claimed = 0;
      if (room > 0) {
        try {
          const fires = await store.claimFires(this.owner, clock.now(), Math.round(config.lease_seconds * 1000), room, config.on_ambiguous);
          failures = 0;
          claimed = fires.length;
          if (claimed) this.ctx.events.emit('claimed', { owner: this.owner, count: claimed });
          // once stopping, fires claimed by this last query are released by stop(), not fired
          if (!this.running) break;
          for (const fire of fires) this.launch(fire);
        } catch (err) {
          this.stats.errors++;
          failures++;
          log.error({ err, owner: this.owner }, 'claiming fires failed; trying again');
          await this.sleep(Math.min(config.poll_interval_ms, 100 * 2 ** Math.min(failures, 10)));
          continue;
        }
      }
      if (room > 0 && claimed === room) continue; // there may be more due right now
      // busy: a finishing attempt wakes the loop once there is room for a worthwhile claim
      this.waitingForSlot = room <= 0;
      await this.sleep(room <= 0 ? config.poll_interval_ms : await this.idleMs());
      this.waitingForSlot = false;
    }
  }

  /**
   * How many fires to claim now. While busy, claim only once at least half of max_in_flight is free: one claim
   * per finished attempt would double the store's write transactions under a backlog.
   */
  private room(): number {
    const max = this.ctx.config.max_in_flight;
    const free = max - this.inFlight.size;
    if (this.inFlight.size > 0 && free < Math.ceil(max / 2)) return 0;
    return Math.min(free, this.batch);
  }

  /** until the next fire is due, at most poll_interval_ms (another process may queue or abandon fires) */
  private async idleMs(): Promise<number> {
    const { store, clock, config } = this.ctx;
    try {
      const due = await store.nextDueAt();
      if (due == null) return config.poll_interval_ms;
      return Math.min(config.poll_interval_ms, Math.max(1, due - clock.now()));
    } catch {
      return config.poll_interval_ms;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wakeSleeper = done;
    });
  }

  private launch(fire: Fire): void {
    // Claimed again while its last attempt is still finishing: the attempt's record commits before its fsync ends
    // (store/wal-sync.ts), so a retry due soon can be claimed meanwhile; or our own lease ran out while the attempt
    // ran (lease_seconds too short for request_timeout_ms). Never two requests at once: launched again once the
    // running attempt is over, its sending mark then says whether our lease still holds (a recorded attempt that
    // settled the fire has cleared it, so nothing is sent twice).
    const running = this.inFlight.get(fire.id);
    if (running) {
      void running.then(() => this.running && this.launch(fire));
      return;
    }
    const done = this.attempt(fire, this.cutShort.signal)
      .catch((err) => {
        this.stats.errors++;
        this.ctx.log.error({ err, fire_id: fire.id, owner: this.owner }, 'attempt could not be recorded; the lease will expire and the fire be tried again');
      })
      .finally(() => {
        this.inFlight.delete(fire.id);
        if (this.waitingForSlot && this.room() > 0) this.wake();
      });
    this.inFlight.set(fire.id, done);
  }

  private async attempt(fire: Fire, signal: AbortSignal): Promise<void> {
    const { config, clock, store, log } = this.ctx;
    const n = fire.attempt_count + 1;
    const started_at = clock.now();
    const url = fireUrl(config.router, fire);
    // a dry run records the exact request and sends nothing: the built-in local setup never reaches Microsoft, nor
    // does a test conversion's fire, whatever the configuration
    const dryRun = config.dry_run || fire.test;
    const result = dryRun ? dryRunFire(url, fire.test) : await httpFire(url, {
      connect_timeout_ms: config.connect_timeout_ms,
      request_timeout_ms: config.request_timeout_ms,
      max_redirects: config.max_redirects,
      allow_insecure: config.allow_insecure_router,
      agents: this.agents,
      signal,
      now: () => clock.now(),
      beforeSend: async () => {
        if (!(await store.markSending(fire.id, this.owner, clock.now()))) throw new Error('the lease was lost: another dispatcher owns this fire now');
      },
    });
    // Cut short by stop(), or not sent because its sending mark could not be committed: before the request left,
    // nothing happened (stop() releases the fire; a lost lease is someone else's; a store failure lets the lease
    // expire); after, the router may have logged it, so the attempt is recorded as ambiguous, for on_ambiguous to
    // decide and an operator to see.
    let decided: Decided;
    if (result.outcome === 'aborted') {
      if (!result.hops.some((h) => h.sent)) {
        if (result.error_class === 'not_marked') log.warn({ fire_id: fire.id, owner: this.owner, error: result.error }, 'attempt not sent');
        return;
      }
      decided = { ...result, outcome: 'ambiguous', error_class: 'stopped_after_send', error: 'the collector stopped while the router had the request; it may have logged it' };
    } else decided = { ...result, outcome: result.outcome };
    const next = nextStep(decided, fire.attempt_count, config, clock.now(), this.random);
    // a retryable failure with no retry left is the attempt that failed the fire
    const outcome = decided.outcome === 'retry' && next.state === 'failed' ? 'failed' : decided.outcome;
    const attempt: NewAttempt = {
      started_at,
      duration_ms: result.duration_ms,
      outcome,
      error_class: decided.error_class,
      status: result.status,
      url: result.url,
      hops: result.hops,
      next_attempt_at: next.next_attempt_at,
    };
    const recorded = await store.recordAttempt(fire.id, this.owner, attempt, { ...next, dry_run: dryRun });
    const line = {
      fire_id: fire.id, attempt: n, outcome, status: result.status, error_class: decided.error_class,
      duration_ms: result.duration_ms, hops: result.hops.length, next_state: next.state, next_attempt_at: next.next_attempt_at,
    };
    if (!recorded) log.warn({ ...line, owner: this.owner }, 'attempt recorded, but the lease had been lost: another dispatcher owns this fire now');
    else if (outcome === 'fired') log.info(line, 'attempt');
    else log.warn({ ...line, error: decided.error }, 'attempt');
    // a listener's mistake (a metrics hook) cannot stop the dispatcher: the channel catches and logs it
    this.ctx.events.emit('attempt', { fire, n, attempt, next, recorded, owner: this.owner });
  }
}
