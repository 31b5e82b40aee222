// A running collector: store, ingest services, HTTP server and dispatcher, started and stopped as one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { createHttpFront } from './http/front.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { fireRoutes } from './http/routes/fires.js';
import { appRoutes } from './http/routes/app.js';
import { adminRoutes } from './http/routes/admin.js';
import { Events } from './events.js';
import { Conversions } from './ingest/conversions.js';
import { Installs } from './ingest/installs.js';
import { Macros } from './ingest/macros.js';
import { Touches } from './ingest/touches.js';
import { createLogger } from './log.js';
import { createMetrics, ingestTimer, observeEvents, type Metrics } from './metrics.js';
import { openApiRoutes } from './openapi.js';
import { Fires } from './operators/fires.js';
import { guardStore } from './store/guard.js';
import { openStore } from './store/open.js';
import { startRetention } from './retention.js';
import type { Store } from './store/store.js';

export interface CollectorOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  /** an already open store (tests, bench); otherwise config.store is opened */
  store?: Store;
  /** the daily retention purge (collector/retention.ts): on unless false; the first run after firstRunMs (default 5 min) */
  retention?: false | { firstRunMs?: number; everyMs?: number };
  /** the listening server's timeouts (tests shorten them) */
  timeouts?: Partial<ServerTimeouts>;
}

/**
 * How long a client may hold a connection without finishing what it sends: a slow client (slowloris: half a request
 * head, then a byte now and then) would otherwise keep its connection, and enough of them every connection, for good.
 */
export interface ServerTimeouts {
  /** the whole request head must be in within this (node answers 408 and closes) */
  headersMs: number;
  /** the whole request, body included (bodies are capped at 16 KB: seconds are plenty) */
  requestMs: number;
  /** an idle keep-alive connection is closed after this: longer than a proxy's or load balancer's idle timeout (60 s) */
  keepAliveMs: number;
  /** how often node looks for connections past the first two */
  checkEveryMs: number;
}
export const SERVER_TIMEOUTS: ServerTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 65_000, checkEveryMs: 1000 };

/** the URL a listening address answers at, and one this machine can use (a wildcard address is every interface) */
export function listenUrls(a: AddressInfo): { listening: string; local: string; wildcard: boolean } {
  const listening = `http://${a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
  const wildcard = a.address === '0.0.0.0' || a.address === '::';
  return { listening, local: wildcard ? `http://127.0.0.1:${a.port}` : listening, wildcard };
}

export interface Collector {
  ctx: Context;
  /** a URL this machine reaches the collector at */
  url: string;
  port: number;
  /** the address it really listens on (server.address() after listen) */
  address: AddressInfo;
  server: Server;
  /** the Express app (route enumeration in tests) */
  app: Express;
  /** this collector's Prometheus registry and metrics */
  metrics: Metrics;
  touches: Touches;
  conversions: Conversions;
  dispatcher?: Dispatcher;
  /** stops taking requests, drains buffered writes, lets in-flight fires finish within graceMs, closes the store */
  close(graceMs?: number): Promise<void>;
}

export async function startCollector(opts: CollectorOptions): Promise<Collector> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.log_level);
  // store errors are marked as such (store/guard.ts), so only an outage answers 503
  const store = guardStore(opts.store ?? (await openStore(config.store)));
  if (config.migrate_on_start) await store.migrate();
  const events = new Events((err, event) => log.error({ err, event }, 'an event listener threw'));
  const ctx: Context = { config, store, clock: opts.clock ?? systemClock, log, events };
  const metrics = createMetrics(ctx);
  observeEvents(metrics, events);
  const macros = new Macros(ctx);
  const touches = new Touches(ctx, macros);
  const conversions = new Conversions(ctx, macros);
  const installs = new Installs(ctx, macros);
  const dispatcher = config.dispatcher ? new Dispatcher(ctx) : undefined;
  const fires = new Fires(ctx, dispatcher);
  // the script and the beacon routes are served by http/front.ts before Express (its header says why); the rest by the app
  const { app, options, listener } = createHttpFront(ctx, {
    touches,
    conversions,
    before: [ingestTimer(metrics)],
    routers: [fireRoutes(ctx, dispatcher, fires), appRoutes(ctx, installs), metricsRoutes(ctx, metrics), openApiRoutes(), adminRoutes(ctx, dispatcher, fires)],
  });
  const timeouts = { ...SERVER_TIMEOUTS, ...opts.timeouts };
  const server = createServer(
    { ...options, headersTimeout: timeouts.headersMs, requestTimeout: timeouts.requestMs, connectionsCheckingInterval: timeouts.checkEveryMs },
    listener,
  );
  server.keepAliveTimeout = timeouts.keepAliveMs;
  // past the cap a new connection is closed at once, before it costs a request: the ones already open keep answering
  server.maxConnections = config.max_connections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => (server.off('error', reject), resolve()));
  });
  const address = server.address() as AddressInfo;
  const { port } = address;
  if (dispatcher) {
    // fires a crash left in flight that this process may take back at once (SQLite's own; see Outbox.takeBackOwnLeases)
    const taken = await store.takeBackOwnLeases(ctx.clock.now(), config.on_ambiguous);
    if (taken) log.warn({ fires: taken, on_ambiguous: config.on_ambiguous }, 'took back fires left in flight by the previous run');
    dispatcher.start();
  }
  const retention = opts.retention === false ? undefined : startRetention(ctx, opts.retention);
  let closing: Promise<void> | undefined;
  return {
    ctx,
    url: listenUrls(address).local,
    port,
    address,
    server,
    app,
    metrics,
    touches,
    conversions,
    dispatcher,
    close(graceMs = 5000) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // keep-alive clients under load would hold the server open for ever: after the grace, their connections go
        // (a request cut there gets no answer, so its client retries; nothing it was told is lost)
        const deadline = setTimeout(() => server.closeAllConnections(), graceMs);
        await stopped;
        clearTimeout(deadline);
        await retention?.stop();
        await Promise.all([touches.drain(), conversions.drain(), macros.drain()]);
        await dispatcher?.stop(graceMs);
        await store.close();
      })();
      return closing;
    },
  };
}
