// `sspx-relay reconcile --report PATH | --fetch --since D --until D [--json] [--all]`: our fires beside Microsoft's
// attributed-conversions report, order by order. The report read or fetched becomes the dashboard's last one.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { systemClock, type Clock } from '../clock.js';
import { checkFetchRange, parseBound, reconcileStore, saveReport, type LoadedReport } from '../reconcile/load.js';
import { parseReport, reportPeriod, ReportError } from '../reconcile/report.js';
import { fetchReport, ReportServiceError, type FetchOptions } from '../reconcile/report-service.js';
import { renderTable } from '../reconcile/table.js';
import { defaultIo, NOT_MIGRATED, operatorCommand, sayTo, withStore, type Io } from './io.js';

export interface ReconcileOptions {
  config?: string;
  report?: string;
  fetch?: boolean;
  since?: string;
  until?: string;
  json?: boolean;
  all?: boolean;
}

/** a report file larger than this is not an attributed-conversions export */
const MAX_REPORT_BYTES = 256 * 1024 * 1024;

export async function runReconcile(opts: ReconcileOptions, io: Io = defaultIo(), clock: Clock = systemClock, fetchOpts: FetchOptions = {}): Promise<number> {
  const say = sayTo(io);
  if (!opts.report === !opts.fetch) return (say('give either --report PATH or --fetch --since DATE --until DATE'), 1);
  let since: number | undefined;
  let until: number | undefined;
  try {
    if (opts.since !== undefined) since = parseBound('--since', opts.since);
    if (opts.until !== undefined) until = parseBound('--until', opts.until);
  } catch (err) {
    return (say((err as Error).message), 1);
  }
  if ((since === undefined) !== (until === undefined)) return (say('give --since and --until together'), 1);
  if (opts.fetch && since === undefined) return (say('--fetch needs --since and --until (UTC dates; at most 33 days)'), 1);

  return withStore('reconcile', opts.config, io, async (config, store) => {
    if (!(await store.migrationsCurrent())) return (say(NOT_MIGRATED), 1);
    let report: LoadedReport;
    try {
      if (opts.fetch) {
        if (!config.report_service) return (say('--fetch needs report_service (url, username, password, advertiser_id) in the configuration'), 1);
        const wrong = checkFetchRange(since!, until!, clock.now());
        if (wrong) return (say(wrong), 1);
        const csv = await fetchReport(config.report_service, since!, until!, { allowInsecure: config.allow_insecure_router, progress: say, ...fetchOpts });
        report = { rows: parseReport(csv), from: since!, to: until!, source: 'Report Service' };
      } else {
        const path = opts.report!;
        const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
          throw new ReportError(`cannot read ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
        });
        if (text.length > MAX_REPORT_BYTES) return (say(`${path} is larger than ${MAX_REPORT_BYTES / 1024 / 1024} MB`), 1);
        const rows = parseReport(text);
        const period = since !== undefined ? { from: since, to: until! } : reportPeriod(rows);
        if (!period) return (say(`${path} has no report rows; give --since and --until to reconcile an empty period`), 1);
        if (period.to <= period.from) return (say('--until must be after --since'), 1);
        report = { rows, ...period, source: basename(path) };
      }
    } catch (err) {
      if (err instanceof ReportError || err instanceof ReportServiceError) return (say(`reconcile: ${err.message}`), 1);
      throw err;
    }
    await saveReport(store, report, clock.now());
    const result = await reconcileStore(store, config, report);
    io.out.write(opts.json ? JSON.stringify(result, null, 2) + '\n' : renderTable(result, { all: opts.all }));
    return 0;
  });
}

export function registerReconcile(program: Command): Command {
  return operatorCommand(
    program,
    'reconcile',
    "our fires beside Microsoft's attributed-conversions report, by (pixel_id, order_id)",
    (c) =>
      c
        .option('--report <path>', 'the report as exported (CSV) or as the Report Service returns it (JSON)')
        .option('--fetch', 'pull the report from the Report Service (report_service in the configuration)')
        .option('--since <date>', 'UTC start of the period, such as 2026-11-01 (with --fetch; narrows a --report)')
        .option('--until <date>', 'UTC end of the period, exclusive (at most 33 days after --since)')
        .option('--json', 'print the reconciliation as JSON')
        .option('--all', 'list every order, matched ones too'),
    runReconcile,
  );
}
