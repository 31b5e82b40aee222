// `sspx-relay purge [--dry-run]`: applies retention now (collector/retention.ts) — the same purge a running
// collector does daily — in batches, with a progress bar on stderr for long runs, and prints what it removed.
import type { Command } from 'commander';
import { systemClock, utcText, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { DEFAULT_BATCH, purge, type PurgeResult } from '../retention.js';
import { describeStore } from '../store/open.js';
import { ProgressBar } from './progress.js';
import { defaultIo, NOT_MIGRATED, operatorCommand, sayTo, withStore, type Io } from './io.js';

export interface PurgeCommandOptions {
  config?: string;
  dryRun?: boolean;
  batch?: number;
  /** draw the progress bar even when stderr is not a terminal (tests) */
  progress?: boolean;
}

const utc = (t: number) => `${utcText(t)} UTC`;

export function purgeSummary(r: PurgeResult, config: Config): string {
  const c = r.counts;
  const rows: [string, number, string][] = [
    ['fires', c.fires, `created before ${utc(r.cutoffs.records_before)}, neither queued nor in flight`],
    ['attempts', c.attempts, 'of those fires'],
    ['conversions', c.conversions, `created before ${utc(r.cutoffs.records_before)}, without a pending fire`],
    ['touches', c.touches, `clicks before ${utc(r.cutoffs.clicks_before)}, views before ${utc(r.cutoffs.views_before)}`],
    ['transcripts', c.transcripts, `cleared from attempts started before ${utc(r.cutoffs.transcripts_before)}`],
  ];
  if (!r.dry_run) rows.push(['hint keys', r.hints, 'install hint keys older than a day, forgotten']);
  const width = Math.max(...rows.map(([, n]) => String(n).length));
  const head = r.dry_run
    ? `dry run: nothing was changed; a purge now would remove (retention_days ${config.retention_days}, transcript_retention_days ${config.transcript_retention_days}):`
    : `purged (retention_days ${config.retention_days}, transcript_retention_days ${config.transcript_retention_days}):`;
  const lines = rows.map(([k, n, what]) => `  ${k.padEnd(12)} ${String(n).padStart(width)}  ${what}`);
  const tail = r.dry_run ? [] : [r.aborted ? 'stopped early; the next purge carries on' : `done in ${(r.duration_ms / 1000).toFixed(1)} s; the removed rows are kept as daily counts for the charts`];
  return [head, ...lines, ...tail].join('\n') + '\n';
}

export async function runPurge(opts: PurgeCommandOptions, io: Io = defaultIo(), clock: Clock = systemClock): Promise<number> {
  const say = sayTo(io);
  if (opts.batch !== undefined && !(Number.isInteger(opts.batch) && opts.batch >= 1 && opts.batch <= 100_000)) {
    return (say('--batch must be an integer from 1 to 100000'), 1);
  }
  return withStore('purge', opts.config, io, async (config, store) => {
    if (!(await store.migrationsCurrent())) {
      if (opts.dryRun || !config.migrate_on_start) return (say(NOT_MIGRATED), 1);
      await store.migrate();
    }
    const bar = !opts.dryRun && (opts.progress ?? io.err.isTTY) ? new ProgressBar(io.err, 'purge ') : undefined;
    const result = await purge({ config, store, clock }, { dryRun: opts.dryRun, batchSize: opts.batch ?? DEFAULT_BATCH, onProgress: (p) => bar?.draw(p.all_done, p.all_total, ` ${p.step} ${p.done}/${p.total}`) });
    bar?.end();
    io.out.write(`${describeStore(config.store)}\n${purgeSummary(result, config)}`);
    return 0;
  });
}

export function registerPurge(program: Command): Command {
  return operatorCommand(
    program,
    'purge',
    'apply retention now: delete what is older than retention_days (rolled up into daily counts first), clear old transcripts',
    (c) =>
      c
        .option('--dry-run', 'count what would be removed, change nothing')
        .option('--batch <n>', `rows per transaction (default ${DEFAULT_BATCH})`, (v) => Number(v)),
    runPurge,
  );
}
