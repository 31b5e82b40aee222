// `sspx-relay replay`: queues failed or ambiguous fires again, due now, after an outage or once the router's logs
// were checked. `ambiguous` means held fires and failed fires whose last attempt was ambiguous. A running collector
// picks them up at its next poll (poll_interval_ms), or at once when it shares this process's store events.
import type { Command } from 'commander';
import { pixelIdOf } from '../config.js';
import type { Fire, FireFilter, Store } from '../store/store.js';
import { ProgressBar } from './progress.js';
import { defaultIo, NOT_MIGRATED, operatorCommand, sayTo, withStore, type Io } from './io.js';

export interface ReplayOptions {
  config?: string;
  state: string;
  since?: string;
  pixel?: string;
  dryRun?: boolean;
  /** draw the progress bar even when stderr is not a terminal (tests) */
  progress?: boolean;
}

const PAGE = 1000;

/** Every fire matching `filter`, newest first, a page at a time. */
async function collect(store: Store, filter: FireFilter): Promise<Fire[]> {
  const out: Fire[] = [];
  for (let before: string | undefined; ; ) {
    const page = await store.listFires({ ...filter, limit: PAGE, before });
    out.push(...page);
    if (page.length < PAGE) return out;
    before = page[page.length - 1].id;
  }
}

export async function runReplay(opts: ReplayOptions, io: Io = defaultIo()): Promise<number> {
  const say = sayTo(io);
  if (opts.state !== 'failed' && opts.state !== 'ambiguous') return (say('--state must be failed or ambiguous'), 1);
  let since: number | undefined;
  if (opts.since !== undefined) {
    since = /^\d{4}-\d{2}-\d{2}/.test(opts.since) ? Date.parse(opts.since) : NaN;
    if (Number.isNaN(since)) return (say(`--since: ${opts.since} is not an ISO 8601 time, such as 2026-01-31 or 2026-01-31T12:00:00Z`), 1);
  }
  return withStore('replay', opts.config, io, async (config, store) => {
    let pixel_id: number | undefined;
    if (opts.pixel !== undefined) {
      pixel_id = pixelIdOf(config, opts.pixel);
      if (pixel_id === undefined) return (say(`--pixel: ${opts.pixel} is neither a configured pixel name nor a numeric pixel id`), 1);
    }
    if (!(await store.migrationsCurrent())) return (say(NOT_MIGRATED), 1);

    const base: FireFilter = { pixel_id, from: since };
    const found = opts.state === 'failed'
      ? await collect(store, { ...base, state: 'failed' })
      : [...(await collect(store, { ...base, state: 'held' })), ...(await collect(store, { ...base, state: 'failed', last_outcome: 'ambiguous' }))];
    // a test conversion's fire is never sent, so never replayed (the store refuses it too)
    const fires = found.filter((f) => !f.test);
    const tests = found.length - fires.length;
    const scope = `${opts.state} fires${opts.pixel ? ` of pixel ${opts.pixel}` : ''}${opts.since ? ` created since ${opts.since}` : ''}`;
    const note = tests ? `; ${tests} test fire(s) left alone: a test fire is never sent` : '';

    if (opts.dryRun) {
      io.out.write(`would replay ${fires.length} ${scope}${note}\n`);
      for (const f of fires.slice(0, 20)) io.out.write(`  ${f.id}  pixel ${f.pixel_id}  ${f.state}  ${f.last_error ?? ''}\n`);
      if (fires.length > 20) io.out.write(`  … and ${fires.length - 20} more\n`);
      return 0;
    }

    const bar = (opts.progress ?? io.err.isTTY) && fires.length ? new ProgressBar(io.err) : undefined;
    let replayed = 0;
    let skipped = 0;
    for (const [i, f] of fires.entries()) {
      if (await store.replayFire(f.id, Date.now())) replayed++;
      else skipped++; // fired or replayed meanwhile
      bar?.draw(i + 1, fires.length);
    }
    bar?.end();
    io.out.write(`replayed ${replayed} ${scope}${skipped ? `; ${skipped} were no longer replayable` : ''}${note}\n`);
    if (replayed) io.out.write('a running collector fires them within poll_interval_ms\n');
    return 0;
  });
}

export function registerReplay(program: Command): Command {
  return operatorCommand(
    program,
    'replay',
    'queue failed or ambiguous (held, or failed after an ambiguous attempt) fires again, due now',
    (c) =>
      c
        .requiredOption('--state <failed|ambiguous>', 'which fires: failed, or ambiguous')
        .option('--since <iso>', 'only fires created at or after this time')
        .option('--pixel <id|name>', 'only fires of this pixel')
        .option('--dry-run', 'list what would be replayed, change nothing'),
    runReplay,
  );
}
