// Where the collector may send a request: the SSRF rule shared by the configuration check (the router) and the
// dispatcher (every redirect it follows); and which Host names may be taken as the collector's own. A leaf module:
// it imports nothing of the collector.
import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';

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

/**
 * Whether a request's Host may be believed to name this collector when no public_url says its address: only an
 * address literal or localhost, which DNS cannot rebind. Any other name may be an attacker's that resolves to us
 * (DNS rebinding): its pages would send a matching Host and Origin and pass as our own.
 */
export function unrebindableHost(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  } catch {
    return false;
  }
  return isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost');
}

/** Why the collector will not send to this host or address, or undefined: metadata never, local only when allowed. */
export function addressRefusal(host: string, allowLocal: boolean): string | undefined {
  const kind = hostClass(host);
  if (kind === 'metadata') return `${host} is a link-local or metadata address`;
  if (kind === 'local' && !allowLocal) return `${host} is a loopback or private address (allow_insecure_router is off)`;
  return undefined;
}

/**
 * A `lookup` for sockets that checks what a name resolves to, not only its spelling (DNS rebinding, a public name
 * with a private address): refused addresses are dropped; none left is an error with the code ADDRESS_REFUSED.
 */
export function guardedLookup(allowLocal: boolean, resolve: LookupFunction = dns.lookup as LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, found) => {
      if (err) return callback(err, '');
      const all = Array.isArray(found) ? found : [{ address: found, family: isIP(found) }];
      const kept = all.filter((a) => !addressRefusal(a.address, allowLocal));
      if (!kept.length) {
        const why = all.map((a) => addressRefusal(a.address, allowLocal)).join('; ');
        return callback(Object.assign(new Error(`${hostname} resolves to refused addresses only: ${why}`), { code: ADDRESS_REFUSED }), '');
      }
      if (options.all) callback(null, kept);
      else callback(null, kept[0].address, kept[0].family);
    });
  };
}

export const ADDRESS_REFUSED = 'ADDRESS_REFUSED';
