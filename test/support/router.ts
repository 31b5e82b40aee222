/**
 * A local stand-in for Microsoft's sspx router (sspx-router.adnxs.com), on 127.0.0.1 and a random port.
 * The only thing tests mock: it is outside the machine. Reused by the dispatch, e2e, bench and reliability suites.
 *
 *   const router = await startRouter();            // or startRouter({ https: true }) with TEST_CA below
 *   config: { router: router.url, allow_insecure_router: true }   // router.url = http://127.0.0.1:<port>/sspx
 *   router.script({ status: 500 }, { status: 500 }); // the next requests get these answers, one each, any path
 *   … fire …
 *   router.fires     // requests to /sspx, each { method, url, path, query, params, headers, at }
 *   router.logged    // requests to /logged: the conversions the router counted
 *   router.requests  // every request, in order
 *   await router.waitFor((r) => r.logged.length === 1);           // rejects after 5 s
 *   await router.close();                                         // also ends hanging requests
 *
 * Unscripted (the real router's usual answer): `/sspx` → 302 to the relative `/logged?<same query>`;
 * `/logged` → 200 "logged"; anything else → 404.
 *
 * Steps:   { status, headers?, body? }                         answer that
 *          { redirect: '/logged' | 'http://…', status? }       3xx (302 by default) with that Location
 *          { hang: true }                                      read the request, never answer
 *          { reset: true }                                     read the request, destroy the connection
 *          any of them with delay_ms                           answer late
 * router.otherwise(step | (req) => step) replaces the unscripted answer; `otherwise((req) => ({ redirect: req.url }))`
 * is a redirect loop. router.reset() clears script, records and otherwise.
 *
 * `query` is every parameter in order, split on `&` and the first `=`, each side decodeURIComponent'd: byte-exact
 * for values the collector encoded (no `+`-as-space). `headers` are the raw [name, value] pairs as received.
 * startBlackhole() accepts TCP and never reads or writes: an https:// URL to it never finishes the TLS handshake
 * (a connect timeout), an http:// URL to it hangs after the request was sent.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { FireAgents } from '../../collector/dispatch/http-fire.js';

export interface RouterRequest {
  method: string;
  /** the raw request target, as sent */
  url: string;
  path: string;
  query: [string, string][];
  /** query as an object (the last value wins) */
  params: Record<string, string>;
  headers: [string, string][];
  at: number;
}

export type Step = { delay_ms?: number } & (
  | { status: number; headers?: Record<string, string>; body?: string }
  | { redirect: string; status?: 301 | 302 | 303 | 307 | 308 }
  | { hang: true }
  | { reset: true }
);

