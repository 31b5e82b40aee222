// Guards the verbose transcript ("verbose logs of the pixel fires", in curl --verbose -L's words) and the evidence
// text: exact rendering of recorded hops, redirects, reuse, errors, a hostile body that must not reach a terminal
// raw, and an attempt whose lease expired; plus a real fire through the local router rendered end to end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FireAgents, httpFire, type HopDetail } from '../../collector/dispatch/http-fire.js';
import { renderAttempt, renderEvidence, renderTranscript } from '../../collector/dispatch/transcript.js';
import type { Attempt, FireDetail } from '../../collector/store/store.js';
import { startRouter, type TestRouter } from '../support/router.js';

const UA: [string, string] = ['User-Agent', 'sspx-relay/0.1.0'];
const req = (url: string): HopDetail['request'] => ({
  method: 'GET', url, headers: [['Host', new URL(url).host], UA, ['Accept', '*/*'], ['Connection', 'keep-alive']],
});

const redirectThenOk: HopDetail[] = [
  {
    request: req('https://sspx-router.adnxs.com/sspx?id=59633&sspdata=abc.'),
    response: { http_version: '1.1', status: 302, status_text: 'Found', headers: [['Location', '/logged?x=1'], ['Content-Length', '0']], body_excerpt: '' },
    at_ms: 0, duration_ms: 41.5, remote_address: '192.0.2.10:443', connection: 3, reused: false, connected: true, sent: true,
    tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', subject: 'sspx-router.adnxs.com', issuer: 'Some CA', valid_to: 'Jan  1 00:00:00 2100 GMT' },
    timings: { connect_ms: 10, tls_ms: 30, first_byte_ms: 41 },
  },
  {
    request: req('https://sspx-router.adnxs.com/logged?x=1'),
    response: { http_version: '1.1', status: 200, status_text: 'OK', headers: [['Content-Type', 'image/gif'], ['Connection', 'close']], body_excerpt: 'GIF89a' },
    at_ms: 42, duration_ms: 5, remote_address: '192.0.2.10:443', connection: 3, reused: true, connected: true, sent: true,
    timings: { first_byte_ms: 4.5 }, body_bytes: 43,
  },
];

