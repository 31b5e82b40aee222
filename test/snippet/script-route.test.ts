// Guards how a real collector serves GET /sspx.js, the bytes every landing page pays: brotli or gzip by
// Accept-Encoding (each decompressing to dist/sspx.js exactly), `Vary: Accept-Encoding`, a strong ETag per encoding
// with 304 on If-None-Match, a year's immutable cache for `?v=<version>` and an hour for the plain URL, CORS and CORP
// for a cross-origin script, and no other header: no HTML security headers, no request id. The response head is read
// off the socket, so its byte count is what goes on the wire.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chooseEncoding, scriptHandler } from '../../collector/http/routes/script.js';
import { startTestCollector, type TestCollector } from '../support/collector.js';
import { SCRIPT_PATH } from './harness.js';

const script = readFileSync(SCRIPT_PATH);

interface Raw {
  status: number;
  /** the status line and headers as sent, with the blank line */
  head: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** one keep-alive HTTP/1.1 request over a plain socket, as a browser makes it: the response exactly as it arrives */
function request(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let all = Buffer.alloc(0);
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.on('connect', () => socket.write(lines.join('\r\n') + '\r\n\r\n'));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      all = Buffer.concat([all, chunk]);
      const end = all.indexOf('\r\n\r\n') + 4;
      if (end < 4) return;
      const head = all.subarray(0, end).toString('latin1');
      const [status, ...fields] = head.trim().split('\r\n');
      const parsed: Record<string, string> = {};
      for (const f of fields) parsed[f.slice(0, f.indexOf(':')).toLowerCase()] = f.slice(f.indexOf(':') + 1).trim();
      const code = Number(status.split(' ')[1]);
      const length = method === 'HEAD' || code === 304 ? 0 : Number(parsed['content-length'] ?? 0);
      if (all.length < end + length) return;
      socket.destroy();
      resolve({ status: code, head, headers: parsed, body: all.subarray(end, end + length) });
    });
  });
}

let c: TestCollector;
let port: number;
beforeAll(async () => {
  c = await startTestCollector();
  port = Number(new URL(c.url).port);
});
afterAll(() => c.stop());

/** the only headers a script's 200 carries (Node adds date, connection and keep-alive) */
const SCRIPT_HEADERS = ['access-control-allow-origin', 'cache-control', 'connection', 'content-length', 'content-type', 'cross-origin-resource-policy', 'date', 'etag', 'keep-alive', 'vary'];

describe('GET /sspx.js', () => {
  test.each([
    { accept: 'br', encoding: 'br', decode: brotliDecompressSync },
    { accept: 'gzip, deflate, br, zstd', encoding: 'br', decode: brotliDecompressSync },
    { accept: 'gzip, deflate', encoding: 'gzip', decode: gunzipSync },
    { accept: 'br;q=0, gzip', encoding: 'gzip', decode: gunzipSync },
    { accept: 'identity', encoding: undefined, decode: (b: Buffer) => b },
    { accept: undefined, encoding: undefined, decode: (b: Buffer) => b },
  ])('Accept-Encoding: $accept → $encoding, only the headers a script needs', async ({ accept, encoding, decode }) => {
    const res = await request(port, '/sspx.js', accept === undefined ? {} : { 'Accept-Encoding': accept });
    expect(res.status).toBe(200);
    expect(decode(res.body)).toEqual(script);
    expect(res.headers['content-encoding']).toBe(encoding);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
    expect(Object.keys(res.headers).sort()).toEqual([...SCRIPT_HEADERS, ...(encoding ? ['content-encoding'] : [])].sort());
    expect(res.headers).toMatchObject({
      'content-type': 'text/javascript; charset=utf-8',
      vary: 'Accept-Encoding',
      'cache-control': 'public, max-age=3600',
      'access-control-allow-origin': '*',
      'cross-origin-resource-policy': 'cross-origin',
    });
    expect(res.headers.etag).toMatch(/^"[\w-]{16}(-br|-gzip)?"$/); // strong: no W/
  });

  test('brotli: the head stays within 400 bytes and the body within 800 (issue 16)', async () => {
    const res = await request(port, '/sspx.js', { 'Accept-Encoding': 'br' });
    expect(res.head.length).toBeLessThanOrEqual(400);
    expect(res.body.length).toBeLessThanOrEqual(800);
  });

  test('each encoding has its own ETag, and a cache that holds it gets a 304 with the cache headers', async () => {
    const br = await request(port, '/sspx.js', { 'Accept-Encoding': 'br' });
    const gzip = await request(port, '/sspx.js', { 'Accept-Encoding': 'gzip' });
    const plain = await request(port, '/sspx.js');
    expect(new Set([br.headers.etag, gzip.headers.etag, plain.headers.etag]).size).toBe(3);
    const again = await request(port, '/sspx.js', { 'Accept-Encoding': 'br', 'If-None-Match': `"other", ${br.headers.etag}` });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers).toMatchObject({ etag: br.headers.etag, vary: 'Accept-Encoding', 'cache-control': 'public, max-age=3600' });
    // the gzip ETag does not validate the brotli representation
    expect((await request(port, '/sspx.js', { 'Accept-Encoding': 'br', 'If-None-Match': gzip.headers.etag })).status).toBe(200);
  });

  test('?v=<version> is cached for a year as immutable; a stale or foreign version only for an hour', async () => {
    const version = JSON.parse((await request(port, '/sspx.js')).headers.etag);
    const pinned = await request(port, `/sspx.js?v=${version}`, { 'Accept-Encoding': 'br' });
    expect(pinned.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(brotliDecompressSync(pinned.body)).toEqual(script);
    expect((await request(port, '/sspx.js?v=0000000000000000')).headers['cache-control']).toBe('public, max-age=3600');
  });

  test('HEAD answers the headers without the body', async () => {
    const res = await request(port, '/sspx.js', { 'Accept-Encoding': 'br' }, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
  });

  test('other routes keep their security headers', async () => {
    const res = await request(port, '/healthz');
    expect(res.headers['content-security-policy']).toMatch(/default-src/);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
  });
});

test.each([
  ['br', 'br'],
  ['BR;q=1', 'br'],
  ['gzip;q=0.5, br;q=0', 'gzip'],
  ['*', 'br'],
  ['*;q=0, gzip', 'gzip'],
  ['deflate', 'identity'],
  ['', 'identity'],
])('Accept-Encoding %j chooses %s', (accept, encoding) => {
  expect(chooseEncoding(accept)).toBe(encoding);
});

test('before the script is built: 503 with a named error, and other paths pass on', async () => {
  const handler = scriptHandler('/nonexistent/sspx.js');
  const server = createServer((req, res) => handler(req, res, () => res.writeHead(404).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const at = (server.address() as AddressInfo).port;
    const res = await request(at, '/sspx.js');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body.toString())).toMatchObject({ error: 'script_not_built' });
    expect((await request(at, '/sspx.json')).status).toBe(404);
    expect((await request(at, '/sspx.js', {}, 'POST')).status).toBe(404);
  } finally {
    server.close();
  }
});
