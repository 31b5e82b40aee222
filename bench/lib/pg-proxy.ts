// A TCP proxy between a collector and PostgreSQL that counts round trips: it reads the client's side of the
// protocol and counts each Sync (the end of an extended-protocol query: Parse/Bind/Execute…, then wait) and each
// simple Query — the points where the client stops and waits for the server. The server's side passes untouched.
import net from 'node:net';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export interface PgProxy {
  /** the PostgreSQL URL with the proxy's host and port in place of the server's */
  url: string;
  /** client messages counted since the start, by type letter */
  counts: Record<string, number>;
  /** Sync + Query so far */
  roundTrips(): number;
  close(): Promise<void>;
}

export async function startPgProxy(serverUrl: string): Promise<PgProxy> {
  const target = new URL(serverUrl);
  const counts: Record<string, number> = {};
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    let pending: Buffer = Buffer.alloc(0);
    let startup = true;
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      for (;;) {
        if (startup) {
          if (pending.length < 8) break;
          const len = pending.readInt32BE(0);
          if (pending.length < len) break;
          const code = pending.readInt32BE(4);
          pending = pending.subarray(len);
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) startup = false;
          continue;
        }
        if (pending.length < 5) break;
        const len = pending.readInt32BE(1) + 1;
        if (pending.length < len) break;
        const type = String.fromCharCode(pending[0]);
        counts[type] = (counts[type] ?? 0) + 1;
        pending = pending.subarray(len);
      }
    });
    const end = () => (client.destroy(), upstream.destroy(), sockets.delete(client), sockets.delete(upstream));
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(serverUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    counts,
    roundTrips: () => (counts.S ?? 0) + (counts.Q ?? 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
