// Requests no well-behaved client library would send: raw bytes over a socket, and the shapes of the hostile cases.
import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { send, type Sent } from '../support/proc.js';

/** writes `raw` to 127.0.0.1:port as is and answers the status of the first response (0 if the server hung up) */
export function rawRequest(port: number, raw: string | Buffer, timeoutMs = 5000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(String(raw).slice(0, 80))}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text });
    };
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      text += d;
      if (/\r\n\r\n/.test(text)) {
        sock.destroy();
        done();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', done);
    sock.write(raw);
  });
}

export interface HostileRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface HostileCase {
  name: string;
  req: HostileRequest;
  /** the status expected: an exact one, a list, or any 4xx; '<500' for anything but a server error */
  status: number | number[] | '4xx' | '<500';
  error?: string;
}

export const gzip = (s: string) => gzipSync(Buffer.from(s));

export async function sendCase(base: string, req: HostileRequest): Promise<Sent> {
  return send(base + req.path, { method: req.method ?? (req.body === undefined ? 'GET' : 'POST'), headers: req.headers, body: req.body });
}

export function statusMatches(expected: HostileCase['status'], status: number): boolean {
  if (expected === '4xx') return status >= 400 && status < 500;
  if (expected === '<500') return status > 0 && status < 500;
  return Array.isArray(expected) ? expected.includes(status) : expected === status;
}
