// Renders recorded hops as `curl --verbose -L` prints them, the "verbose logs of the pixel fires" Microsoft asks for
// when investigating a discrepancy; and a whole fire as one evidence text an operator can attach to a ticket.
// Rendering happens on read, from the stored hops, so old attempts render with today's format.
import type { Attempt, FireDetail, Hop } from '../store/store.js';
import type { HopDetail } from './http-fire.js';
import { isoMillis } from '../clock.js';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** control characters from a hostile answer must not reach an operator's terminal */
function printable(s: string): string {
  return s.replace(/\r\n?/g, '\n').replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const iso = (t: number | null | undefined) => (t == null ? '-' : isoMillis(t));

function hostPort(url: string): { host: string; port: string; target: string } {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: u.port || (u.protocol === 'https:' ? '443' : '80'), target: u.pathname + u.search };
  } catch {
    return { host: url, port: '', target: url };
  }
}

function timingLine(h: HopDetail): string {
  const t = h.timings ?? {};
  const parts = [
    t.dns_ms != null && `dns ${t.dns_ms} ms`,
    t.connect_ms != null && `connect ${t.connect_ms} ms`,
    t.tls_ms != null && `tls ${t.tls_ms} ms`,
    t.first_byte_ms != null && `first byte ${t.first_byte_ms} ms`,
    `total ${h.duration_ms} ms`,
  ].filter(Boolean);
  return `* timing: ${parts.join(', ')} (at +${h.at_ms} ms)`;
}

/** One attempt's hops, in curl's words. */
export function renderTranscript(hops: readonly Hop[]): string {
  const out: string[] = [];
  hops.forEach((hop, i) => {
    const h = hop as HopDetail;
    const { host, port, target } = hostPort(h.request.url);
    if (h.dry_run) {
      const why = h.test ? 'test conversion ("test": true)' : 'dry run (dry_run in the configuration)';
      out.push(`* ${why}: this request was recorded and NOT sent to ${host}`);
      out.push(`> ${h.request.method} ${printable(target)} HTTP/1.1`, ...h.request.headers.map(([k, v]) => `> ${k}: ${printable(v)}`), '>');
      return;
    }
    const prev = hops[i - 1];
    if (prev?.response && REDIRECTS.has(prev.response.status) && !prev.error) {
      out.push(`* Issue another request to this URL: '${printable(h.request.url)}'`);
    }
    const ip = h.remote_address?.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const conn = h.connection != null ? ` (#${h.connection})` : '';
    if (h.reused) {
      out.push(`* Re-using existing connection${h.connection != null ? ` #${h.connection}` : ''} with host ${host}`);
    } else {
      out.push(`*   Trying ${ip ? `${h.remote_address}` : `${host}:${port}`}...`);
      if (h.remote_address && (h.connected || h.tls || h.response)) out.push(`* Connected to ${host} (${ip}) port ${port}${conn}`);
      if (h.tls) {
        out.push(`* SSL connection using ${h.tls.protocol ?? '?'} / ${h.tls.cipher}`);
        if (h.tls.subject !== undefined) {
          out.push('* Server certificate:', `*  subject: CN=${printable(h.tls.subject)}`, `*  expire date: ${h.tls.valid_to ?? '?'}`, `*  issuer: CN=${printable(h.tls.issuer ?? '')}`);
        }
      }
    }
    if (h.sent || h.response) {
      out.push(`> ${h.request.method} ${printable(target)} HTTP/1.1`);
      for (const [k, v] of h.request.headers) out.push(`> ${k}: ${printable(v)}`);
      out.push('>');
    }
    if (h.response) {
      const r = h.response;
      out.push(`< HTTP/${r.http_version} ${r.status}${r.status_text ? ' ' + printable(r.status_text) : ''}`);
      for (const [k, v] of r.headers) out.push(`< ${printable(k)}: ${printable(v)}`);
      out.push('<');
      if (r.body_excerpt) out.push(...printable(r.body_excerpt).replace(/\n$/, '').split('\n'));
      const total = h.body_bytes ?? Buffer.byteLength(r.body_excerpt);
      if (total > Buffer.byteLength(r.body_excerpt)) out.push(`* [body excerpt: first ${Buffer.byteLength(r.body_excerpt)} of ${total} bytes]`);
    }
    if (h.error) out.push(`* ${printable(h.error)}`);
    out.push(timingLine(h));
    if (h.response && !h.error) {
      const close = h.response.headers.some(([k, v]) => k.toLowerCase() === 'connection' && /close/i.test(v));
      out.push(close ? `* Closing connection${conn.replace(/[()]/g, '')}` : `* Connection${conn.replace(/[()]/g, '')} to host ${host} left intact`);
    }
  });
  return out.join('\n') + '\n';
}

/** An attempt's transcript; an attempt without hops (a lease that expired) says what is known. */
export function renderAttempt(a: Attempt): string {
  if (a.hops?.length) return renderTranscript(a.hops);
  if (a.outcome === 'lease_expired') {
    return `* lease expired: ${a.owner ?? 'a dispatcher'} held this fire until ${iso(a.started_at)} and never recorded the attempt ` +
      '(a crash or a stall); the request may or may not have reached the router, so the fire was queued again\n';
  }
  return `* no exchange recorded${a.error_class ? ` (${a.error_class})` : ''}\n`;
}

/** The whole fire as a text file for an investigation: what was fired, why, and every attempt verbatim. */
export function renderEvidence(fire: FireDetail, pixelName?: string, now: number = Date.now()): string {
  const line = (k: string, v: unknown) => `${(k + ':').padEnd(13)}${v == null || v === '' ? '-' : printable(String(v))}`;
  const out = [
    'sspx-relay fire evidence',
    line('generated', iso(now)),
    '',
    line('fire', fire.id),
    line('state', `${fire.state} after ${fire.attempt_count} attempt(s)${fire.fired_at ? `, fired at ${iso(fire.fired_at)}` : ''}`),
    line('pixel', pixelName ? `${fire.pixel_id} (${pixelName})` : fire.pixel_id),
    line('order_id', fire.order_id),
    line('value', fire.value),
    line('other', fire.other),
    line('token', fire.token),
    line('created', iso(fire.created_at)),
    line('last error', fire.last_error),
  ];
  const c = fire.conversion;
  if (c) {
    out.push('', line('conversion', c.id), line('source', c.source), line('outcome', c.outcome), line('occurred', iso(c.occurred_at)));
    if (c.cid) out.push(line('cid', c.cid));
    if (c.install_id) out.push(line('install', c.install_id));
  }
  const t = fire.touch;
  if (t) {
    out.push('', line('touch', t.id), line('kind', `${t.kind} via ${t.source}`), line('occurred', iso(t.occurred_at)), line('site', t.site), line('url', t.url));
  }
  for (const a of fire.attempts) {
    const facts = [
      iso(a.started_at),
      a.outcome,
      a.error_class,
      a.status != null && `HTTP ${a.status}`,
      a.duration_ms != null && `${a.duration_ms} ms`,
      a.owner && `by ${a.owner}`,
      a.next_attempt_at != null && a.outcome !== 'fired' && `next attempt ${iso(a.next_attempt_at)}`,
    ].filter(Boolean);
    out.push('', `== attempt ${a.n} · ${facts.join(' · ')} ==`);
    if (a.url) out.push(`$ curl --verbose -L '${printable(a.url)}'`);
    out.push(renderAttempt(a).replace(/\n$/, ''));
  }
  if (!fire.attempts.length) out.push('', '(no attempt yet)');
  return out.join('\n') + '\n';
}
