import { randomBytes } from 'node:crypto';

/** 128 random bits, base64url: click ids and visitor ids (unguessable, so they cannot be enumerated) */
export const randomId = (): string => randomBytes(16).toString('base64url');

/** opaque row ids with a readable prefix: t_ touch, c_ conversion, f_ fire, i_ install */
export const rowId = (prefix: 't' | 'c' | 'f'): string => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** what we accept as a cid or visitor id from outside: the shape we mint (forged ones simply match nothing) */
export const ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
