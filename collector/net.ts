// Where the collector may send a request: the SSRF rule shared by the configuration check (the router) and the
// dispatcher (every redirect it follows); and which Host names may be taken as the collector's own. A leaf module:
// it imports nothing of the collector.
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/** the IPv4 address an IPv6 one carries (IPv4-mapped, IPv4-compatible, NAT64 or 6to4), as URL normalises them */
function embeddedIpv4(host: string): string | undefined {
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4})(?::|$)/.exec(host);
  const m = sixToFour ?? /^(?:::ffff:|::|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!m) return /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(host)?.[1];
  const [hi, lo] = [parseInt(m[1], 16), parseInt(m[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

/** address ranges, as [address, prefix length] */
const blockList = (ranges: [string, number][]): BlockList => {
  const list = new BlockList();
  for (const [address, prefix] of ranges) list.addSubnet(address, prefix, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return list;
};

/** link-local and the cloud metadata services' addresses (Alibaba's 100.100.100.200, AWS's IPv6 one) */
const METADATA_RANGES = blockList([['169.254.0.0', 16], ['100.100.100.200', 32], ['fe80::', 10], ['fd00:ec2::254', 128]]);

/** what is not on the public Internet (RFC 6890's special-purpose registries): this host, loopback, private,
 * shared address space (carrier-grade NAT), IETF protocol assignments, benchmarking, multicast, reserved, broadcast;
 * IPv6 unspecified, loopback, unique-local and multicast */
const LOCAL_RANGES = blockList([
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ['::', 128], ['::1', 128], ['fc00::', 7], ['ff00::', 8],
]);

/**
 * What a URL's host is, for the places the collector fetches: `metadata` (link-local, cloud metadata services: never),
 * `local` (loopback, private, unspecified, multicast, reserved: only with allow_insecure_router) or `public`. Takes
 * `url.hostname`, which URL has already normalised (decimal and hex IPv4 spelled out, IPv6 compressed and
 * lower-cased); an IPv6 address carrying an IPv4 one is judged by the IPv4 one.
 */
export function hostClass(hostname: string): 'metadata' | 'local' | 'public' {
  let host = hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  host = embeddedIpv4(host) ?? host;
  const family = isIP(host);
  if (family === 0) {
    if (METADATA_NAMES.has(host)) return 'metadata';
    return host === 'localhost' || host.endsWith('.localhost') ? 'local' : 'public';
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (METADATA_RANGES.check(host, type)) return 'metadata';
  return LOCAL_RANGES.check(host, type) ? 'local' : 'public';
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
