// A running collector: store, ingest services, HTTP server and dispatcher, started and stopped as one.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { createApp } from './http/app.js';
import { fireRoutes } from './http/routes/fires.js';
import { Conversions } from './ingest/conversions.js';
import { Touches } from './ingest/touches.js';
import { createLogger } from './log.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';

export interface CollectorOptions {
  config: Config;
  clock?: Clock;
  log?: Logger;
  /** an already open store (tests, bench); otherwise config.store is opened */
  store?: Store;
}

export interface Collector {
  ctx: Context;
  url: string;
  port: number;
  server: Server;
  touches: Touches;
  conversions: Conversions;
  dispatcher?: Dispatcher;
  /** stops taking requests, drains buffered writes, lets in-flight fires finish within graceMs, closes the store */
  close(graceMs?: number): Promise<void>;
}

export async function startCollector(opts: CollectorOptions): Promise<Collector> {
  const { config } = opts;
  const log = opts.log ?? createLogger(config.log_level);
  const store = opts.store ?? (await openStore(config.store));
  if (config.migrate_on_start) await store.migrate();
  const ctx: Context = { config, store, clock: opts.clock ?? systemClock, log };
  const touches = new Touches(ctx);
  const conversions = new Conversions(ctx);
  const dispatcher = config.dispatcher ? new Dispatcher(ctx) : undefined;
  const app = createApp(ctx, { touches, conversions, routers: [fireRoutes(ctx, dispatcher)] });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  dispatcher?.start();
  let closing: Promise<void> | undefined;
  return {
    ctx,
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    touches,
    conversions,
    dispatcher,
    close(graceMs = 5000) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await stopped;
        await Promise.all([touches.drain(), conversions.drain()]);
        await dispatcher?.stop(graceMs);
        await store.close();
      })();
      return closing;
    },
  };
}
