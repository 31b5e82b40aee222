// `npm run demo`: a whole conversion on one machine. A stand-in for Microsoft's router that redirects once (as
// the real one often does), a collector on a fresh SQLite file, and a sample shop with a landing page and a
// thank-you page. Open the printed landing URL, click through to the thank-you page, and watch the fire arrive.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from './config.js';
import { startCollector } from './server.js';

const listen = (server: http.Server) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
a.button{display:inline-block;padding:.6rem 1.2rem;background:#0a66c2;color:#fff;border-radius:6px;text-decoration:none}</style>
</head><body>${body}</body></html>`;

/** the sample shop: a landing page with the script tag, a thank-you page that reports the conversion */
export async function startDemoSite(collectorUrl: () => string): Promise<{ url: string; close(): Promise<void> }> {
  const stub = `<script>window.sspx=window.sspx||function(){(sspx.q=sspx.q||[]).push(arguments)}</script>`;
  const server = http.createServer((req, res) => {
    const tag = `<script async src="${collectorUrl()}/sspx.js" data-debug data-decorate="a[href*='play.google.com']"></script>`;
    const url = new URL(req.url ?? '/', 'http://localhost');
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    if (url.pathname === '/landing') {
      return void res.end(page('Demo shop', `${stub}${tag}
<h1>Demo shop</h1><p>You came from an ad: the script sent its token to the collector.</p>
<p><a class="button" href="/thanks?order=${randomBytes(4).toString('hex')}">Buy for 49.90</a></p>
<p><a href="https://play.google.com/store/apps/details?id=example.shop">Get the app</a> (decorated with the click id)</p>`));
    }
    if (url.pathname === '/thanks') {
      const order = (url.searchParams.get('order') ?? 'demo').replace(/[^\w-]/g, '').slice(0, 36) || 'demo';
      return void res.end(page('Thank you', `${stub}
<script>sspx('convert', { pixel: 'purchase', order_id: '${order}', value: '49.90' }, function (r) {
  document.getElementById('outcome').textContent = JSON.stringify(r);
});</script>${tag}
<h1>Thank you</h1><p>Order ${order}. The collector answered: <code id="outcome">…</code></p>`));
    }
    res.statusCode = 404;
    res.end(page('Not found', '<p>Try /landing</p>'));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

/** a stand-in router: /sspx answers 302 to /logged with the same query; /logged answers 200 and prints the fire */
async function startDemoRouter(onLogged: (query: string) => void) {
  const server = http.createServer((req, res) => {
    const [path, query = ''] = (req.url ?? '').split('?');
    if (path === '/sspx') return void res.writeHead(302, { Location: `/logged?${query}` }).end();
    if (path === '/logged') {
      onLogged(query);
      return void res.writeHead(200, { 'Content-Type': 'text/plain' }).end('logged');
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/sspx`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function main(): Promise<void> {
  const router = await startDemoRouter((query) => console.log(`\nrouter: logged a conversion  ?${decodeURIComponent(query)}`));
  const adminKey = randomBytes(18).toString('base64url');
  // The collector must know the shop's origin (CORS) and the shop the collector's URL: the shop listens first.
  let collectorUrl = '';
  const site = await startDemoSite(() => collectorUrl);
  const dir = mkdtempSync(join(tmpdir(), 'sspx-demo-'));
  const config = parseConfig({
    port: 0,
    host: '127.0.0.1',
    store: `sqlite:${join(dir, 'demo.db')}`,
    router: router.url,
    allow_insecure_router: true,
    retry_schedule_seconds: [0, 1, 5],
    sites: [{ origin: site.url }],
    keys: { server: [], app: [], admin: [adminKey] },
    pixels: { purchase: { id: 59633, trigger_type: 'hybrid', min_minutes_per_conv: 0 } },
    log_level: 'warn',
  });
  const collector = await startCollector({ config });
  collectorUrl = collector.url;
  const token = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGULAAA3AAAAUQIAAD4AAA.';
  console.log(`sspx-relay demo
  collector:  ${collector.url}   (store ${join(dir, 'demo.db')})
  router:     ${router.url}   (a stand-in that redirects once, like Microsoft's)
  dashboard:  ${collector.url}/admin   (admin key ${adminKey})

Open the landing page as an ad click would, then press "Buy":
  ${site.url}/landing?sspdata=${token}

Fires so far: curl -H 'Authorization: Bearer ${adminKey}' ${collector.url}/v1/fires
Ctrl-C stops everything.`);
  const stop = async () => {
    await Promise.all([collector.close(2000), site.close(), router.close()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/').split('/').pop()!)) void main();
