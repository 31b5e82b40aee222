/**
 * A local stand-in for Microsoft's Report Service (api.appnexus.com), on 127.0.0.1 and a random port: never the
 * real API. It behaves as the documented one does for the attributed-conversions report:
 *
 *   POST /auth {"auth": {"username", "password"}}       → {"response": {"status": "OK", "token"}}, or 401 UNAUTH
 *   POST /report?advertiser_id=N {"report": {...}}      → {"response": {"status": "OK", "report_id"}}
 *   GET  /report?id=ID                                  → {"response": {"status": "OK", "execution_status": "pending" | "ready" | "error"}}
 *   GET  /report-download?id=ID                         → the CSV
 *
 * Every call but /auth needs the token in the Authorization header (401 NOAUTH otherwise). `pending` polls answer
 * "pending" before "ready"; `fail` makes the report end in "error". `requests` records every call, in order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServiceRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  body: any;
}

export interface ReportServiceStandIn {
  url: string;
  requests: ServiceRequest[];
  close(): Promise<void>;
}

export async function startReportService(opts: { username: string; password: string; csv: string; pending?: number; fail?: boolean }): Promise<ReportServiceStandIn> {
  const requests: ServiceRequest[] = [];
  const tokens = new Set<string>();
  const reports = new Map<string, { polls: number }>();
  let n = 0;

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const u = new URL(req.url ?? '/', 'http://x');
    let body: any = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      body = raw;
    }
    requests.push({ method: req.method ?? '', path: u.pathname, query: Object.fromEntries(u.searchParams), authorization: req.headers.authorization, body });
    const answer = (status: number, response: object) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ response }));
    };

    if (req.method === 'POST' && u.pathname === '/auth') {
      const auth = body?.auth;
      if (auth?.username !== opts.username || auth?.password !== opts.password) {
        return answer(401, { error_id: 'UNAUTH', error: 'No match found for user/pass', error_description: null, service: 'auth' });
      }
      const token = `hbapi:${++n}:${Math.random().toString(36).slice(2)}`;
      tokens.add(token);
      return answer(200, { status: 'OK', token, dbg_info: { instance: 'stand-in' } });
    }
    if (!req.headers.authorization || !tokens.has(req.headers.authorization)) {
      return answer(401, { error_id: 'NOAUTH', error: 'Authentication failed - not logged in' });
    }
    if (req.method === 'POST' && u.pathname === '/report') {
      const r = body?.report;
      if (!u.searchParams.get('advertiser_id')) return answer(400, { error_id: 'SYNTAX', error: 'advertiser_id is required' });
      if (r?.report_type !== 'attributed_conversions') return answer(400, { error_id: 'SYNTAX', error: 'invalid report_type' });
      const from = Date.parse(String(r.start_date).replace(' ', 'T') + 'Z');
      const to = Date.parse(String(r.end_date).replace(' ', 'T') + 'Z');
      if (!(to > from) || to - from > 33 * 86_400_000) return answer(400, { error_id: 'SYNTAX', error: 'report interval must be at most 33 days' });
      const id = `report${++n}`;
      reports.set(id, { polls: 0 });
      return answer(200, { status: 'OK', report_id: id });
    }
    const report = reports.get(u.searchParams.get('id') ?? '');
    if (req.method === 'GET' && u.pathname === '/report') {
      if (!report) return answer(404, { error_id: 'NOTFOUND', error: 'report not found' });
      const state = report.polls++ < (opts.pending ?? 0) ? 'pending' : opts.fail ? 'error' : 'ready';
      return answer(200, { status: 'OK', execution_status: state, report: { report_type: 'attributed_conversions', url: `report-download?id=${u.searchParams.get('id')}` } });
    }
    if (req.method === 'GET' && u.pathname === '/report-download') {
      if (!report || report.polls <= (opts.pending ?? 0)) return answer(400, { error_id: 'SYNTAX', error: 'report is not ready' });
      return void res.writeHead(200, { 'content-type': 'text/csv' }).end(opts.csv);
    }
    answer(404, { error_id: 'NOTFOUND', error: `no ${req.method} ${u.pathname}` });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
