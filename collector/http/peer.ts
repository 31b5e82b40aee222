// Who sent a request, read from the socket and, behind `trust_proxy` hops, from X-Forwarded-For and
// X-Forwarded-Proto: the same walk Express does for req.ip and req.protocol with a hop count (proxy-addr), for the
// beacon routes, which run on node:http without Express (routes/public.ts, served by ./front.ts). A forged X-Forwarded-For cannot move the
// address past the configured hops.
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** the client's address: `hops` entries back from the socket along X-Forwarded-For (empty entries skipped) */
export function clientAddress(req: IncomingMessage, hops: number): string | undefined {
  const socket = req.socket.remoteAddress;
  if (hops <= 0) return socket;
  const header = req.headers['x-forwarded-for'];
  const forwarded = String(header ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
    .reverse();
  const chain = [socket, ...forwarded];
  return chain[Math.min(hops, chain.length - 1)];
}

/** true over TLS, or when a trusted proxy's X-Forwarded-Proto (its first value) says https */
export function isHttps(req: IncomingMessage, hops: number): boolean {
  const own = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (hops <= 0) return own === 'https';
  const header = req.headers['x-forwarded-proto'];
  const proto = (typeof header === 'string' && header) || own;
  return proto.split(',')[0].trim() === 'https';
}
