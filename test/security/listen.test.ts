// Guards the listening server against clients that hold connections: a client that sends half a request head and
// stalls, or a head and part of a body, is answered 408 and closed by the server (headersTimeout, requestTimeout),
// an idle keep-alive connection is closed (keepAliveTimeout), and /healthz answers all the while; past
// `max_connections` a new connection is closed at once and the ones open keep answering. The timeouts are injected
// short; the bounds below only catch a broken build (the close must happen, not happen fast). And the start-up line
// says the address the server really listens on: the built-in local setup listens on 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCollector, type TestCollector } from '../support/collector.js';
import { CLI_PATH, json, send, spawnCollector, tempDir, type CollectorProcess } from '../support/proc.js';

/** a generous bound for a close that the injected timeouts make due within a second: only a broken build reaches it */
const BROKEN_BUILD_MS = 20_000;

interface Raw {
  socket: net.Socket;
  /** everything the server sent */
  received(): string;
  /** resolves when the server has closed the connection */
  closed: Promise<void>;
}

async function connect(port: number, host = '127.0.0.1'): Promise<Raw> {
  const socket = net.connect(port, host);
  let data = '';
  socket.setEncoding('utf8').on('data', (d: string) => (data += d));
  socket.on('error', () => undefined); // a reset is a close too
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
  return { socket, received: () => data, closed };
}

const within = <T>(p: Promise<T>, what: string) =>
  Promise.race([p, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`${what}: not within ${BROKEN_BUILD_MS} ms`)), BROKEN_BUILD_MS))]);

const healthy = async (c: TestCollector) => {
  const res = await send(`${c.url}/healthz`);
  expect(res.status).toBe(200);
  expect(json(res)).toEqual({ status: 'ok' });
};

describe('slow clients are closed by the server', () => {
  let c: TestCollector;
  beforeAll(async () => {
    c = await startTestCollector({}, { timeouts: { headersMs: 300, requestMs: 1000, keepAliveMs: 300, checkEveryMs: 50 } });
  });
  afterAll(() => c.stop());

  const cases = [
    { name: 'half a request head, then nothing (slowloris)', send: 'POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: te' },
    { name: 'a head and part of the body, then nothing', send: 'POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{"t":"ams1' },
    { name: 'a head trickled a byte at a time', send: 'POST /t HTTP/1.1\r\nHost: 127.0.0.1\r\n', trickle: true },
  ];
  it.each(cases)('$name: closed, and /healthz answers meanwhile', async (k) => {
    const raw = await connect(c.port);
    raw.socket.write(k.send);
    const trickle = k.trickle ? setInterval(() => !raw.socket.destroyed && raw.socket.write('X'), 100) : undefined;
    try {
      await healthy(c);
      await within(raw.closed, 'the server closing the slow client');
    } finally {
      clearInterval(trickle);
    }
    // node answers what it knows before closing: the request took too long
    expect(raw.received()).toMatch(/^HTTP\/1\.1 408 /);
    await healthy(c);
  });

  it('an idle keep-alive connection is closed after its answer', async () => {
    const raw = await connect(c.port);
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(raw.closed, 'the server closing the idle connection');
    expect(raw.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw.received()).toContain('{"status":"ok"}');
  });
});

describe('the connection cap', () => {
  let c: TestCollector;
  const open: Raw[] = [];
  beforeAll(async () => {
    c = await startTestCollector({ max_connections: 3 });
  });
  afterAll(async () => {
    for (const r of open) r.socket.destroy();
    await c.stop();
  });

  const connections = () => new Promise<number>((resolve, reject) => c.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

  it('closes a connection past max_connections at once; the open ones still answer, and a freed place is taken again', async () => {
    for (let i = 0; i < 3; i++) open.push(await connect(c.port));
    // the server has taken all three (the client's connect can come before the server's accept)
    while ((await connections()) < 3) await new Promise((r) => setTimeout(r, 10));
    const extra = await connect(c.port);
    extra.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(extra.closed, 'the server closing the connection past the cap');
    expect(extra.received()).toBe('');
    // a connection inside the cap answers
    open[0].socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await within(new Promise<void>((resolve) => open[0].socket.once('data', () => resolve())), 'an answer inside the cap');
    expect(open[0].received()).toMatch(/^HTTP\/1\.1 200 /);
    // one goes: a new client gets its place
    open.pop()!.socket.destroy();
    while ((await connections()) > 2) await new Promise((r) => setTimeout(r, 10));
    await healthy(c);
  });
});

describe('the start-up line says where the server really listens', () => {
  const running: CollectorProcess[] = [];
  afterAll(async () => {
    for (const p of running) await p.stop();
  });
  const refused = (port: number, host: string) =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => (s.destroy(), resolve(false)));
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });

  it('the built-in local setup listens on 127.0.0.1 only, and says so', async () => {
    const p = await spawnCollector({ config: null, dir: tempDir('sspx-listen-'), env: { SSPX_PORT: '0' } });
    running.push(p);
    expect(p.stdout()).toMatch(new RegExp(`listening on http://127\\.0\\.0\\.1:${p.port}\\n`));
    expect(p.url).toBe(`http://127.0.0.1:${p.port}`);
    expect((await send(`${p.url}/healthz`)).status).toBe(200);
    // another loopback address of this machine: a wildcard listener would take it
    expect(await refused(p.port, '127.0.0.2')).toBe(true);
  });

  it('a first start on a port another program holds says so, exits 1 and keeps no unprinted keys', async () => {
    const other = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => other.once('listening', resolve));
    const { port } = other.address() as net.AddressInfo;
    const dir = tempDir('sspx-listen-');
    try {
      const child = spawn(process.execPath, [CLI_PATH, 'serve'], { cwd: dir, env: { PATH: process.env.PATH, SSPX_PORT: String(port) } });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr).toContain(`port ${port} on 127.0.0.1 is taken by another program`);
      // the keys minted on this start were never shown: the next start must mint and print its own
      expect(existsSync(join(dir, 'data', 'keys.json'))).toBe(false);
    } finally {
      other.close();
    }
  });

  it('a wildcard host is printed as it is, with the address this machine reaches it at', async () => {
    const dir = tempDir('sspx-listen-');
    const p = await spawnCollector({ config: null, dir, env: { SSPX_PORT: '0', SSPX_HOST: '0.0.0.0' } });
    running.push(p);
    expect(p.stdout()).toContain(`listening on http://0.0.0.0:${p.port} (every interface; from this machine http://127.0.0.1:${p.port})`);
    expect(p.stdout()).toContain(`dashboard:     http://127.0.0.1:${p.port}/admin`);
    expect(p.url).toBe(`http://127.0.0.1:${p.port}`);
    expect(await refused(p.port, '127.0.0.2')).toBe(false);
  });

  it('an IPv6 address is printed in brackets', async () => {
    const p = await spawnCollector({ config: null, dir: tempDir('sspx-listen-'), env: { SSPX_PORT: '0', SSPX_HOST: '::1' } });
    running.push(p);
    expect(p.stdout()).toMatch(new RegExp(`listening on http://\\[::1\\]:${p.port}\\n`));
    expect(p.url).toBe(`http://[::1]:${p.port}`);
    expect(await refused(p.port, '::1')).toBe(false);
    expect(await refused(p.port, '127.0.0.1')).toBe(true);
  });
});
