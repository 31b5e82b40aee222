// The baseline of the ingest rows: a bare node:http server that reads the same body, parses its JSON and answers a
// JSON object shaped and sized like the collector's (a click id for /t, a conversion's ids for /v1/conversions).
// No store, no validation: the ceiling Node allows on this machine.
// Run as a child process: `node dist/bench/raw-server.js` prints `listening on http://127.0.0.1:PORT`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const TOUCH_ANSWER = JSON.stringify({ cid: 'AAAAAAAAAAAAAAAAAAAAAA' });
const CONVERSION_ANSWER = JSON.stringify({ outcome: 'attributed', conversion_id: 'c_AAAAAAAAAAAAAAAAAAAAAA', fire_id: 'f_AAAAAAAAAAAAAAAAAAAAAA' });

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
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' }).end(req.url === '/t' ? TOUCH_ANSWER : CONVERSION_ANSWER);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
