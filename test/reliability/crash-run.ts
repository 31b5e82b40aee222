// One crash of a collector process under a stream of S2S conversions, and its recovery, counted: a first life on an
// SQLite file takes touches and conversions (POST /t, POST /v1/conversions) and fires them; `killWhen` decides when it
// is SIGKILLed; clients send again what got no answer to a second life on the same file, which drains the queue.
// Shared by the test (test/reliability/crash-sending.test.ts, a chosen kill point) and the figures script
// (crash-figures.ts, a kill at a point in the stream like any other).
import type { ConfigInput } from '../../collector/config.js';
import type { OnAmbiguous } from '../../collector/vocabulary.js';
import { BASE_CONFIG } from '../support/collector.js';
import { spawnCollector, tempDir, type CollectorProcess } from '../support/proc.js';
import { unscripted, type TestRouter } from '../support/router.js';
import { readDb, until, type Rows } from './db.js';
import { loadItems, runLoad, type Ack } from './load.js';

export interface CrashRunOptions {
  tag: string;
  conversions: number;
  on_ambiguous: OnAmbiguous;
  router: TestRouter;
  /** the first life's router URL (a blackhole, say); default router.url */
  firstRouter?: string;
  /** resolves when the first life is to be killed */
  killWhen: (life: { dbPath: string; acked: () => number }) => Promise<void>;
  config?: Partial<ConfigInput>;
  /** bound on the drain after the restart: a guard for a broken build, not a timing */
  drainMs?: number;
}

/** a fire in flight when the first life was killed, as the file had it */
export interface InFlightAtKill {
  id: string;
  order_id: string;
  sending_at: number | null;
  lease_expires_at: number;
}

export interface CrashFigures {
  /** conversions answered with their ids (in either life), by order_id */
  acknowledged: number;
  /** acknowledged orders the router logged (its /logged, after the 302) exactly once */
  logged_once: number;
  /** acknowledged orders whose fire is held (on_ambiguous hold); of them, those the router had logged before the kill */
  held: number;
  held_but_logged: number;
  /** acknowledged orders whose request (/sspx) reached the router more than once */
  doubled: number;
  /** acknowledged orders the router logged more than once */
  logged_twice: number;
  /** acknowledged orders neither logged nor held */
  lost: number;
  /** attempts recorded as ambiguous / lease_expired over these fires */
  ambiguous: number;
  lease_expired: number;
  in_flight_at_kill: { marked: number; unmarked: number };
}

export interface CrashRun {
  figures: CrashFigures;
  acked: Ack[];
  inFlightAtKill: InFlightAtKill[];
  /** per order_id: requests to /sspx and to /logged */
  sspx: Map<string, number>;
  logged: Map<string, number>;
  /** per fire id: its state and its attempts in order */
  fires: Map<string, { order_id: string; state: string; attempts: { outcome: string; started_at: number; next_attempt_at: number | null }[] }>;
  procs: CollectorProcess[];
  /** items of the stream that got no answer from the first life (it was killed under them) and were sent again */
  resent: number;
  /** from the second life's start to an empty queue (wall clock: a figure to print, never to assert on) */
  drainMs: number;
}

