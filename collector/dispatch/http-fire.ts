// One attempt of a fire, over node:http/https directly: every hop recorded as `curl --verbose -L` would show it,
// redirects followed as curl -L follows them (the router's 302 must be followed for the conversion to be logged;
// scheme changes and repeated URLs too, up to max_redirects: only the address checks of ../net.ts stop a hop, on
// the spelling and on the resolved address), and the result classified into what the dispatcher does next. Never
// throws: every failure is a classified result.
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import { ADDRESS_REFUSED, addressRefusal, guardedLookup } from '../net.js';
import type { Hop } from '../store/store.js';
import type { FireResultKind } from '../vocabulary.js';
import { USER_AGENT } from './version.js';

export const BODY_EXCERPT_BYTES = 2048;
/** a body past this is not worth waiting for: the status already says what happened */
const BODY_READ_LIMIT = 1 << 20;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** a Retry-After past this is treated as this; the retry schedule decides whether there is a next attempt at all */
export const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** fired | retry | failed | ambiguous | aborted (../vocabulary.ts): what this one attempt came to, nothing rewritten later */
export type FireOutcome = FireResultKind;

/** A Hop with what else curl prints: connection reuse, TLS, timings. Extra keys ride along in the stored JSON. */
export interface HopDetail extends Hop {
  /** curl's `#N`: the same number is the same socket */
  connection?: number;
  reused?: boolean;
  tls?: { protocol: string | null; cipher: string; subject?: string; issuer?: string; valid_to?: string };
  timings?: { dns_ms?: number; connect_ms?: number; tls_ms?: number; first_byte_ms?: number };
  /** the connection (and TLS handshake) was up */
  connected?: boolean;
  /** the request was fully written to the connection */
  sent?: boolean;
  /** body bytes received; the excerpt keeps at most BODY_EXCERPT_BYTES */
  body_bytes?: number;
  /** a dry run (config dry_run, or a test conversion's fire): the request as it would have been sent; it was not */
  dry_run?: boolean;
  /** the dry run was a test conversion's fire ("test": true), not the configuration's */
  test?: boolean;
}

/** the request headers of a fire, as sent (and as a dry run records them) */
const requestHeaders = (url: URL): [string, string][] => [['Host', url.host], ['User-Agent', USER_AGENT], ['Accept', '*/*'], ['Connection', 'keep-alive']];

/**
 * A dry run's attempt: the exact request a fire would make, recorded, never sent (no connection is opened); `test`
 * when it is a test conversion's fire rather than the configuration's dry run.
 */
export function dryRunFire(url: string, test = false): FireResult {
  const hop: HopDetail = {
    request: { method: 'GET', url, headers: requestHeaders(new URL(url)) },
    at_ms: 0,
    duration_ms: 0,
    dry_run: true,
    ...(test && { test: true }),
  };
  return { outcome: 'fired', status: null, error_class: null, error: null, retry_after_ms: null, hops: [hop], url, duration_ms: 0 };
}

export interface FireResult {
  outcome: FireOutcome;
  /** the final HTTP status, when an answer came */
  status: number | null;
  error_class: string | null;
  /** one line for last_error and the log */
  error: string | null;
  retry_after_ms: number | null;
  hops: HopDetail[];
  url: string;
  duration_ms: number;
}

