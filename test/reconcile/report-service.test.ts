// Guards `sspx-relay reconcile --fetch` against a local stand-in of Microsoft's Report Service (never the real API):
// it authenticates with the configured credentials (bad ones end in a clear error, before any report is asked for),
// requests the attributed_conversions report for the UTC range, polls until it is ready, downloads and reconciles it,
// and refuses ranges the service would (over 33 days, older than 90) without calling it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../collector/clock.js';
import { runReconcile } from '../../collector/commands/reconcile.js';
import { lastReport } from '../../collector/reconcile/load.js';
import { SqliteStore } from '../../collector/store/sqlite.js';
import { captureIo } from '../support/io.js';
import { startReportService, type ReportServiceStandIn } from '../support/report-service.js';
import { FIXTURES, FIXTURE_CONFIG, FROM, NOW, TO, seedFixture } from './fixture.js';

const CSV = readFileSync(join(FIXTURES, 'attributed-conversions.csv'), 'utf8');
const USER = 'api-user@shop.example';
const PASSWORD = 'correct horse battery staple';

describe('reconcile --fetch from the Report Service', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sspx-report-service-'));
  const dbPath = join(dir, 'sspx.db');
  let service: ReportServiceStandIn | undefined;
  const sleeps: number[] = [];
  const sleep = async (ms: number) => void sleeps.push(ms);

  beforeAll(async () => {
    const store = new SqliteStore(dbPath);
    await store.migrate();
    await seedFixture(store);
    await store.close();
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
    sleeps.length = 0;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** a configuration naming the stand-in, with these credentials */
  const configFor = (url: string, over: Record<string, unknown> = {}, top: Record<string, unknown> = { allow_insecure_router: true }) => {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(path, JSON.stringify({
      ...FIXTURE_CONFIG, ...top, store: `sqlite:${dbPath}`,
      report_service: { url, username: USER, password: PASSWORD, advertiser_id: 4242, poll_seconds: 2, timeout_seconds: 10, ...over },
    }));
    return path;
  };
  const fetchRange = { fetch: true, since: '2026-11-16', until: '2026-11-18' };

  it('authenticates, requests the report, polls until ready, downloads and reconciles it', async () => {
    service = await startReportService({ username: USER, password: PASSWORD, csv: CSV, pending: 2 });
    const io = captureIo();
    const code = await runReconcile({ config: configFor(service.url), ...fetchRange, json: true }, io, new ManualClock(NOW), { sleep });
    expect(io.stderr()).toContain('report report2 requested for 2026-11-16 00:00:00 to 2026-11-18 00:00:00 UTC');
    expect(code).toBe(0);

    const calls = service.requests.map((r) => `${r.method} ${r.path}`);
    expect(calls).toEqual(['POST /auth', 'POST /report', 'GET /report', 'GET /report', 'GET /report', 'GET /report-download']);
    const [auth, request, ...rest] = service.requests;
    expect(auth.body).toEqual({ auth: { username: USER, password: PASSWORD } });
    expect(request.query).toEqual({ advertiser_id: '4242' });
    expect(request.body.report).toMatchObject({
      report_type: 'attributed_conversions', start_date: '2026-11-16 00:00:00', end_date: '2026-11-18 00:00:00', timezone: 'UTC', format: 'csv',
    });
    expect(request.body.report.columns).toEqual(expect.arrayContaining(['datetime', 'pixel_id', 'order_id', 'post_click_or_post_view_conv', 'post_click_or_post_view_revenue', 'line_item_name']));
    // the token from /auth goes back as the Authorization header on every later call
    for (const r of [request, ...rest]) expect(r.authorization).toMatch(/^hbapi:1:/);
    expect(rest.slice(0, 3).map((r) => r.query.id)).toEqual(['report2', 'report2', 'report2']);
    expect(sleeps).toEqual([2000, 2000]); // two "pending" answers, poll_seconds apart

    const json = JSON.parse(io.stdout());
    expect(json).toMatchObject({ matched: 4, fired_not_counted: 4, counted_not_fired: 2, not_fired_here: 6, value_mismatch: 1 });
    expect(json.period).toMatchObject({ from: '2026-11-16T00:00:00Z', to: '2026-11-18T00:00:00Z', source: 'Report Service' });

    const store = new SqliteStore(dbPath);
    try {
      expect(await lastReport(store)).toMatchObject({ source: 'Report Service', from: FROM, to: TO, saved_at: NOW });
    } finally {
      await store.close();
    }
  });

  it('ends with a clear error on bad credentials, before asking for any report', async () => {
    service = await startReportService({ username: USER, password: 'another password', csv: CSV });
    const io = captureIo();
    expect(await runReconcile({ config: configFor(service.url), ...fetchRange }, io, new ManualClock(NOW), { sleep })).toBe(1);
    expect(io.stderr()).toContain('reconcile: authentication: UNAUTH: No match found for user/pass — check report_service.username and report_service.password');
    expect(service.requests.map((r) => r.path)).toEqual(['/auth']);
    expect(io.stdout()).toBe('');
  });

  it('says so when the report fails on Microsoft’s side, or is not ready in time', async () => {
    service = await startReportService({ username: USER, password: PASSWORD, csv: CSV, fail: true });
    let io = captureIo();
    expect(await runReconcile({ config: configFor(service.url), ...fetchRange }, io, new ManualClock(NOW), { sleep })).toBe(1);
    expect(io.stderr()).toContain("reconcile: report status: report report2 failed on Microsoft's side (error)");
    await service.close();

    service = await startReportService({ username: USER, password: PASSWORD, csv: CSV, pending: 100 });
    io = captureIo();
    expect(await runReconcile({ config: configFor(service.url), ...fetchRange }, io, new ManualClock(NOW), { sleep })).toBe(1);
    expect(io.stderr()).toContain('reconcile: report status: report report2 not ready after 10 s (still pending)');
    expect(service.requests.filter((r) => r.path === '/report' && r.method === 'GET')).toHaveLength(5); // 10 s / 2 s
    expect(service.requests.some((r) => r.path === '/report-download')).toBe(false);
  });

  it('refuses what the Report Service would, without calling it', async () => {
    service = await startReportService({ username: USER, password: PASSWORD, csv: CSV });
    const cases: [Record<string, string>, string][] = [
      [{ since: '2026-10-01', until: '2026-11-04' }, 'the Report Service answers at most 33 days at once'],
      [{ since: '2026-08-01', until: '2026-08-02' }, 'the Report Service keeps 90 days: --since must be after 2026-08-20'],
      [{ since: '2026-11-18', until: '2026-11-16' }, '--until must be after --since'],
      [{ since: 'last week', until: '2026-11-16' }, '--since: last week is not a UTC date or time'],
    ];
    for (const [range, message] of cases) {
      const io = captureIo();
      expect(await runReconcile({ config: configFor(service.url), fetch: true, ...range }, io, new ManualClock(NOW), { sleep })).toBe(1);
      expect(io.stderr()).toContain(message);
    }
    expect(service.requests).toEqual([]);
  });

  it('needs report_service in the configuration, and an https URL unless allow_insecure_router', async () => {
    service = await startReportService({ username: USER, password: PASSWORD, csv: CSV });
    const none = join(dir, 'no-service.json');
    writeFileSync(none, JSON.stringify({ ...FIXTURE_CONFIG, store: `sqlite:${dbPath}` }));
    let io = captureIo();
    expect(await runReconcile({ config: none, ...fetchRange }, io, new ManualClock(NOW), { sleep })).toBe(1);
    expect(io.stderr()).toContain('--fetch needs report_service (url, username, password, advertiser_id) in the configuration');

    io = captureIo();
    expect(await runReconcile({ config: configFor(service.url, {}, {}), ...fetchRange }, io, new ManualClock(NOW), { sleep })).toBe(1);
    expect(io.stderr()).toContain('report_service.url must be a public https:// URL');
    expect(service.requests).toEqual([]);
  });
});
