// Load from autocannon (npm), in this process: the same settings for every server compared in one run.
import autocannon from 'autocannon';

export interface LoadSettings {
  connections: number;
  /** seconds measured, after warmupSeconds that are not */
  seconds: number;
  warmupSeconds: number;
}

export interface LoadResult {
  /** completed requests per second over the measured seconds */
  rps: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
  /** 2xx answers of the warm-up run before the measured one: acknowledged too, so counted when checking rows */
  warmup_ok: number;
}

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** a fresh body per request (e.g. a unique order id); the counter starts at 0 for each run */
  bodyOf?: (n: number) => string;
}

export async function load(origin: string, r: LoadRequest, s: LoadSettings): Promise<LoadResult> {
  let n = 0;
  const run = (seconds: number) =>
    autocannon({
      url: origin + r.path,
      method: r.method,
      headers: r.headers,
      body: r.body,
      requests: r.bodyOf ? [{ setupRequest: (req: autocannon.Request) => ({ ...req, body: r.bodyOf!(n++) }) }] : undefined,
      connections: s.connections,
      duration: seconds,
      workers: 0, // one load thread: this process, which does nothing else meanwhile
      timeout: 10,
    });
  const warmup = s.warmupSeconds > 0 ? await run(s.warmupSeconds) : undefined;
  const result = await run(s.seconds);
  const seconds = (result.finish.getTime() - result.start.getTime()) / 1000 || s.seconds;
  const requests = result['2xx'] + result.non2xx;
  return {
    rps: Math.round(requests / seconds),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    requests,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: Math.round(seconds * 10) / 10,
    warmup_ok: warmup?.['2xx'] ?? 0,
  };
}
