// Guards the structured logs: one JSON line per request (with the request id answered in X-Request-Id) and per
// fire attempt; hostile user input (CR/LF, quotes, U+2028, U+0085 in tokens, user agents, order ids, paths) can
// never start a line of its own; keys and cookies never reach the log.
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptEvent } from '../../collector/dispatch/dispatcher.js';
import { createLogger } from '../../collector/log.js';
import { ADMIN_KEY, APP_KEY, bearer, post, SERVER_KEY, SITE, token } from '../support/collector.js';
import { startRouter, type TestRouter } from '../support/router.js';
import { startLoggedCollector, type LoggedCollector } from './support.js';

/** everything any common reader splits lines on: \n, \r, VT, FF, FS, GS, RS, NEL, LS, PS (Python's splitlines) */
const ANY_LINE_BREAK = /[\n\r\u000b\u000c\u001c\u001d\u001e\u0085\u2028\u2029]/;
const FORGED = '{"level":30,"msg":"forged","forged":true}';
const HOSTILE = [
  `x\r\n${FORGED}`,
  `x\n${FORGED}\n`,
  `x\u2028${FORGED}\u2029`,
  `x\u0085${FORGED}`,
  `"}\n${FORGED}`,
  `x\\"}${FORGED}`,
];

/** every write is one line, closed by \n, with no other line break of any kind, and parses as one JSON object */
function expectUnforgeable(writes: string[]): Record<string, unknown>[] {
  return writes.map((w) => {
    expect(w.endsWith('\n')).toBe(true);
    expect(ANY_LINE_BREAK.test(w.slice(0, -1))).toBe(false);
    const line = JSON.parse(w) as Record<string, unknown>;
    expect(line.msg).not.toBe('forged');
    expect(line.forged).toBeUndefined();
    return line;
  });
}

const memorySink = () => {
  const writes: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      writes.push(chunk.toString('utf8'));
      done();
    },
  });
  return { writes, stream };
};

