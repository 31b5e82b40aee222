import { randomFillSync } from 'node:crypto';

// Random bytes come from a pool refilled 4 KB at a time: a touch mints three ids and a request id, and a kernel
// call for each was a tenth of the ingest CPU (measured with --cpu-prof under autocannon).
const POOL = Buffer.alloc(4096);
let offset = POOL.length;

/** `n` cryptographically random bytes, copied out of the pool */
export function randomBytesPooled(n: number): Buffer {
  if (offset + n > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const out = Buffer.from(POOL.subarray(offset, offset + n));
  offset += n;
  return out;
}

/** 128 random bits, base64url: click ids and visitor ids (unguessable, so they cannot be enumerated) */
export const randomId = (): string => randomBytesPooled(16).toString('base64url');

/** opaque row ids with a readable prefix: c_ conversion, f_ fire (a touch's, t_, is its click id's: store/touch-hashes.ts) */
export const rowId = (prefix: 'c' | 'f'): string => `${prefix}_${randomBytesPooled(12).toString('base64url')}`;

