// Bodies of the public and server routes: a hard size cap, named content types, JSON parsed into an object
// and checked by a schema whose refusals name the field.
import express from 'express';
import type { Request } from 'express';
import type { z } from 'zod';
import { parseRequest } from '../fields.js';
import { HttpError, badRequest } from './errors.js';

/** text/plain (CORS-simple, what the script sends) or JSON, as a string: parsed by `jsonObject` */
export const rawBody = (limit: string) =>
  express.text({ type: ['text/plain', 'application/json', 'application/*+json'], limit, defaultCharset: 'utf-8' });

export function jsonObject(req: Request, text: unknown = req.body): Record<string, unknown> {
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
