// A local stand-in for Microsoft's sspx router, in the bench process: keep-alive, and like the real one it answers a
// fire with a 302 that must be followed (`/sspx?…` → `/logged?…` → 200). It notes when each fire arrived, by order_id.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface BenchRouter {
  /** for the collector's `router` setting */
  url: string;
  /** fires received (first hop) and logged (the redirect followed) */
  fires: number;
  logged: number;
  /** performance.now() of the first fire and of the last logged hop */
  firstFireAt: number;
  lastLoggedAt: number;
  /** when the fire carrying this order_id arrived (performance.now()) */
  arrivals: Map<string, number>;
  /** order ids of fires whose redirect was followed: fired as Microsoft's router logs them */
  loggedOrders: Set<string>;
  /** resolves once `n` fires were logged; rejects after timeoutMs */
  waitLogged(n: number, timeoutMs: number): Promise<void>;
  /** resolves once `n` fires were logged or after timeoutMs, whichever comes first */
  waitLoggedAtMost(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRouter(): Promise<BenchRouter> {
  let waiter: { n: number; resolve: () => void } | undefined;
  const server = http.createServer((req, res) => {
    const now = performance.now();
    const url = req.url ?? '/';
    req.resume();
    if (url.startsWith('/sspx?')) {
      if (!router.fires++) router.firstFireAt = now;
      const order = /[?&]order_id=([^&]*)/.exec(url)?.[1];
      if (order) router.arrivals.set(decodeURIComponent(order), now);
      res.writeHead(302, { Location: '/logged' + url.slice(5), 'Content-Type': 'text/plain', 'Content-Length': '11' }).end('redirecting');
      return;
    }
    if (url.startsWith('/logged?')) {
      router.logged++;
      const order = /[?&]order_id=([^&]*)/.exec(url)?.[1];
      if (order) router.loggedOrders.add(decodeURIComponent(order));
      router.lastLoggedAt = now;
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '6' }).end('logged');
      if (waiter && router.logged >= waiter.n) waiter.resolve();
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const router: BenchRouter = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sspx`,
    fires: 0,
    logged: 0,
    firstFireAt: 0,
    lastLoggedAt: 0,
    arrivals: new Map(),
    loggedOrders: new Set(),
    waitLogged(n, timeoutMs) {
      if (router.logged >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => ((waiter = undefined), reject(new Error(`the router logged ${router.logged} of ${n} fires within ${timeoutMs} ms`))), timeoutMs);
        waiter = { n, resolve: () => ((waiter = undefined), clearTimeout(timer), resolve()) };
      });
    },
    waitLoggedAtMost: (n, timeoutMs) => router.waitLogged(n, timeoutMs).catch(() => undefined),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return router;
}