/** Keep-alive pools with bounded sockets, one per scheme; `tls` is for tests with their own CA. */
export class FireAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
  private ids = new WeakMap<Socket, number>();
  private nextId = 0;
  private lookups = new Map<boolean, LookupFunction>();

  /** `resolve` is the resolver under the address check (tests inject their own names) */
  constructor(maxSockets = 64, readonly tls: https.AgentOptions = {}, readonly resolve?: LookupFunction) {
    // every socket may stay idle in the pool: with fewer, a busy dispatcher closes and reopens connections all the time
    const pool = { keepAlive: true, maxSockets, maxTotalSockets: maxSockets, maxFreeSockets: maxSockets, scheduling: 'lifo' as const };
    this.http = new http.Agent(pool);
    this.https = new https.Agent({ ...tls, ...pool });
  }

  /** a pool-less agent for the one retry on a fresh connection after a stale keep-alive socket died */
  fresh(secure: boolean): http.Agent {
    return secure ? new https.Agent({ ...this.tls, keepAlive: false }) : new http.Agent({ keepAlive: false });
  }

  /** the address-checking lookup of this pool's new sockets (../net.ts), made once per allow_local */
  lookup(allowLocal: boolean): LookupFunction {
    let lookup = this.lookups.get(allowLocal);
    if (!lookup) this.lookups.set(allowLocal, (lookup = guardedLookup(allowLocal, this.resolve)));
    return lookup;
  }

  connectionId(socket: Socket): number {
    let id = this.ids.get(socket);
    if (id === undefined) this.ids.set(socket, (id = this.nextId++));
    return id;
  }

  destroy(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

export interface HttpFireOptions {
  connect_timeout_ms: number;
  /** bounds the whole attempt, every hop included */
  request_timeout_ms: number;
  max_redirects: number;
  agents: FireAgents;
  /** follow a redirect from https to http; otherwise that is a failure (`redirect_insecure`) */
  allow_insecure?: boolean;
  /** send to loopback and private addresses, spelled or resolved (`address_refused`); default allow_insecure */
  allow_local?: boolean;
  /** aborting ends the attempt at once with the outcome `aborted` */
  signal?: AbortSignal;
  /** the time a Retry-After date is measured from (ms since the epoch) */
  now?: () => number;
  /**
   * awaited once per attempt, when the first request's connection is up and before its bytes are written (the
   * dispatcher commits that the request may reach the router); a rejection ends the attempt unsent, `aborted`
   */
  beforeSend?: () => Promise<void>;
}

/** Retry-After as delay-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (!value) return null;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else {
    const at = Date.parse(v);
    if (Number.isNaN(at)) return null;
    ms = Math.max(0, at - now);
  }
  return Math.min(ms, MAX_RETRY_AFTER_MS);
}

/**
 * What may end the hop in progress early: the attempt's abort signal and its deadline (request_timeout_ms, every hop
 * included) are watched once per attempt, and act on whichever hop is running.
 */
interface AttemptWatch {
  hop?: { abort(): void; deadline(): void };
  /** the deadline passed: a hop started after it ends at once */
  expired: boolean;
}

interface HopResult {
  hop: HopDetail;
  status?: number;
  headers?: http.IncomingHttpHeaders;
  fail?: { outcome: 'retry' | 'ambiguous' | 'aborted'; error_class: string };
}

const ms = (t: number) => Math.round(t * 100) / 100;

function headerPairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

function remoteOf(socket: Socket): string | undefined {
  if (!socket.remoteAddress) return undefined;
  const host = socket.remoteAddress.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `${host}:${socket.remotePort}`;
}

/** A low-level error as curl would word it, and the class the schedule acts on. */
function classifyError(err: NodeJS.ErrnoException, url: URL, connected: boolean): { error_class: string; message: string } {
  const code = err.code ?? '';
  const host = url.hostname;
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const tail = code ? ` (${code})` : '';
  if (code === ADDRESS_REFUSED) return { error_class: 'address_refused', message: `Refused to connect to ${host}: ${err.message}` };
  if (code === 'ECONNREFUSED') return { error_class: 'connect_refused', message: `connect to ${host} port ${port} failed: Connection refused${tail}` };
  if (['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA'].includes(code)) return { error_class: 'dns', message: `Could not resolve host: ${host}${tail}` };
  if (code === 'ETIMEDOUT' && !connected) return { error_class: 'connect_timeout', message: `Failed to connect to ${host} port ${port}: Connection timed out${tail}` };
  if (['ENETUNREACH', 'EHOSTUNREACH', 'EADDRNOTAVAIL'].includes(code)) return { error_class: 'unreachable', message: `Failed to connect to ${host} port ${port}: ${err.message}${tail}` };
  if (['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(code)) return { error_class: 'reset', message: `Recv failure: Connection reset by peer${tail}` };
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code) || /certificate|SSL|TLS/i.test(err.message)) {
    return { error_class: 'tls', message: `SSL: ${err.message}${tail}` };
  }
  if (code.startsWith('HPE_')) return { error_class: 'bad_response', message: `Invalid response from server: ${err.message}${tail}` };
  return { error_class: 'network', message: `${err.message}${tail}` };
}

/** One request/response exchange; resolves once, whatever happens. */
function requestHop(url: URL, o: HttpFireOptions, t0: number, watch: AttemptWatch, fresh: boolean): Promise<HopResult> {
  return new Promise((resolve) => {
    const secure = url.protocol === 'https:';
    const headers = requestHeaders(url);
    const wire: string[] = [];
    for (const [name, value] of headers) wire.push(name, value);
    const start = performance.now();
    const timings: NonNullable<HopDetail['timings']> = {};
    const hop: HopDetail = { request: { method: 'GET', url: url.href, headers }, at_ms: ms(start - t0), duration_ms: 0, timings };
    let connected = false;
    let finished = false;
    let settled = false;
    let connectTimer: NodeJS.Timeout | undefined;
    /** set once response headers are in: later errors and the timeout end the body, keeping the status */
    let endBody: ((err: string) => void) | undefined;
    const since = () => ms(performance.now() - start);
    const cleanup = () => {
      settled = true;
      clearTimeout(connectTimer);
      if (watch.hop === ends) watch.hop = undefined;
      hop.duration_ms = since();
      hop.connected = connected;
      hop.sent = connected && finished;
    };
    const fail = (outcome: 'retry' | 'ambiguous' | 'aborted', error_class: string, message: string) => {
      if (settled) return;
      cleanup();
      hop.error = message;
      resolve({ hop, fail: { outcome, error_class } });
      req.destroy();
    };

    const req = (secure ? https : http).request({
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || (secure ? 443 : 80),
      path: url.pathname + url.search,
      method: 'GET',
      // as an array, written as given: node's per-header setHeader bookkeeping is not needed for four known headers
      headers: wire,
      agent: fresh ? o.agents.fresh(secure) : secure ? o.agents.https : o.agents.http,
      lookup: o.agents.lookup(o.allow_local ?? o.allow_insecure ?? false),
    });
    req.on('finish', () => (finished = true));

    req.on('socket', (socket: Socket) => {
      hop.connection = o.agents.connectionId(socket);
      hop.reused = req.reusedSocket;
      const onConnected = () => {
        connected = true;
        clearTimeout(connectTimer);
        hop.remote_address = remoteOf(socket);
        o.beforeSend?.().then(() => settled || req.end(), (err: Error) => fail('aborted', 'not_marked', `not sent: ${err.message}`));
      };
      if (req.reusedSocket) return onConnected();
      connectTimer = setTimeout(
        () => fail('retry', 'connect_timeout', `Connection timed out after ${o.connect_timeout_ms} milliseconds`),
        o.connect_timeout_ms,
      );
      socket.once('lookup', () => (timings.dns_ms = since()));
      const tcp = () => {
        timings.connect_ms = since();
        hop.remote_address = remoteOf(socket);
        if (!secure) onConnected();
      };
      if (socket.connecting) socket.once('connect', tcp);
      else tcp();
      if (secure) {
        socket.once('secureConnect', () => {
          timings.tls_ms = since();
          const tls = socket as TLSSocket;
          const cert = tls.getPeerCertificate();
          hop.tls = {
            protocol: tls.getProtocol(),
            cipher: tls.getCipher()?.name ?? '',
            ...(cert?.subject ? { subject: String(cert.subject.CN ?? ''), issuer: String(cert.issuer?.CN ?? ''), valid_to: cert.valid_to } : {}),
          };
          onConnected();
        });
      }
    });

    req.on('response', (res) => {
      timings.first_byte_ms = since();
      hop.response = {
        http_version: res.httpVersion,
        status: res.statusCode ?? 0,
        status_text: res.statusMessage ?? '',
        headers: headerPairs(res.rawHeaders),
        body_excerpt: '',
      };
      const chunks: Buffer[] = [];
      let kept = 0;
      let total = 0;
      const done = (err?: string) => {
        if (settled) return;
        cleanup();
        hop.response!.body_excerpt = Buffer.concat(chunks).toString('utf8');
        hop.body_bytes = total;
        if (err) hop.error = err;
        resolve({ hop, status: res.statusCode ?? 0, headers: res.headers });
        if (err) req.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (kept < BODY_EXCERPT_BYTES) {
          const part = chunk.subarray(0, BODY_EXCERPT_BYTES - kept);
          chunks.push(part);
          kept += part.length;
        }
        if (total > BODY_READ_LIMIT) done(`stopped reading the body after ${total} bytes`);
      });
      res.on('end', () => done());
      res.on('error', (err) => done(`the body was cut short: ${err.message}`));
      res.on('close', () => done(res.complete ? undefined : 'the connection closed before the body was complete'));
      endBody = done;
    });

    req.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (endBody) return endBody(`the body was cut short: ${err.message}`);
      const { error_class, message } = classifyError(err, url, connected);
      fail('retry', error_class, message);
    });

    const ends = {
      deadline: () => {
        if (endBody) return endBody(`Operation timed out after ${o.request_timeout_ms} milliseconds while reading the body`);
        if (connected && finished) {
          return fail('ambiguous', 'timeout_after_send', `Operation timed out after ${o.request_timeout_ms} milliseconds with 0 bytes received (the request was sent)`);
        }
        if (!connected) return fail('retry', 'connect_timeout', `Connection timed out: no connection within the ${o.request_timeout_ms} ms request timeout`);
        fail('retry', 'timeout', `Operation timed out after ${o.request_timeout_ms} milliseconds before the request was sent`);
      },
      abort: () => fail('aborted', 'aborted', 'Aborted: the dispatcher is stopping; the fire is released for another attempt'),
    };
    watch.hop = ends;
    if (o.signal?.aborted) ends.abort();
    else if (watch.expired) ends.deadline();

    // node writes nothing before end(): with a beforeSend hook the request leaves once the hook resolved (onConnected)
    if (!o.beforeSend) req.end();
  });
}


