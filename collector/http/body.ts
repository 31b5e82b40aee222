// Bodies of the public and server routes: a hard size cap, named content types, JSON parsed into an object
// and checked by a schema whose refusals name the field.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import type { z } from 'zod';
import { parseRequest } from '../fields.js';
import { HttpError, badRequest } from './errors.js';

/** text/plain (CORS-simple, what the script sends) or JSON, as a string: parsed by `jsonObject` */
export const rawBody = (limit: string | number) =>
  express.text({ type: ['text/plain', 'application/json', 'application/*+json'], limit, defaultCharset: 'utf-8' });

/** what rawBody takes and decodes as UTF-8 without help: the script's text/plain;charset=UTF-8, or JSON */
const PLAIN_TYPE = /^(?:text\/plain|application\/json)\s*(?:;\s*charset=(?:utf-8|"utf-8")\s*)?$/i;

/** a body readBody may read itself: known length within the cap, plain type, no content coding */
function plainBody(req: IncomingMessage, limit: number): boolean {
  const h = req.headers;
  if (h['content-encoding'] !== undefined || h['transfer-encoding'] !== undefined || h['content-length'] === undefined) return false;
  return Number(h['content-length']) <= limit && PLAIN_TYPE.test(h['content-type'] ?? '');
}

/**
 * A node:http request's body as rawBody gives it (the beacon routes run without Express): text, or undefined for a
 * type it does not take (jsonObject refuses that with 415). The plain case (what the script sends) is read here,
 * decoded as body-parser decodes UTF-8 (a leading byte-order mark dropped); anything else (another charset, a
 * content coding, chunked or over the cap) goes through rawBody itself, which refuses with its named reasons.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (!plainBody(req, limit)) {
      const holder = req as IncomingMessage & { body?: unknown };
      return void rawBody(limit)(holder as express.Request, {} as ServerResponse as express.Response, (err?: unknown) =>
        err ? reject(err) : resolve(typeof holder.body === 'string' ? holder.body : undefined),
      );
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => reject(new HttpError(400, 'request_aborted', 'request aborted')));
    req.on('end', () => {
      const text = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).toString('utf8');
      resolve(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    });
  });
}

export function jsonObject(text: unknown): Record<string, unknown> {
  if (typeof text !== 'string') {
    throw new HttpError(415, 'unsupported_content_type', 'send the body as application/json or text/plain');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('malformed_json', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('malformed_json', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/** schema-checks a parsed body (../fields.ts parseRequest): the first issue is a Refusal naming its field */
export const checked = <S extends z.ZodType>(schema: S, value: unknown): z.infer<S> => parseRequest(schema, value);