export async function crashRun(o: CrashRunOptions): Promise<CrashRun> {
  const dir = tempDir('sspx-crash-sending-');
  const dbPath = `${dir}/sspx.db`;
  const config = (router: string): ConfigInput => ({
    ...BASE_CONFIG,
    store: `sqlite:${dbPath}`,
    router,
    allow_insecure_router: true,
    dispatcher: true,
    on_ambiguous: o.on_ambiguous,
    retry_schedule_seconds: [0, 0.2, 0.2, 0.5, 1],
    retry_jitter: 0,
    poll_interval_ms: 100,
    log_level: 'warn',
    ...o.config,
  });
  const { router } = o;
  const mine = (order: string | undefined) => order?.startsWith(`${o.tag}-`) ?? false;

  const first = await spawnCollector({ dir, config: config(o.firstRouter ?? router.url) });
  const procs = [first];
  const items = loadItems(o.conversions * 2, o.tag);
  let alive = true;
  let acked = 0;
  const load = runLoad(items, { target: () => (alive ? first.url : null), concurrency: 16, onResult: (n) => (acked = n) });
  await o.killWhen({ dbPath, acked: () => acked });
  first.kill('SIGKILL');
  alive = false;
  await first.exited;
  const inFlightAtKill = readDb(dbPath, (d) => d.prepare("SELECT id, order_id, sending_at, lease_expires_at FROM fires WHERE state = 'in_flight'").all() as InFlightAtKill[]);
  const phase1 = await load;

  router.otherwise(unscripted);
  const restarted = Date.now();
  const second = await spawnCollector({ dir, config: config(router.url) });
  procs.push(second);
  const phase2 = await runLoad(phase1.failed, { target: () => second.url, concurrency: 16 });
  if (phase2.failed.length) throw new Error(`the second life refused resent items: ${JSON.stringify(phase2.statuses)}`);
  const ackedAll = [...phase1.acked, ...phase2.acked];
  const orders = new Set(ackedAll.flatMap((a) => (a.item.kind === 'conversion' ? [a.item.order_id] : [])));

  const unsettled = () => readDb(dbPath, (d) => d.prepare("SELECT state, COUNT(*) AS n FROM fires WHERE state IN ('queued', 'in_flight') GROUP BY state").all() as Rows);
  await until('the queue to drain', () => unsettled().length === 0, o.drainMs ?? 60_000, unsettled);
  const drainMs = Date.now() - restarted;
  // the last fires' /logged hop has been answered before their attempt was recorded: the router has them all

  const fires: CrashRun['fires'] = new Map();
  readDb(dbPath, (d) => {
    for (const f of d.prepare('SELECT id, order_id, state FROM fires').all() as Rows) fires.set(f.id, { order_id: f.order_id, state: f.state, attempts: [] });
    for (const a of d.prepare('SELECT fire_id, outcome, started_at, next_attempt_at FROM attempts ORDER BY fire_id, n').all() as Rows) {
      fires.get(a.fire_id)?.attempts.push({ outcome: a.outcome, started_at: a.started_at, next_attempt_at: a.next_attempt_at });
    }
  });
  const count = (path: 'fires' | 'logged') => {
    const m = new Map<string, number>();
    for (const q of router[path]) if (mine(q.params.order_id)) m.set(q.params.order_id, (m.get(q.params.order_id) ?? 0) + 1);
    return m;
  };
  const sspx = count('fires');
  const logged = count('logged');
  const byOrder = new Map([...fires.values()].map((f) => [f.order_id, f]));
  const outcomes = [...fires.values()].flatMap((f) => f.attempts.map((a) => a.outcome));
  const figures: CrashFigures = {
    acknowledged: orders.size,
    logged_once: [...orders].filter((id) => logged.get(id) === 1).length,
    held: [...orders].filter((id) => byOrder.get(id)?.state === 'held').length,
    held_but_logged: [...orders].filter((id) => byOrder.get(id)?.state === 'held' && logged.get(id)).length,
    doubled: [...orders].filter((id) => (sspx.get(id) ?? 0) > 1).length,
    logged_twice: [...orders].filter((id) => (logged.get(id) ?? 0) > 1).length,
    lost: [...orders].filter((id) => !logged.get(id) && byOrder.get(id)?.state !== 'held').length,
    ambiguous: outcomes.filter((x) => x === 'ambiguous').length,
    lease_expired: outcomes.filter((x) => x === 'lease_expired').length,
    in_flight_at_kill: { marked: inFlightAtKill.filter((f) => f.sending_at != null).length, unmarked: inFlightAtKill.filter((f) => f.sending_at == null).length },
  };
  return { figures, acked: ackedAll, inFlightAtKill, sspx, logged, fires, procs, resent: phase1.failed.length, drainMs };
}