describe('renderTranscript', () => {
  it('renders a redirect over TLS and a reused connection the way curl --verbose -L does', () => {
    expect(renderTranscript(redirectThenOk)).toBe(`*   Trying 192.0.2.10:443...
* Connected to sspx-router.adnxs.com (192.0.2.10) port 443 (#3)
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384
* Server certificate:
*  subject: CN=sspx-router.adnxs.com
*  expire date: Jan  1 00:00:00 2100 GMT
*  issuer: CN=Some CA
> GET /sspx?id=59633&sspdata=abc. HTTP/1.1
> Host: sspx-router.adnxs.com
> User-Agent: sspx-relay/0.1.0
> Accept: */*
> Connection: keep-alive
>
< HTTP/1.1 302 Found
< Location: /logged?x=1
< Content-Length: 0
<
* timing: connect 10 ms, tls 30 ms, first byte 41 ms, total 41.5 ms (at +0 ms)
* Connection #3 to host sspx-router.adnxs.com left intact
* Issue another request to this URL: 'https://sspx-router.adnxs.com/logged?x=1'
* Re-using existing connection #3 with host sspx-router.adnxs.com
> GET /logged?x=1 HTTP/1.1
> Host: sspx-router.adnxs.com
> User-Agent: sspx-relay/0.1.0
> Accept: */*
> Connection: keep-alive
>
< HTTP/1.1 200 OK
< Content-Type: image/gif
< Connection: close
<
GIF89a
* [body excerpt: first 6 of 43 bytes]
* timing: first byte 4.5 ms, total 5 ms (at +42 ms)
* Closing connection #3
`);
  });

  it.each([
    {
      name: 'a refused connection shows no request lines',
      hop: { request: req('http://127.0.0.1:1/sspx?id=1&sspdata=t'), at_ms: 0, duration_ms: 1, error: 'connect to 127.0.0.1 port 1 failed: Connection refused (ECONNREFUSED)', connection: 0, sent: false },
      has: ['*   Trying 127.0.0.1:1...', '* connect to 127.0.0.1 port 1 failed: Connection refused (ECONNREFUSED)'],
      lacks: ['> GET', '* Connected'],
    },
    {
      name: 'a timeout after sending shows the request, then the error',
      hop: { request: req('http://127.0.0.1:8/sspx?id=1&sspdata=t'), at_ms: 0, duration_ms: 300, remote_address: '127.0.0.1:8', connected: true, sent: true, connection: 1, error: 'Operation timed out after 300 milliseconds with 0 bytes received (the request was sent)' },
      has: ['* Connected to 127.0.0.1 (127.0.0.1) port 8 (#1)', '> GET /sspx?id=1&sspdata=t HTTP/1.1', '* Operation timed out after 300 milliseconds'],
      lacks: ['<', 'left intact'],
    },
    {
      name: 'control characters from the router are escaped, not printed',
      hop: { request: req('http://127.0.0.1:8/x'), at_ms: 0, duration_ms: 1, sent: true, connected: true, remote_address: '127.0.0.1:8', response: { http_version: '1.1', status: 500, status_text: 'Oops', headers: [], body_excerpt: 'a\u001b[31mred\u0007\r\nnext' } },
      has: ['a\\x1b[31mred\\x07', 'next', '< HTTP/1.1 500 Oops'],
      lacks: ['\u001b', '\u0007', '\r'],
    },
    {
      name: 'a refused redirect says why, after the response',
      hop: { request: req('http://127.0.0.1:8/a'), at_ms: 0, duration_ms: 1, sent: true, connected: true, remote_address: '127.0.0.1:8', response: { http_version: '1.1', status: 302, status_text: 'Found', headers: [['Location', '/a']], body_excerpt: '' }, error: "Redirect loop: 'http://127.0.0.1:8/a' was already requested in this attempt" },
      has: ["< Location: /a", "* Redirect loop: 'http://127.0.0.1:8/a' was already requested in this attempt"],
      lacks: ['Issue another request', 'left intact'],
    },
  ] as { name: string; hop: HopDetail; has: string[]; lacks: string[] }[])('$name', ({ hop, has, lacks }) => {
    const text = renderTranscript([hop]);
    const lines = text.split('\n');
    for (const h of has) expect(text).toContain(h);
    for (const l of lacks) expect(l === '<' ? lines.includes('<') : text.includes(l)).toBe(false);
  });
});

const attempt = (a: Partial<Attempt>): Attempt => ({
  id: 1, fire_id: 'f1', n: 1, owner: 'host:1:abcd', started_at: Date.UTC(2026, 0, 1), duration_ms: 46.5, outcome: 'fired',
  error_class: null, status: 200, url: 'https://sspx-router.adnxs.com/sspx?id=59633&sspdata=abc.', hops: redirectThenOk, next_attempt_at: null, ...a,
});

