// The baseline of the touch-ingest row: a bare node:http server that reads the same body, parses its JSON and
// answers a JSON object of the collector's size. No store, no validation: the ceiling Node allows on this machine.
// Run as a child process: `node dist/bench/raw-server.js` prints `listening on http://127.0.0.1:PORT`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const ANSWER = JSON.stringify({ cid: 'AAAAAAAAAAAAAAAAAAAAAA' });

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' }).end(ANSWER);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
