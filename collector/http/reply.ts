// Answers written on node:http's response, as Express's res.json writes them: the beacon routes (routes/public.ts, served by ./front.ts) answer
// without Express, and refusals (./errors.ts) use the same writer on every route.
import type { ServerResponse } from 'node:http';

/** a JSON answer: status, `application/json; charset=utf-8`, its length */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  // as text, which node:http sends in one write with the head (a Buffer goes out beside it, a writev)
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
