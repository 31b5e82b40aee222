// Helpers of the fault suites: an in-process collector on the real clock (retry schedules and timeouts are real
// time here, compressed), and a TCP forwarder that can be cut and restored (a router or a database going away).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig, type ConfigInput } from '../../collector/config.js';
import { createLogger } from '../../collector/log.js';
import { startCollector, type Collector } from '../../collector/server.js';
import type { Store } from '../../collector/store/store.js';
import { BASE_CONFIG } from '../support/collector.js';

export interface LiveCollector extends Collector {
  dir: string;
  dbPath: string;
  /** every log line the collector wrote, parsed */
  logs: Record<string, unknown>[];
  /** the raw log text */
  logText(): string;
  stop(): Promise<void>;
}

/** a collector in this process on the system clock, its pino output captured at `level` */
export async function startLiveCollector(overrides: Partial<ConfigInput> = {}, opts: { store?: Store; level?: string } = {}): Promise<LiveCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'sspx-live-'));
  const dbPath = join(dir, 'sspx.db');
  const config = parseConfig({ ...BASE_CONFIG, store: `sqlite:${dbPath}`, ...overrides });
  let text = '';
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const s = chunk.toString('utf8');
      text += s;
      for (const line of s.split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger(opts.level ?? 'info', sink);
  const collector = await startCollector({ config, log, store: opts.store });
  return {
    ...collector,
    dir,
    dbPath,
    logs,
    logText: () => text,
    async stop() {
      await collector.close(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** a port nothing listens on right now (a router that is down: connection refused) */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Forwarder {
  port: number;
  /** connections forwarded so far */
  connections: number;
  /** starts listening (again) on `port` */
  up(): Promise<void>;
  /** destroys every forwarded connection and stops listening: new connections are refused */
  cut(): Promise<void>;
  close(): Promise<void>;
}

/** forwards 127.0.0.1:`port` to 127.0.0.1:`target`; starts down unless `up` is true */
export async function tcpForwarder(target: number, opts: { port?: number; up?: boolean } = {}): Promise<Forwarder> {
  const port = opts.port ?? (await freePort());
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const fwd: Forwarder = {
    port,
    connections: 0,
    async up() {
      if (server) return;
      server = net.createServer((client) => {
        fwd.connections++;
        const upstream = net.connect(target, '127.0.0.1');
        track(client);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      const s = server;
      await new Promise<void>((ok, fail) => {
        s.once('error', fail);
        s.listen(port, '127.0.0.1', () => ok());
      });
    },
    async cut() {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    close: () => fwd.cut(),
  };
  if (opts.up) await fwd.up();
  return fwd;
}
