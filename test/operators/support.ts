// Helpers for the operator suites: a collector whose log lines are captured, a reader of Prometheus text, and
// the Express app's actual routes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import { ManualClock, type Clock } from '../../collector/clock.js';
import { parseConfig, type ConfigInput } from '../../collector/config.js';
import { createLogger } from '../../collector/log.js';
import { startCollector, type Collector } from '../../collector/server.js';
import { ADMIN_KEY, BASE_CONFIG } from '../support/collector.js';

export interface LoggedCollector extends Collector {
  /** every chunk the logger wrote, as written */
  writes: string[];
  /** every line, parsed */
  lines(): Record<string, any>[];
  clock: ManualClock;
  stop(): Promise<void>;
}

/** a collector as startTestCollector makes one, but logging at `info` into memory */
export async function startLoggedCollector(overrides: Partial<ConfigInput> = {}): Promise<LoggedCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'sspx-ops-'));
  const writes: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      writes.push(chunk.toString('utf8'));
      done();
    },
  });
  const clock = new ManualClock(Date.now());
  const config = parseConfig({ ...BASE_CONFIG, store: `sqlite:${join(dir, 'sspx.db')}`, log_level: 'info', ...overrides });
  const collector = await startCollector({ config, clock: clock as Clock, log: createLogger('info', sink) });
  return {
    ...collector,
    writes,
    clock,
    lines: () => writes.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)),
    async stop() {
      await collector.close(1000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition → samples (label values here never hold escaped quotes) */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels[k] = v;
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** the value of one sample (0 when absent, as a counter that never moved) */
export function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length);
  return s?.value ?? 0;
}

/** GET /metrics with the admin key (it is not public by default) */
export async function scrape(url: string, key = ADMIN_KEY): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text());
}

interface LayerLike {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
  rawPath?: unknown;
  slash?: boolean;
}

/** "METHOD /path" for every route the app answers, Express's `/:id` written as OpenAPI's `/{id}` */
export function listRoutes(app: Express): string[] {
  const out = new Set<string>();
  const walk = (stack: LayerLike[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = ([] as string[]).concat(layer.route.path);
        for (const method of Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m])) {
          for (const p of paths) out.add(`${method === '_all' ? 'ALL' : method.toUpperCase()} ${toOpenApiPath(prefix + p)}`);
        }
      } else if (layer.handle?.stack) {
        const mount = layer.slash || typeof layer.rawPath !== 'string' ? '' : layer.rawPath.replace(/\/$/, '');
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app.router as unknown as { stack: LayerLike[] }).stack, '');
  return [...out].sort();
}

export const toOpenApiPath = (p: string) => p.replace(/:(\w+)/g, '{$1}');
