// Microsoft's Report Service (Xandr API): authenticate (`POST /auth` answers a token, sent back as the
// Authorization header), request the attributed_conversions report for a UTC range (`POST /report`), poll
// `GET /report?id=` until its execution_status is `ready`, then `GET /report-download?id=` for the CSV.
// Every failure names the step and what Microsoft said, so an operator can act on it.
import type { Config } from '../config.js';
import { hostClass } from '../net.js';
import { REPORT_COLUMNS } from './report.js';
import { utcText } from '../clock.js';

export type ReportServiceConfig = NonNullable<Config['report_service']>;

export class ReportServiceError extends Error {}

export interface FetchOptions {
  /** waits between polls; tests pass a quick one */
  sleep?: (ms: number) => Promise<void>;
  /** one line per step, for the terminal */
  progress?: (line: string) => void;
  /** allow http:// and loopback or private hosts (the configuration's allow_insecure_router) */
  allowInsecure?: boolean;
}

const REQUEST_TIMEOUT_MS = 60_000;
const sleepFor = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** the Report Service's time format, UTC */
/** the Report Service's time format: UTC to the second */
const apiTime = (t: number) => utcText(t, 'second');

interface Envelope {
  response?: { status?: string; error?: string; error_id?: string; error_description?: string; token?: string; report_id?: string; execution_status?: string };
}

function serviceUrl(config: ReportServiceConfig, allowInsecure: boolean): URL {
  const url = new URL(config.url);
  const kind = hostClass(url.hostname);
  if (kind === 'metadata') throw new ReportServiceError(`report_service.url: ${url.hostname} is a link-local or metadata address`);
  if (!allowInsecure && (url.protocol !== 'https:' || kind === 'local')) {
    throw new ReportServiceError('report_service.url must be a public https:// URL (allow_insecure_router permits others, for local testing)');
  }
  return url;
}

/** The attributed-conversions report for [from, to) as CSV text. */
export async function fetchReport(config: ReportServiceConfig, from: number, to: number, opts: FetchOptions = {}): Promise<string> {
  const base = serviceUrl(config, opts.allowInsecure ?? false);
  const at = (path: string, query: Record<string, string> = {}) => {
    const u = new URL(path, base.href.endsWith('/') ? base.href : base.href + '/');
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u;
  };
  const say = opts.progress ?? (() => undefined);
  const sleep = opts.sleep ?? sleepFor;

  const call = async (step: string, url: URL, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (err) {
      throw new ReportServiceError(`${step}: the Report Service at ${base.origin} could not be reached (${(err as Error).message})`);
    }
  };
  const json = async (step: string, res: Response): Promise<NonNullable<Envelope['response']>> => {
    const text = await res.text();
    let body: Envelope;
    try {
      body = JSON.parse(text) as Envelope;
    } catch {
      throw new ReportServiceError(`${step}: HTTP ${res.status}, not a JSON answer: ${text.slice(0, 200)}`);
    }
    const r = body.response ?? {};
    if (!res.ok || r.error || r.error_id || (r.status && r.status !== 'OK')) {
      const said = [r.error_id, r.error ?? r.error_description].filter(Boolean).join(': ') || `HTTP ${res.status}`;
      throw new ReportServiceError(`${step}: ${said}`);
    }
    return r;
  };

  say(`authenticating as ${config.username} at ${base.origin}`);
  const authRes = await call('authentication', at('auth'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ auth: { username: config.username, password: config.password } }),
  });
  let token: string | undefined;
  try {
    token = (await json('authentication', authRes)).token;
  } catch (err) {
    throw new ReportServiceError(`${(err as Error).message} — check report_service.username and report_service.password`);
  }
  if (!token) throw new ReportServiceError('authentication: the Report Service answered no token');
  const auth = { authorization: token };

  const request = {
    report: {
      report_type: 'attributed_conversions',
      columns: REPORT_COLUMNS.map(([, name]) => name),
      start_date: apiTime(from),
      end_date: apiTime(to),
      timezone: 'UTC',
      format: 'csv',
    },
  };
  const created = await json(
    'report request',
    await call('report request', at('report', { advertiser_id: String(config.advertiser_id) }), {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(request),
    }),
  );
  const id = created.report_id;
  if (!id) throw new ReportServiceError('report request: the Report Service answered no report_id');
  say(`report ${id} requested for ${apiTime(from)} to ${apiTime(to)} UTC`);

  const polls = Math.max(1, Math.ceil(config.timeout_seconds / config.poll_seconds));
  for (let i = 0; ; i++) {
    const status = await json('report status', await call('report status', at('report', { id }), { headers: auth }));
    const state = status.execution_status ?? 'unknown';
    if (state === 'ready') break;
    if (state === 'error' || state === 'failed') throw new ReportServiceError(`report status: report ${id} failed on Microsoft's side (${state})`);
    if (i + 1 >= polls) throw new ReportServiceError(`report status: report ${id} not ready after ${config.timeout_seconds} s (still ${state})`);
    say(`report ${id}: ${state}`);
    await sleep(config.poll_seconds * 1000);
  }

  const download = await call('download', at('report-download', { id }), { headers: auth });
  const body = await download.text();
  if (!download.ok) throw new ReportServiceError(`download: HTTP ${download.status}: ${body.slice(0, 200)}`);
  say(`report ${id} downloaded (${body.length} bytes)`);
  return body;
}
