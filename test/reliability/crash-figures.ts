// The crash figures of issue 15's closing note: a collector process SIGKILLed under a stream of S2S conversions
// (after 30% of the stream was answered, wherever the dispatcher is then), restarted on the same SQLite file, the
// queue drained; printed for each on_ambiguous setting. Default configuration otherwise (64 in flight, 60 s lease).
//
//   npm run build && npx tsx test/reliability/crash-figures.ts [--conversions 3000] [--on-ambiguous hold|retry]
import { parseArgs } from 'node:util';
import type { OnAmbiguous } from '../../collector/vocabulary.js';
import { startRouter } from '../support/router.js';
import { crashRun } from './crash-run.js';
import { until } from './db.js';

const { values } = parseArgs({ options: { conversions: { type: 'string', default: '3000' }, 'on-ambiguous': { type: 'string' } } });
const conversions = Number(values.conversions);
const settings: OnAmbiguous[] = values['on-ambiguous'] ? [values['on-ambiguous'] as OnAmbiguous] : ['hold', 'retry'];

const router = await startRouter();
try {
  for (const on_ambiguous of settings) {
    const run = await crashRun({
      tag: `CF${on_ambiguous[0].toUpperCase()}`, conversions, on_ambiguous, router, drainMs: 300_000,
      killWhen: ({ acked }) => until('30% of the stream answered', () => acked() >= conversions * 2 * 0.3, 300_000),
    });
    const f = run.figures;
    // how long before its lease would have run out each unmarked fire was fired again, on the collector's clock
    const early = run.inFlightAtKill.filter((x) => x.sending_at == null)
      .map((x) => x.lease_expires_at - run.fires.get(x.id)!.attempts.find((a) => a.outcome === 'fired')!.started_at);
    console.log(`on_ambiguous ${on_ambiguous}: acknowledged ${f.acknowledged}, logged once ${f.logged_once}, held ${f.held} ` +
      `(${f.held_but_logged} of them logged before the kill), doubled ${f.doubled} (logged twice ${f.logged_twice}), lost ${f.lost} | ` +
      `in flight at the kill: ${f.in_flight_at_kill.marked} marked, ${f.in_flight_at_kill.unmarked} unmarked (fired again at least ` +
      `${Math.min(...early)} ms before their lease would have expired); attempts recorded: ${f.ambiguous} ambiguous, ` +
      `${f.lease_expired} lease_expired; ${run.resent} requests resent; queue drained ${run.drainMs} ms after the restart`);
    for (const p of run.procs) await p.stop(5000);
  }
} finally {
  await router.close();
}
