// The load process: `node dist/bench/load.js SPEC.json` runs autocannon (one thread) against one server with the
// spec's requests, each body made fresh (a new token or order id per request), and writes every answer's status
// and body to the spec's answers file, so the bench can check each acknowledged item by id afterwards. Started by
// lib/load.ts as a child on the outside world's core; wrk replaces it where installed.
import { writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { bodyMaker, type LoadSpec, type LoadOutcome } from './lib/load.js';

const spec = JSON.parse((await import('node:fs')).readFileSync(process.argv[2], 'utf8')) as LoadSpec;
const makeBody = bodyMaker(spec);
const answers: string[] = [];
let n = 0;

const run = (seconds: number) =>
  autocannon({
    url: spec.origin + spec.path,
    method: spec.method,
    headers: Object.fromEntries(spec.headers),
    connections: spec.connections,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        setupRequest: (req: autocannon.Request) => ({ ...req, body: makeBody(n++) }),
        onResponse: (status: number, body: string) => void answers.push(`${status}\t${body}`),
      },
    ],
  });

if (spec.warmupSeconds > 0) await run(spec.warmupSeconds);
const warmupAnswers = answers.length;
const result = await run(spec.seconds);
writeFileSync(spec.answersFile, answers.join('\n') + '\n');
const seconds = (result.finish.getTime() - result.start.getTime()) / 1000 || spec.seconds;
const outcome: LoadOutcome = {
  tool: `autocannon ${spec.connections} connections`,
  responses: answers.length - warmupAnswers,
  seconds,
  p50_ms: result.latency.p50,
  p99_ms: result.latency.p99,
  errors: result.errors,
  timeouts: result.timeouts,
};
process.stdout.write(JSON.stringify(outcome) + '\n');
