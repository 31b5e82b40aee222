// `sspx-relay stats [--period hour|day|30d]`: the dashboard's headline numbers, as an aligned table in the terminal.
import type { Command } from 'commander';
import { isPeriod, loadOverview, percent, duration, PERIODS, type Overview, type Period } from '../admin/overview.js';
import { systemClock, utcText, type Clock } from '../clock.js';
import { defaultIo, NOT_MIGRATED, operatorCommand, sayTo, withStore, type Io } from './io.js';

export interface StatsOptions {
  config?: string;
  period?: string;
  json?: boolean;
}

const n = (v: number) => v.toLocaleString('en-US');
/** 1 → "1 click", 3 → "3 clicks" */
const count = (v: number, one: string, many = one + 's') => `${n(v)} ${v === 1 ? one : many}`;

/** rows of [label, value, detail]: labels padded, values right-aligned */
function table(rows: [string, string, string?][]): string[] {
  const lw = Math.max(...rows.map(([l]) => l.length));
  const vw = Math.max(...rows.map(([, v]) => v.length));
  return rows.map(([l, v, d]) => `  ${l.padEnd(lw)}  ${v.padStart(vw)}${d ? `  ${d}` : ''}`.trimEnd());
}

export function renderStats(o: Overview): string {
  const t = o.totals;
  const q = o.queue;
  const out = [`sspx-relay stats: ${PERIODS[o.period].label} (${utcText(o.from)} to ${utcText(o.to)} UTC)`, ''];
  out.push(
    ...table([
      ['touches', n(t.touches), `${count(t.clicks, 'click')}, ${count(t.views, 'view')}`],
      ['conversions', n(t.conversions), `${n(t.outcomes.attributed)} attributed, ${n(t.outcomes.unattributed)} unattributed, ${n(t.outcomes.duplicate)} duplicate`],
      ['attribution rate', percent(t.attribution_rate), 'attributed / (attributed + unattributed)'],
      ['fires fired', n(t.fires.fired)],
      ['fires pending', n(t.fires.queued + t.fires.in_flight), 'queued or in flight'],
      ['fires failed', n(t.fires.failed)],
      ['fires held', n(t.fires.held), 'ambiguous, waiting for a replay'],
      ['attempts', n(t.attempts), `${n(t.failed_attempts)} did not fire`],
      ['queue depth', n(q.queued), `${n(q.due)} due now, ${n(q.in_flight)} in flight`],
      ['oldest due fire', duration(q.oldest_due_age_ms), q.oldest_due_at == null ? 'nothing is due' : 'waiting since it became due'],
      ['unreplaced macros', n(t.macros), `last ${o.macros.days.length} days`],
    ]),
  );
  if (o.errors.length) out.push('', 'fire failures by error class:', ...table(o.errors.map((e) => [e.error_class, n(e.count)])));
  if (o.macros.sites.length) out.push('', `unreplaced macros by site (last ${o.macros.days.length} days):`, ...table(o.macros.sites.map((s) => [s.site, n(s.total)])));
  return out.join('\n') + '\n';
}

export async function runStats(opts: StatsOptions, io: Io = defaultIo(), clock: Clock = systemClock): Promise<number> {
  const say = sayTo(io);
  const period = opts.period ?? 'day';
  if (!isPeriod(period)) return (say('--period must be hour, day or 30d'), 1);
  return withStore('stats', opts.config, io, async (config, store) => {
    if (!(await store.migrationsCurrent())) return (say(NOT_MIGRATED), 1);
    const overview = await loadOverview(store, period as Period, clock.now());
    io.out.write(opts.json ? JSON.stringify(overview, null, 2) + '\n' : renderStats(overview));
    return 0;
  });
}

export function registerStats(program: Command): Command {
  return operatorCommand(
    program,
    'stats',
    "the dashboard's headline numbers: touches, conversions, attribution rate, fires, failures, queue",
    (c) =>
      c
        .option('--period <period>', 'hour, day or 30d', 'day')
        .option('--json', 'print the numbers as JSON'),
    runStats,
  );
}