describe('renderAttempt and renderEvidence', () => {
  it('explains an attempt whose lease expired', () => {
    const text = renderAttempt(attempt({ outcome: 'lease_expired', hops: null, owner: 'dead:7:beef', error_class: 'lease_expired', status: null, url: null }));
    expect(text).toMatch(/^\* lease expired: dead:7:beef held this fire until 2026-01-01T00:00:00.000Z/);
    expect(text).toContain('may or may not have reached the router');
  });

  it('puts the fire, its conversion and every attempt with its transcript into one text', () => {
    const fire: FireDetail = {
      id: 'f1', conversion_id: 'c1', pixel_id: 59633, order_id: 'A1', value: '10', other: null, token: 'abc.', state: 'fired', dry_run: false, test: false, sending_at: null,
      attempt_count: 2, next_attempt_at: null, lease_owner: null, lease_expires_at: null, last_outcome: 'fired', last_error: null,
      created_at: Date.UTC(2026, 0, 1), updated_at: Date.UTC(2026, 0, 1), fired_at: Date.UTC(2026, 0, 1, 0, 0, 6),
      attempts: [
        attempt({ n: 1, outcome: 'retry', error_class: 'http_5xx', status: 500, next_attempt_at: Date.UTC(2026, 0, 1, 0, 0, 5), hops: [{ ...redirectThenOk[0], response: { http_version: '1.1', status: 500, status_text: 'Internal Server Error', headers: [], body_excerpt: '' } }] }),
        attempt({ n: 2, started_at: Date.UTC(2026, 0, 1, 0, 0, 5) }),
      ],
      conversion: {
        id: 'c1', pixel_id: 59633, pixel: 'purchase', source: 'server', order_id: 'A1', value: '10', other: null, visitor_id: null, token: 'abc.',
        cid: null, install_id: null, device_id: null, outcome: 'attributed', touch_id: null, user_key: null, dedup_key: null, duplicate_of: null,
        occurred_at: Date.UTC(2026, 0, 1), created_at: Date.UTC(2026, 0, 1), warning: null, rule: null, superseded_by: null, test: false,
      },
      touch: null,
      linked: [],
    };
    const text = renderEvidence(fire, 'purchase', Date.UTC(2026, 0, 2));
    expect(text).toContain('fire:        f1');
    expect(text).toContain('pixel:       59633 (purchase)');
    expect(text).toContain('state:       fired after 2 attempt(s), fired at 2026-01-01T00:00:06.000Z');
    expect(text).toContain('conversion:  c1');
    const first = text.indexOf('== attempt 1 · 2026-01-01T00:00:00.000Z · retry · http_5xx · HTTP 500');
    const second = text.indexOf('== attempt 2 · 2026-01-01T00:00:05.000Z · fired · HTTP 200');
    expect(first).toBeGreaterThan(0);
    expect(second).toBeGreaterThan(first);
    expect(text).toContain('next attempt 2026-01-01T00:00:05.000Z');
    expect(text).toContain("$ curl --verbose -L 'https://sspx-router.adnxs.com/sspx?id=59633&sspdata=abc.'");
    expect(text.slice(second)).toContain('< HTTP/1.1 200 OK');
  });
});

describe('a real fire, rendered', () => {
  let router: TestRouter;
  const agents = new FireAgents(2);
  beforeAll(async () => (router = await startRouter()));
  afterAll(async () => {
    agents.destroy();
    await router.close();
  });

  it('shows both hops of the router redirect with the real port and headers', async () => {
    const r = await httpFire(`${router.url}?id=59633&sspdata=abc.`, { connect_timeout_ms: 1000, request_timeout_ms: 3000, max_redirects: 5, agents, allow_insecure: true });
    const lines = renderTranscript(r.hops).split('\n');
    const p = router.port;
    const at = (line: string) => {
      const i = lines.indexOf(line);
      expect(i, `missing line: ${line}\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order = [
      at(`*   Trying 127.0.0.1:${p}...`),
      lines.findIndex((l) => l.startsWith(`* Connected to 127.0.0.1 (127.0.0.1) port ${p} (#`)),
      at('> GET /sspx?id=59633&sspdata=abc. HTTP/1.1'),
      at(`> Host: 127.0.0.1:${p}`),
      at('< HTTP/1.1 302 Found'),
      at('< Location: /logged?id=59633&sspdata=abc.'),
      at(`* Issue another request to this URL: 'http://127.0.0.1:${p}/logged?id=59633&sspdata=abc.'`),
      lines.findIndex((l) => l.startsWith('* Re-using existing connection #')),
      at('> GET /logged?id=59633&sspdata=abc. HTTP/1.1'),
      at('< HTTP/1.1 200 OK'),
      at('logged'),
    ];
    expect(order.every((v, i) => v >= 0 && (i === 0 || v > order[i - 1]))).toBe(true);
  });
});
