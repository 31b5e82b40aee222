// Where the collector may send a request: the SSRF rule shared by the configuration check (the router) and the
// dispatcher (every redirect it follows). A leaf module: it imports nothing of the collector.
import { isIP } from 'node:net';

/** the IPv4 address an IPv6 one carries (IPv4-mapped, IPv4-compatible or NAT64), as URL normalises them */
function embeddedIpv4(host: string): string | undefined {
  const m = /^(?:::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host) ?? undefined;
  if (!m) return /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  const [hi, lo] = [parseInt(m[1], 16), parseInt(m[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

/**
 * What a URL's host is, for the places the collector fetches: `metadata` (link-local, cloud metadata services: never),
 * `local` (loopback, private, unspecified: only with allow_insecure_router) or `public`. Takes `url.hostname`, which
 * URL has already normalised (decimal and hex IPv4 spelled out, IPv6 compressed and lower-cased).
 */
export function hostClass(hostname: string): 'metadata' | 'local' | 'public' {
  let host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  host = embeddedIpv4(host) ?? host;
  if (METADATA_NAMES.has(host) || /^169\.254\./.test(host) || host === '100.100.100.200') return 'metadata';
  if (/^fe[89ab][0-9a-f]:/.test(host) || host === 'fd00:ec2::254') return 'metadata';
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1' || host === '::') return 'local';
  if (isIP(host) === 4 && /^(127\.|10\.|192\.168\.|0\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host)) return 'local';
  if (isIP(host) === 6 && /^f[cd][0-9a-f]{2}:/.test(host)) return 'local';
  return 'public';
}