/** a raw HTTP/1.1 request, for bytes fetch() would refuse to send (obs-text in a header) */
function rawRequest(port: number, head: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1', () => sock.end(head));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

describe('the logger', () => {
  it('escapes what JSON leaves raw, and gives the hostile text back byte for byte', () => {
    const { writes, stream } = memorySink();
    const log = createLogger('info', stream);
    for (const h of HOSTILE) log.info({ token: h, user_agent: h, order_id: h }, h);
    expect(writes).toHaveLength(HOSTILE.length);
    const lines = expectUnforgeable(writes);
    lines.forEach((line, i) => {
      expect(line).toMatchObject({ msg: HOSTILE[i], token: HOSTILE[i], user_agent: HOSTILE[i], order_id: HOSTILE[i] });
    });
  });

  it('redacts keys and cookies wherever a careless caller puts them', () => {
    const { writes, stream } = memorySink();
    const log = createLogger('info', stream);
    log.info({ req: { headers: { authorization: `Bearer ${SERVER_KEY}`, cookie: 'sspx_vid=secret-visitor' } } }, 'r');
    log.info({ headers: { authorization: `Bearer ${ADMIN_KEY}`, cookie: 'sspx_vid=secret-visitor' } }, 'h');
    log.info({ authorization: `Bearer ${APP_KEY}`, key: SERVER_KEY, keys: { server: [SERVER_KEY] } }, 'k');
    const text = writes.join('');
    for (const secret of [SERVER_KEY, ADMIN_KEY, APP_KEY, 'secret-visitor']) expect(text).not.toContain(secret);
    expect(text.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(7);
  });
});

describe('a running collector', () => {
  let c: LoggedCollector;
  beforeAll(async () => {
    c = await startLoggedCollector();
  });
  afterAll(() => c.stop());

  it('writes one line per request, carrying the id it answered in X-Request-Id', async () => {
    const answers = await Promise.all([
      fetch(`${c.url}/healthz`),
      fetch(`${c.url}/no/such/route`),
      fetch(`${c.url}/v1/fires`, { headers: bearer('not-a-key-not-a-key-not-a-key') }),
      fetch(`${c.url}/v1/conversions`, { method: 'POST', headers: { ...bearer(SERVER_KEY), 'content-type': 'application/json' }, body: '{' }),
    ]);
    const expected = [
      { method: 'GET', path: '/healthz', status: 200 },
      { method: 'GET', path: '/no/such/route', status: 404, error: 'not_found' },
      { method: 'GET', path: '/v1/fires', status: 401, error: 'invalid_key' },
      { method: 'POST', path: '/v1/conversions', status: 400, error: 'malformed_json' },
    ];
    await new Promise((r) => setImmediate(r)); // 'finish' fires after the client has the answer
    const requests = c.lines().filter((l) => l.msg === 'request');
    answers.forEach((res, i) => {
      const id = res.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      const mine = requests.filter((l) => l.request_id === id);
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ ...expected[i], level: 30, service: 'sspx-relay' });
      expect(typeof mine[0].ms).toBe('number');
      expect(typeof mine[0].time).toBe('string');
    });
    expect(new Set(requests.map((l) => l.request_id)).size).toBe(requests.length);
  });

  it('counts a beacon that succeeded in the metrics and logs none; logs a beacon refusal with its id and reason', async () => {
    const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36';
    const browser = { origin: SITE, 'user-agent': UA };
    const touch = await post(`${c.url}/t`, { t: token('log-quiet') }, browser);
    const ok = [
      touch,
      await post(`${c.url}/c`, { pixel: 'purchase', cid: touch.json.cid }, browser),
      await fetch(`${c.url}/i?sspdata=${token('log-quiet-view')}`, { headers: { 'user-agent': UA } }),
    ];
    const refused = await fetch(`${c.url}/t`, { method: 'POST', headers: { ...browser, 'content-type': 'text/plain' }, body: '{' });
    await new Promise((r) => setImmediate(r));
    expect(ok.map((r) => r.status)).toEqual([200, 200, 200]);
    const beaconLines = c.lines().filter((l) => l.msg === 'request' && ['/t', '/i', '/c'].includes(l.path as string));
    expect(beaconLines).toEqual([expect.objectContaining({ method: 'POST', path: '/t', status: 400, error: 'malformed_json', request_id: refused.headers.get('x-request-id') })]);
    expect(refused.headers.get('x-sspx-reason')).toBe('malformed_json');
    const metrics = await (await fetch(`${c.url}/metrics`, { headers: bearer(ADMIN_KEY) })).text();
    for (const [route, status] of [['/t', 200], ['/c', 200], ['/i', 200], ['/t', 400]])
      expect(metrics).toMatch(new RegExp(`^sspx_beacon_answers_total\\{route="${route}",status="${status}"\\} 1$`, 'm'));
  });

  it('cannot be made to write a forged line by tokens, user agents, order ids or paths', async () => {
    for (const h of HOSTILE) {
      const ua = { 'user-agent': h.replace(/[\r\n\u2028\u2029\u0085]/g, ' ') }; // fetch refuses line breaks in headers
      await post(`${c.url}/t`, { t: h, u: `https://shop.example/?q=${h}` }, { origin: SITE, ...ua });
      await post(`${c.url}/v1/touches`, { token: h, user_agent: h, url: h }, bearer(SERVER_KEY));
      await post(`${c.url}/v1/conversions`, { pixel: 'purchase', token: token(1), order_id: h, other: h }, bearer(SERVER_KEY));
      await post(`${c.url}/v1/conversions`, { pixel: h, token: h }, bearer(SERVER_KEY));
      await post(`${c.url}/v1/app/open`, { install_id: h, platform: 'ios', token: h }, bearer(APP_KEY));
      await fetch(`${c.url}/i?sspdata=${encodeURIComponent(h)}&idfa=${encodeURIComponent(h)}`, { headers: ua });
      await fetch(`${c.url}/${encodeURIComponent(h)}`);
      await fetch(`${c.url}/v1/fires/${encodeURIComponent(h)}`, { headers: bearer(ADMIN_KEY) });
    }
    // bytes fetch() will not send: NEL (0x85, read as U+0085), quotes and braces in a header and the request target
    const head = Buffer.concat([
      Buffer.from('GET /i?sspdata="}{"msg":"forged"} HTTP/1.1\r\nHost: x\r\nUser-Agent: a"}'),
      Buffer.from([0x85]),
      Buffer.from(`${FORGED}\r\nConnection: close\r\n\r\n`),
    ]);
    expect(await rawRequest(c.port, head)).toMatch(/^HTTP\/1\.1 [24]\d\d /);
    await new Promise((r) => setImmediate(r));
    const lines = expectUnforgeable(c.writes);
    expect(lines.filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(HOSTILE.length * 8 + 1);
  });

  it('never logs a key, the visitor cookie or the dashboard session, not even when a request fails with a 5xx', async () => {
    const cookie = { cookie: 'sspx_vid=AAAAsecretvisitorAAAA; other=1' };
    const secrets = [SERVER_KEY, ADMIN_KEY, APP_KEY, 'AAAAsecretvisitorAAAA'];
    await post(`${c.url}/v1/touches`, { token: token(3) }, { ...bearer(SERVER_KEY), ...cookie });
    await post(`${c.url}/v1/conversions`, { pixel: 'purchase', token: token(3) }, bearer(APP_KEY));
    await fetch(`${c.url}/v1/fires`, { headers: { ...bearer(ADMIN_KEY), ...cookie } });
    await post(`${c.url}/c`, { pixel: 'purchase' }, { origin: SITE, ...cookie });
    await fetch(`${c.url}/v1/fires`, { headers: bearer(`${ADMIN_KEY}x`) });
    // the dashboard: a refused login, a login, and a page with the session cookie it set
    const login = (key: string) =>
      fetch(`${c.url}/admin/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin: c.url, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ key, next: '/admin' }),
      });
    expect((await login(`${ADMIN_KEY}x`)).status).toBe(401);
    const session = (await login(ADMIN_KEY)).headers.getSetCookie().find((h) => h.startsWith('sspx_admin='));
    expect(session).toBeDefined();
    const sessionValue = session!.split(';')[0];
    expect((await fetch(`${c.url}/admin`, { headers: { cookie: sessionValue }, redirect: 'manual' })).status).toBe(200);
    secrets.push(sessionValue.slice('sspx_admin='.length));
    await c.ctx.store.close(); // the next conversion cannot commit: a 503 and an error line with the cause
    const failed = await post(`${c.url}/v1/conversions`, { pixel: 'purchase', token: token(4) }, { ...bearer(SERVER_KEY), ...cookie });
    expect(failed.status).toBe(503);
    await new Promise((r) => setImmediate(r));
    expect(c.lines().some((l) => l.msg === 'request failed' && l.level === 50)).toBe(true);
    const text = c.writes.join('');
    expect(c.lines().some((l) => l.msg === 'admin login')).toBe(true);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe('the dispatcher', () => {
  let router: TestRouter;
  let c: LoggedCollector;
  beforeAll(async () => {
    router = await startRouter();
    c = await startLoggedCollector({ dispatcher: true, router: router.url, poll_interval_ms: 50 });
  });
  afterAll(async () => {
    await c.stop();
    await router.close();
  });

  it('writes one line per attempt, with the fire id, outcome and status', async () => {
    const attempts: AttemptEvent[] = [];
    c.dispatcher!.on('attempt', (e) => attempts.push(e));
    router.script({ status: 503 });
    const first = new Promise((resolve) => c.dispatcher!.once('attempt', resolve));
    const res = await post(`${c.url}/v1/conversions`, { pixel: 'purchase', token: token(8), order_id: 'L-1' }, bearer(SERVER_KEY));
    expect(res.json.outcome).toBe('attributed');
    await first;
    c.clock.advance(10 * 60_000); // past the retry's due time: the next claim fires it
    await router.waitFor((r) => r.logged.length === 1);
    await new Promise<void>((resolve) => (attempts.length >= 2 ? resolve() : c.dispatcher!.once('attempt', () => resolve())));
    const lines = c.lines().filter((l) => l.msg === 'attempt' && l.fire_id === res.json.fire_id);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ attempt: 1, outcome: 'retry', status: 503, error_class: 'http_5xx', next_state: 'queued', level: 40 });
    expect(lines[1]).toMatchObject({ attempt: 2, outcome: 'fired', status: 200, next_state: 'fired', level: 30 });
    expectUnforgeable(c.writes);
  });
});