export interface TestRouter {
  /** the router URL to configure: <origin>/sspx */
  url: string;
  origin: string;
  port: number;
  requests: RouterRequest[];
  fires: RouterRequest[];
  logged: RouterRequest[];
  script(...steps: Step[]): void;
  otherwise(step: Step | ((req: RouterRequest) => Step)): void;
  reset(): void;
  waitFor(pred: (r: TestRouter) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 and localhost (valid 2000–2100), only for tests: pass it as `ca`. */
export const TEST_CA = `-----BEGIN CERTIFICATE-----
MIIBdDCCARugAwIBAgIBATAKBggqhkjOPQQDAjAbMRkwFwYDVQQDDBBzc3B4LXRl
c3Qtcm91dGVyMCAXDTAwMDEwMTAwMDAwMFoYDzIxMDAwMTAxMDAwMDAwWjAbMRkw
FwYDVQQDDBBzc3B4LXRlc3Qtcm91dGVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcD
QgAEm1eOAfPfyw0DU79bg6mWLv2+7KVsmr0R0BBZW6qN6MYN07V8Qdx7j0HKeh/8
tV8bBnVgnk4dd/T7jMuwgjA6BaNOMEwwDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREE
EzARhwR/AAABgglsb2NhbGhvc3QwHQYDVR0OBBYEFIOAbNyu67Hu/6JgW8kp+dud
bUvkMAoGCCqGSM49BAMCA0cAMEQCIC7dyKL31zK0t+PCduXTal4eWBSEmSFYaCek
CnPUBtiGAiAPrey5CRAz/7h9ACN4F6SiCwDHC+mucr4V0mZpgPx49w==
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgZm9+atGtKp0p9QY3
ilAGVjy1+7sOMeJ8QpZlubSudtWhRANCAASbV44B89/LDQNTv1uDqZYu/b7spWya
vRHQEFlbqo3oxg3TtXxB3HuPQcp6H/y1XxsGdWCeTh139PuMy7CCMDoF
-----END PRIVATE KEY-----
`;

function parseQuery(search: string): [string, string][] {
  if (!search) return [];
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  return search.split('&').filter(Boolean).map((part) => {
    const eq = part.indexOf('=');
    return eq < 0 ? [dec(part), ''] : [dec(part.slice(0, eq)), dec(part.slice(eq + 1))];
  });
}

/** the real router's usual answer (see above); `otherwise(unscripted)` restores it without clearing the records */
export function unscripted(req: RouterRequest): Step {
  if (req.path === '/sspx') return { redirect: `/logged${req.url.slice(req.path.length)}` };
  if (req.path === '/logged') return { status: 200, body: 'logged' };
  return { status: 404, body: 'not found' };
}

export async function startRouter(opts: { https?: boolean } = {}): Promise<TestRouter> {
  let queue: Step[] = [];
  let fallback: (req: RouterRequest) => Step = unscripted;
  const listeners = new Set<() => void>();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const rec: RouterRequest = {
      method: req.method ?? 'GET',
      url: raw,
      path: q < 0 ? raw : raw.slice(0, q),
      query: parseQuery(q < 0 ? '' : raw.slice(q + 1)),
      params: {},
      headers: [],
      at: Date.now(),
    };
    for (const [k, v] of rec.query) rec.params[k] = v;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) rec.headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    router.requests.push(rec);
    if (rec.path === '/sspx') router.fires.push(rec);
    if (rec.path === '/logged') router.logged.push(rec);
    const step = queue.shift() ?? fallback(rec);
    req.resume();
    const answer = () => {
      if ('hang' in step) return;
      if ('reset' in step) return void req.socket.destroy();
      if ('redirect' in step) {
        res.writeHead(step.status ?? 302, { Location: step.redirect, 'Content-Type': 'text/plain' });
        return void res.end('redirecting');
      }
      res.writeHead(step.status, { 'Content-Type': 'text/plain', ...step.headers });
      res.end(step.body ?? '');
    };
    if (step.delay_ms) setTimeout(answer, step.delay_ms);
    else answer();
    for (const l of listeners) l();
  };

  const server = opts.https ? https.createServer({ key: TEST_KEY, cert: TEST_CA }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `${opts.https ? 'https' : 'http'}://127.0.0.1:${port}`;

  const router: TestRouter = {
    url: `${origin}/sspx`,
    origin,
    port,
    requests: [],
    fires: [],
    logged: [],
    script: (...steps) => void queue.push(...steps),
    otherwise: (step) => void (fallback = typeof step === 'function' ? step : () => step),
    reset: () => {
      queue = [];
      fallback = unscripted;
      router.requests.length = router.fires.length = router.logged.length = 0;
    },
    waitFor: (pred, timeoutMs = 5000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pred(router)) return;
          clearTimeout(timer);
          listeners.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`test router: condition not met within ${timeoutMs} ms (${router.requests.length} requests seen)`));
        }, timeoutMs);
        listeners.add(check);
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return router;
}

/** Accepts TCP connections and never reads or writes on them. */
export async function startBlackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A stand-in router and a pool of fire agents trusting its certificate for one test file: started before its tests
 * and handed over by `use`, the router reset after each test, both closed after all (`current`: the pool the file
 * holds by then, when it replaced the first).
 */
export function routerForFile(use: (fixture: { router: TestRouter; agents: FireAgents }) => void, current?: () => FireAgents): void {
  let router: TestRouter;
  let agents: FireAgents;
  beforeAll(async () => {
    router = await startRouter();
    agents = new FireAgents(8, { ca: TEST_CA });
    use({ router, agents });
  });
  afterEach(() => router.reset());
  afterAll(async () => {
    (current?.() ?? agents).destroy();
    await router.close();
  });
}
