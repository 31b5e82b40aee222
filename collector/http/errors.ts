// Every refusal is a 4xx with JSON {"error": "<code>", "message": "…"}; a store outage is a 503 with a reason.
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, Response } from 'express';
import { Refusal } from '../fields.js';
import { isStoreError } from '../store/guard.js';
import { sendJson } from './reply.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);

export function sendError(res: Response, err: HttpError): void {
  if (res.headersSent) return;
  res.locals.error = err.code;
  writeError(res, err);
}

/** the refusal's JSON {"error", "message"} with its own headers, on any response (Express's or node:http's) */
export function writeError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
  sendJson(res, err.status, { error: err.code, message: err.message });
}

/** body-parser and friends throw errors with a `type`; they become named refusals instead of 500s */
const PARSER_ERRORS: Record<string, [number, string]> = {
  'entity.too.large': [413, 'body_too_large'],
  'entity.parse.failed': [400, 'malformed_json'],
  'encoding.unsupported': [415, 'unsupported_encoding'],
  'charset.unsupported': [415, 'unsupported_charset'],
  'request.aborted': [400, 'request_aborted'],
  'entity.verify.failed': [400, 'malformed_body'],
  'parameters.too.many': [413, 'too_many_parameters'],
};

/** the refusals that are not a plain 400; every other reason is */
const REFUSAL_STATUS: Record<string, number> = {
  source_not_allowed: 403,
  fire_not_found: 404,
  cid_already_bound: 409,
  not_replayable: 409,
};

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof Refusal) return new HttpError(REFUSAL_STATUS[err.reason] ?? 400, err.reason, err.message);
  const e = err as { type?: string; status?: number; message?: string; code?: string };
  const known = e?.type ? PARSER_ERRORS[e.type] : undefined;
  if (known) return new HttpError(known[0], known[1], e.message ?? known[1]);
  if (e?.status && e.status >= 400 && e.status < 500) return new HttpError(e.status, 'bad_request', e.message ?? 'bad request');
  if (isStoreError(err)) return new HttpError(503, 'store_unavailable', 'the collector could not commit this request; nothing was stored, retry later');
  // a mistake of ours (a TypeError, say) is not an outage to retry later
  return new HttpError(500, 'internal_error', 'the collector failed on this request; nothing was stored');
}

export function errorHandler(onUnexpected: (err: unknown) => void): ErrorRequestHandler {
  return (err, _req, res, _next) => {
    const http = toHttpError(err);
    if (http.status >= 500) onUnexpected(err);
    sendError(res, http);
  };
}
