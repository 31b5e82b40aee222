// What a real Chromium sends: once per run, a headless Chromium (playwright-core) loads a landing page that carries
// the built script, against a capture server standing in for both the site and the collector, and the bench keeps
// the POST /t it made — its headers, in order, and its body — to replay under load with a fresh token and msclkid per request.
// The page and the collector have their real-world names (shop.example, collect.shop.example), mapped to the
// capture server by Chromium's host resolver, so Origin, Referer and Sec-Fetch-Site are what a landing page gets.
// Over https, as landing pages are (a throwaway self-signed certificate from openssl, which Chromium is told to
// accept): only a secure context sends Sec-Fetch-* and client hints. Without openssl it falls back to http.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../collector/paths.js';

/** the browser the bench drives: one place to change how it is found */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || '/tmp/chromium';
}

export const LANDING_HOST = 'shop.example';
export const COLLECTOR_HOST = 'collect.shop.example';
/** the token on the landing URL, shaped like Microsoft's (trailing period); every replayed request gets its own */
export const CAPTURED_TOKEN = 'ams1AAAAAAAAkQC8rFPulI3JKKU9tUKckv1Oj1WFMAAAAAGU0LAAA3AAAAUQIAAD4AAA.';
/** Microsoft Advertising's click id, which auto-tagging appends to every ad click's landing URL: each replayed
 * request gets its own, as each real click does */
export const CAPTURED_MSCLKID = 'f1e2d3c4b5a69788796a5b4c3d2e1f00';

export interface CapturedTouch {
  /** the request headers in the order Chromium sent them, without those the load tool owns (Host, Content-Length, Connection) */
  headers: [string, string][];
  body: string;
  /** the token as it appears in the body (in the landing URL `u` and the current one `v`; an older script's also in `t`): replaced per request */
  token: string;
  /** the page's origin, as Chromium sent it in Origin: the collector's configured site */
  origin: string;
  /** https, unless openssl was missing */
  scheme: 'https' | 'http';
  user_agent: string;
  browser_version: string;
}

const LANDING_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Spring sale</title>
<script>window.sspx = window.sspx || function () { (sspx.q = sspx.q || []).push(arguments) };
sspx('cid', function (cid) { window.clickId = cid === undefined ? null : cid });</script>
<script async src="SCHEME://${COLLECTOR_HOST}/sspx.js"></script>
</head><body><h1>Spring sale</h1></body></html>`;

/** a certificate for both names, valid for a day, or undefined without openssl */
function throwawayCertificate(dir: string): { key: Buffer; cert: Buffer } | undefined {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', `/CN=${LANDING_HOST}`, '-addext', `subjectAltName=DNS:${LANDING_HOST},DNS:${COLLECTOR_HOST}`], { stdio: 'ignore' });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } catch {
    return undefined;
  }
}

const OWNED_BY_LOAD_TOOL = new Set(['host', 'content-length', 'connection']);

/** loads the landing page in Chromium and returns the touch its script posted */
export async function captureTouch(timeoutMs = 60_000): Promise<CapturedTouch> {
  const script = readFileSync(join(packageRoot, 'dist', 'sspx.js'));
  let resolveTouch!: (t: { raw: string[]; body: string }) => void;
  const touch = new Promise<{ raw: string[]; body: string }>((resolve) => (resolveTouch = resolve));
  const profile = await mkdtemp(join(tmpdir(), 'sspx-bench-chromium-'));
  const tls = throwawayCertificate(profile);
  const scheme = tls ? 'https' : 'http';
  const html = LANDING_HTML.replace('SCHEME', scheme);
  const listener: http.RequestListener = (req, res) => {
    const host = (req.headers.host ?? '').split(':')[0];
    const path = (req.url ?? '/').split('?')[0];
    if (host === LANDING_HOST && path === '/landing') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    if (host === COLLECTOR_HOST && path === '/sspx.js') return void res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(script);
    if (host === COLLECTOR_HOST && path === '/t' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        resolveTouch({ raw: req.rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
        const origin = req.headers.origin ?? '*';
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', vary: 'Origin' });
        res.end(JSON.stringify({ cid: 'AAAAAAAAAAAAAAAAAAAAAA' }));
      });
      return;
    }
    res.writeHead(404).end();
  };
  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    // headless Chromium says `HeadlessChrome`, which the collector rightly drops as a bot (202): every touch the bench
    // timed was then dropped, none stored. A visitor's Chrome on Linux says this (the reduced form, minor versions zeroed)
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36',
    locale: 'en-US',
    timeout: timeoutMs,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable',
      ...(tls ? ['--ignore-certificate-errors'] : []),
      `--host-resolver-rules=MAP ${LANDING_HOST} 127.0.0.1:${port},MAP ${COLLECTOR_HOST} 127.0.0.1:${port}`,
    ],
  });
  try {
    const version = context.browser()?.version() ?? '';
    const page = await context.newPage();
    await page.goto(`${scheme}://${LANDING_HOST}/landing?utm_source=bing&utm_medium=cpc&utm_campaign=spring&sspdata=${CAPTURED_TOKEN}&msclkid=${CAPTURED_MSCLKID}`, { referer: 'https://www.bing.com/' });
    let timer: NodeJS.Timeout | undefined;
    const got = await Promise.race([touch, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Chromium sent no POST /t within ${timeoutMs} ms`)), timeoutMs)))]);
    clearTimeout(timer);
    const headers: [string, string][] = [];
    // headless Chromium names itself HeadlessChrome, which isbot (rightly) drops as a bot: a visitor's Chrome says
    // Chrome, and every timed touch must be one the collector stores
    const visitor = (value: string) => value.replaceAll('HeadlessChrome', 'Chrome');
    for (let i = 0; i < got.raw.length; i += 2) if (!OWNED_BY_LOAD_TOOL.has(got.raw[i].toLowerCase())) headers.push([got.raw[i], visitor(got.raw[i + 1])]);
    const header = (name: string) => headers.find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
    if (!got.body.includes(CAPTURED_TOKEN)) throw new Error(`the captured touch does not carry the landing token: ${got.body}`);
    if (!got.body.includes(CAPTURED_MSCLKID)) throw new Error(`the captured touch does not carry the landing URL's msclkid: ${got.body}`);
    return { headers, body: got.body, token: CAPTURED_TOKEN, origin: header('origin'), scheme, user_agent: header('user-agent'), browser_version: version };
  } finally {
    await context.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