/** Fires `url` once, following redirects; the classification the dispatcher schedules on. */
export async function httpFire(url: string, o: HttpFireOptions): Promise<FireResult> {
  const t0 = performance.now();
  const hops: HopDetail[] = [];
  const result = (outcome: FireOutcome, error_class: string | null, error: string | null, status: number | null, retry_after_ms: number | null = null): FireResult =>
    ({ outcome, status, error_class, error, retry_after_ms, hops, url, duration_ms: ms(performance.now() - t0) });

  let current: URL;
  try {
    current = new URL(url);
  } catch {
    return result('failed', 'bad_url', `not a URL: ${url}`, null);
  }
  const allowLocal = o.allow_local ?? o.allow_insecure ?? false;
  let redirects = 0;
  if (o.beforeSend) {
    const mark = o.beforeSend;
    let marked: Promise<void> | undefined;
    o = { ...o, beforeSend: () => (marked ??= mark()) };
  }
  const watch: AttemptWatch = { expired: false };
  const deadline = setTimeout(() => ((watch.expired = true), watch.hop?.deadline()), o.request_timeout_ms);
  const onAbort = () => watch.hop?.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      // an address literal is never looked up, so the resolved-address check (guardedLookup) is made here
      const refused = isIP(current.hostname.replace(/^\[|\]$/g, '')) ? addressRefusal(current.hostname, allowLocal) : undefined;
      if (refused) {
        hops.push({ request: { method: 'GET', url: current.href, headers: requestHeaders(current) }, at_ms: ms(performance.now() - t0), duration_ms: 0, connected: false, sent: false, error: `Refused to connect: ${refused}` });
        return result('failed', 'address_refused', `Refused to connect: ${refused}`, null);
      }
      let r = await requestHop(current, o, t0, watch, false);
      // A keep-alive socket the server had already closed: the request never reached it. Node's documented remedy.
      if (r.fail?.error_class === 'reset' && r.hop.reused && !r.hop.response && !o.signal?.aborted) {
        r.hop.error += '; Connection died, retrying a fresh connect';
        hops.push(r.hop);
        r = await requestHop(current, o, t0, watch, true);
      }
      hops.push(r.hop);
      if (r.fail) return result(r.fail.outcome, r.fail.error_class, r.hop.error ?? null, null);
      const status = r.status!;
      const statusLine = `HTTP ${status} ${r.hop.response?.status_text ?? ''}`.trim();

      if (REDIRECTS.has(status)) {
        const refuse = (error_class: string, message: string) => {
          r.hop.error = message;
          return result('failed', error_class, message, status);
        };
        const location = r.headers?.location;
        if (!location) return refuse('redirect_without_location', `${statusLine} without a Location header`);
        let next: URL;
        try {
          next = new URL(location, current);
        } catch {
          return refuse('redirect_bad_location', `the Location '${location}' is not a URL`);
        }
        if (next.hash) next.hash = ''; // setting it re-serialises the URL: only when there is a fragment to drop
        if (next.protocol !== 'http:' && next.protocol !== 'https:') return refuse('redirect_bad_location', `will not follow a redirect to a ${next.protocol} URL`);
        const refused = addressRefusal(next.hostname, allowLocal);
        if (refused) return refuse('redirect_bad_location', `will not follow a redirect to '${next.href}': ${refused}`);
        if (current.protocol === 'https:' && next.protocol === 'http:' && !o.allow_insecure) {
          return refuse('redirect_insecure', `will not follow a redirect from https to '${next.href}' (fires are HTTPS only)`);
        }
        // a repeated URL is followed, as curl -L does (a router may send a client back to set state): max_redirects ends loops
        if (redirects >= o.max_redirects) return refuse('too_many_redirects', `Maximum (${o.max_redirects}) redirects followed`);
        redirects++;
        current = next;
        continue;
      }

      if (status >= 200 && status < 300) return result('fired', null, null, status);
      if (status === 408 || status === 429 || status >= 500) {
        const retryAfter = parseRetryAfter(r.headers?.['retry-after'], (o.now ?? Date.now)());
        const error_class = status >= 500 ? 'http_5xx' : `http_${status}`;
        return result('retry', error_class, statusLine, status, retryAfter);
      }
      if (status >= 400) return result('failed', 'http_4xx', statusLine, status);
      return result('failed', `http_${Math.floor(status / 100)}xx`, `${statusLine}: not a success and not a redirect`, status);
    }
  } finally {
    clearTimeout(deadline);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
