// /admin/reconcile: the Reconciliation page (GET) and its report upload (POST, multipart/form-data with the
// session's CSRF token, like every dashboard form). The uploaded report becomes the last one, kept in the store.
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Html } from '../../admin/html.js';
import { reconcilePage } from '../../admin/reconcile-page.js';
import type { Session } from '../../admin/session.js';
import type { Context } from '../../context.js';
import { lastReport, parseBound, reconcileStore, saveReport, type LoadedReport } from '../../reconcile/load.js';
import { parseReport, reportPeriod, ReportError } from '../../reconcile/report.js';

type SessionRes = Response<unknown, { session: Session; upload?: Part }>;
type Middleware = (req: Request, res: SessionRes, next: NextFunction) => void;

/** an uploaded report larger than this is not an attributed-conversions export */
const MAX_UPLOAD = '32mb';

interface Part {
  name: string;
  filename?: string;
  data: Buffer;
}

/** the parts of a multipart/form-data body; undefined when it is not one */
export function multipartParts(body: Buffer, contentType: string | undefined): Part[] | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const parts: Part[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) return undefined;
  for (;;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') return parts; // the closing delimiter
    const next = body.indexOf(delimiter, start);
    if (next < 0) return undefined;
    const part = body.subarray(start + 2, next - 2); // after the CRLF, before the CRLF that precedes the delimiter
    const split = part.indexOf('\r\n\r\n');
    if (split < 0) return undefined;
    const headers = part.subarray(0, split).toString('utf8');
    const name = /\bname="([^"]*)"/i.exec(headers)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(headers)?.[1];
    if (name !== undefined) parts.push({ name, filename, data: part.subarray(split + 4) });
    at = next;
  }
}

export function reconcileRoutes(router: Router, ctx: Context, csrf: Middleware, send: (res: Response, page: Html, status?: number) => void): void {
  const page = async (res: SessionRes, extra: { notice?: string; error?: string } = {}, status = 200) => {
    const saved = await lastReport(ctx.store);
    const last = saved && { reconciliation: await reconcileStore(ctx.store, ctx.config, saved), saved_at: saved.saved_at };
    send(res, reconcilePage({ csrf: res.locals.session.csrf, last, ...extra }), status);
  };

  router.get('/admin/reconcile', async (req, res: SessionRes) => {
    await page(res, { notice: req.query.saved ? 'Report saved: this is how it compares with our fires.' : undefined });
  });

  // the body becomes the form's text fields (for the CSRF check) with the file kept aside
  const multipart = [
    express.raw({ type: 'multipart/form-data', limit: MAX_UPLOAD }),
    (req: Request, res: SessionRes, next: NextFunction) => {
      const parts = Buffer.isBuffer(req.body) ? multipartParts(req.body, req.headers['content-type']) : undefined;
      if (!parts) return void page(res, { error: 'Send the report with the form on this page (multipart/form-data).' }, 400).catch(next);
      const fields: Record<string, string> = {};
      for (const p of parts) if (p.filename === undefined) fields[p.name] = p.data.toString('utf8').slice(0, 200);
      res.locals.upload = parts.find((p) => p.name === 'report' && p.filename !== undefined);
      req.body = fields;
      next();
    },
  ];

  router.post('/admin/reconcile', ...multipart, csrf, async (req: Request, res: SessionRes) => {
    const file = res.locals.upload;
    let report: LoadedReport;
    try {
      if (!file || !file.data.length) throw new ReportError('choose a report file to upload');
      const rows = parseReport(file.data.toString('utf8'));
      const since = req.body.since ? parseBound('from', req.body.since) : undefined;
      const until = req.body.until ? parseBound('to', req.body.until) : undefined;
      if ((since === undefined) !== (until === undefined)) throw new ReportError('give both ends of the period, or neither');
      const period = since !== undefined ? { from: since, to: until! } : reportPeriod(rows);
      if (!period) throw new ReportError('the report has no rows; give the period to reconcile an empty one');
      if (period.to <= period.from) throw new ReportError('the period must end after it starts');
      report = { rows, ...period, source: `upload: ${(file.filename || 'report').slice(0, 100)}` };
    } catch (err) {
      if (!(err instanceof ReportError)) throw err;
      return page(res, { error: `That report cannot be read: ${err.message}.` }, 400);
    }
    await saveReport(ctx.store, report, ctx.clock.now());
    ctx.log.info({ msg: 'reconciliation report uploaded', source: report.source, rows: report.rows.length });
    res.redirect(303, '/admin/reconcile?saved=1');
  });
}
