// Prometheus metrics, one Registry per collector (tests run several collectors in one process). Counters move
// on the collector's event channel; queue gauges are read from the store when scraped, so every process
// sharing a PostgreSQL store reports the same queue.
import type { RequestHandler } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Context } from './context.js';
import type { Events } from './events.js';
import type { OperatorQueries, Outbox } from './store/store.js';
import { ATTEMPT_OUTCOMES, FIRE_STATES } from './vocabulary.js';

/** routes whose latency is ingest latency; /v1/* adds the operators' and apps' API routes by their pattern */
const INGEST_PATHS = new Set(['/t', '/i', '/c']);

export interface Metrics {
  registry: Registry;
  touches: Counter<'outcome' | 'reason'>;
  conversions: Counter<'outcome' | 'source'>;
  attempts: Counter<'outcome' | 'error_class'>;
  appOpens: Counter<'method'>;
  deviceIdsIgnored: Counter<'route'>;
  ingestDuration: Histogram<'route'>;
  /** every answer of a beacon route (/t, /i, /c): successes are counted here instead of logged */
  beacons: Counter<'route' | 'status'>;
  commitToFire: Histogram;
  routerDuration: Histogram;
}

export function createMetrics(ctx: Context<Pick<OperatorQueries, 'countFires'> & Pick<Outbox, 'nextDueAt'>>, opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const touches = new Counter({
    name: 'sspx_touches_total',
    help: 'Touches by outcome (stored, dropped, refused) and reason (the touch kind when stored, else why not)',
    labelNames: ['outcome', 'reason'] as const,
    registers,
  });
  const conversions = new Counter({
    name: 'sspx_conversions_total',
    help: 'Conversions committed, by outcome (attributed, unattributed, duplicate) and source (browser, server, app)',
    labelNames: ['outcome', 'source'] as const,
    registers,
  });
  const attempts = new Counter({
    name: 'sspx_fire_attempts_total',
    help: `Fire attempts recorded by this process, by outcome (${ATTEMPT_OUTCOMES.filter((o) => o !== 'lease_expired').join(', ')}) and error class (none when fired)`,
    labelNames: ['outcome', 'error_class'] as const,
    registers,
  });
  const appOpens = new Counter({
    name: 'sspx_app_opens_total',
    help: 'App opens answered, by how the install was bound (deep_link, referrer, token, device_id, hint) or unbound',
    labelNames: ['method'] as const,
    registers,
  });
  const deviceIdsIgnored = new Counter({
    name: 'sspx_device_ids_ignored_total',
    help: 'Touches recorded without the device ids they carried: not from a configured site (a page cannot plant an advertising id), by route',
    labelNames: ['route'] as const,
    registers,
  });
  const ingestDuration = new Histogram({
    name: 'sspx_ingest_duration_seconds',
    help: 'Time to answer an ingest request (/t, /i, /c, /v1/*), group commit included, by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const beacons = new Counter({
    name: 'sspx_beacon_answers_total',
    help: 'Answers of the beacon routes (/t, /i, /c) by route and status; only refusals and errors are also logged',
    labelNames: ['route', 'status'] as const,
    registers,
  });
  const commitToFire = new Histogram({
    name: 'sspx_commit_to_fire_seconds',
    help: 'Time from a fire being queued (its conversion committed) to the attempt that fired it',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21_600, 86_400],
    registers,
  });
  const routerDuration = new Histogram({
    name: 'sspx_router_duration_seconds',
    help: 'Duration of one fire attempt against the router, every redirect hop included',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  const { store, clock, log } = ctx;
  /** a gauge read from the store on scrape; a store outage leaves the last value (readyz reports the outage) */
  const fromStore = (read: () => Promise<void>) =>
    async function collect(): Promise<void> {
      try {
        await read();
      } catch (err) {
        log.debug({ err }, 'metrics: the store could not be read for a gauge');
      }
    };
  const queueDepth: Gauge = new Gauge({
    name: 'sspx_queue_depth',
    help: 'Fires not yet finished: queued (due now or waiting for a retry) or in flight, across every process of the store',
    registers,
    collect: fromStore(async () => {
      const n = await store.countFires();
      queueDepth.set(n.queued + n.in_flight);
    }),
  });
  const byState: Gauge<'state'> = new Gauge({
    name: 'sspx_fires_in_state',
    help: `Fires in the store by state (${FIRE_STATES.join(', ')})`,
    labelNames: ['state'] as const,
    registers,
    collect: fromStore(async () => {
      const n = await store.countFires();
      for (const s of FIRE_STATES) byState.set({ state: s }, n[s] ?? 0);
    }),
  });
  const oldestDue: Gauge = new Gauge({
    name: 'sspx_oldest_due_age_seconds',
    help: 'How long the earliest due queued fire has been waiting past its due time (0 when none is overdue)',
    registers,
    collect: fromStore(async () => {
      const due = await store.nextDueAt();
      oldestDue.set(due == null ? 0 : Math.max(0, clock.now() - due) / 1000);
    }),
  });

  return { registry, touches, conversions, attempts, appOpens, deviceIdsIgnored, ingestDuration, beacons, commitToFire, routerDuration };
}

/** the counters read the collector's event channel (../events.ts); the gauges read the store when scraped */
export function observeEvents(m: Metrics, events: Events): void {
  events.on('touch', ({ outcome, reason }) => m.touches.inc({ outcome, reason }));
  // an unreplaced macro, wherever it came (touch, conversion or app open), is a touch the line item failed to make
  events.on('macro', () => m.touches.inc({ outcome: 'refused', reason: 'unreplaced_macro' }));
  events.on('conversion', ({ result, input }) => m.conversions.inc({ outcome: result.outcome, source: input.source }));
  events.on('app_open', (answer) => m.appOpens.inc({ method: answer.method ?? 'unbound' }));
  events.on('device_ids_ignored', ({ route }) => m.deviceIdsIgnored.inc({ route }));
  // every attempt the dispatcher makes; commit-to-fire only for the attempt that fired
  events.on('attempt', ({ fire, attempt }) => {
    m.attempts.inc({ outcome: attempt.outcome, error_class: attempt.error_class ?? 'none' });
    if (attempt.duration_ms != null) m.routerDuration.observe(attempt.duration_ms / 1000);
    if (attempt.outcome === 'fired') {
      const firedAt = attempt.started_at + (attempt.duration_ms ?? 0);
      m.commitToFire.observe(Math.max(0, firedAt - fire.created_at) / 1000);
    }
  });
}

/**
 * Ingest latency, measured from the first middleware to the last byte. The route label is the matched route's
 * pattern (never the raw path, so ids cannot blow up the label set); unmatched paths are not observed.
 */
export function ingestTimer(m: Metrics): RequestHandler {
  return (req, res, next) => {
    // from the raw URL, not req.path: the beacon front (a plain node:http request) runs this handler too
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!INGEST_PATHS.has(path) && !path.startsWith('/v1/')) return next();
    const end = m.ingestDuration.startTimer();
    res.on('finish', () => {
      const pattern = req.route?.path;
      const route = typeof pattern === 'string' ? pattern : INGEST_PATHS.has(path) ? path : undefined;
      if (route) end({ route });
      if (route && INGEST_PATHS.has(route)) m.beacons.inc({ route, status: String(res.statusCode) });
    });
    next();
  };
}
