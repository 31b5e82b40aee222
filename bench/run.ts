// `npm run bench`: the goals of issue 16, measured side by side in one run on this machine, printed as one table
// with the goal beside each row and saved to bench/results/latest.json (with the date, Node, CPU, the load
// average at each section's start, and the load tool, so a regression shows as a diff). Honest by construction:
// - the load comes from a separate process on a core of its own (wrk where installed, else autocannon in a child);
// - collectors run as operators run them (`sspx-relay serve --config`, sspx.config.example.json as shipped, with the
//   dispatcher firing at a stand-in router that redirects once, request logging on), the rate limit aside;
// - the touch is what a real Chromium sent (captured at start), each replayed request with a fresh token;
// - every acknowledged touch and conversion is looked up by id in the store afterwards, every fire by order id at the
//   router; one missing item, or one answer that is not an acceptance, fails its rows;
// - the raw node:http baseline parses the same body under the same load in the same run.
// Timings are reported, never asserted. SSPX_BENCH_ONLY=size,ingest,… runs some sections; SSPX_BENCH_QUICK=1
// shortens every run (for working on the bench itself; its numbers are not worth quoting).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../collector/paths.js';
import { captureTouch, chromiumPath, type CapturedTouch } from './lib/capture.js';
import { LOAD_TOOL } from './lib/load.js';
import { PINNING, pinBench } from './lib/proc.js';
import { loadAverage, machine, render, type Row, type Section } from './lib/report.js';
import { LOAD, QUICK, SHORT_LOAD } from './lib/setup.js';
import { conversionIngest } from './sections/conversions.js';
import { dispatch } from './sections/dispatch.js';
import { growth } from './sections/growth.js';
import { touchIngest } from './sections/ingest.js';
import { postgres } from './sections/postgres.js';
import { scriptSize } from './sections/size.js';

const only = process.env.SSPX_BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const wanted = (name: string) => !only || only.includes(name);

pinBench();
const started = performance.now();
const date = new Date().toISOString();
const loadBefore = loadAverage();
const sections: Section[] = [];
/** the machine's 1-minute load average as each section started: other work on the machine skews what follows */
const sectionLoad: Record<string, number> = {};
const shared = { touches_per_s: NaN, conversions_per_s: NaN };

/** runs one section; a failure becomes a FAILED row, and the run goes on */
async function section(name: string, run: () => Promise<Section | Section[]>): Promise<void> {
  if (!wanted(name)) return;
  const t0 = performance.now();
  sectionLoad[name] = loadAverage()[0];
  process.stdout.write(`bench: ${name} (load average ${sectionLoad[name]})…`);
  try {
    const out = await run();
    for (const s of Array.isArray(out) ? out : [out]) sections.push({ ...s, data: { ...s.data, load_average_at_start: sectionLoad[name] } });
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    sections.push({ name, rows: [{ section: name, metric: 'run', value: '', goal: message, status: 'FAILED' }], data: { error: (err as Error).stack } });
  }
  process.stdout.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

process.stdout.write(`bench: capturing a touch from Chromium at ${chromiumPath()}…`);
let capture: CapturedTouch | undefined;
let captureError = '';
try {
  capture = await captureTouch();
  process.stdout.write(` ${capture.browser_version}, ${capture.headers.length} headers, ${capture.body.length} B body\n`);
} catch (err) {
  captureError = (err as Error).message.split('\n')[0];
  process.stdout.write(` FAILED: ${captureError}\n`);
}
const needsCapture = <T>(run: (c: CapturedTouch) => Promise<T>) => () => (capture ? run(capture) : Promise.reject(new Error(`no captured touch: ${captureError}`)));

await section('size', scriptSize);
await section(
  'ingest',
  needsCapture(async (c) => {
    const r = await touchIngest(c);
    shared.touches_per_s = r.collector_rps;
    return r.sections;
  }),
);
await section('conversions', async () => {
  const r = await conversionIngest();
  shared.conversions_per_s = r.collector_rps;
  return r.section;
});
await section('dispatch', async () => (await dispatch()).section);
await section('postgres', needsCapture((c) => postgres(c, shared)));
await section('growth', needsCapture(growth));

const seconds = Math.round((performance.now() - started) / 1000);
const loadAfter = loadAverage();
const rows: Row[] = sections.flatMap((s) => s.rows.map((r) => ({ ...r, section: `${r.section} [load ${s.data.load_average_at_start}]` })));
const m = machine();
console.log(
  `\nsspx-relay bench — ${date.slice(0, 16).replace('T', ' ')} UTC, Node ${m.node}, ${m.cpu} × ${m.cores} cores, ` +
    `load average ${loadBefore.join(' ')} before / ${loadAfter.join(' ')} after, ${seconds} s${QUICK ? ' (QUICK: not for quoting)' : ''}\n` +
    `load: ${LOAD_TOOL}, ${LOAD.connections} connections, ${LOAD.seconds} s measured after ${LOAD.warmupSeconds} s warm-up (growth: ${SHORT_LOAD.seconds} s); ${PINNING.how}\n` +
    `touch: ${capture ? `Chromium ${capture.browser_version} over ${capture.scheme}, ${capture.headers.map(([k]) => k).join(', ')}; a fresh token and msclkid per request` : `not captured (${captureError})`}\n` +
    `[load N]: the machine's 1-minute load average as the section started (other work on the machine skews its numbers)\n`,
);
console.log(render(rows));

const result = {
  date,
  ...m,
  load_average: { before: loadBefore, after: loadAfter, at_section_start: sectionLoad },
  quick: QUICK,
  seconds,
  load_tool: LOAD_TOOL,
  pinning: PINNING.how,
  load_settings: LOAD,
  captured_touch: capture ?? { error: captureError },
  goals: sections.flatMap((s) => s.rows).filter((r) => r.status).map((r) => ({ section: r.section, metric: r.metric, value: r.value, goal: r.goal, status: r.status, margin: r.margin })),
  sections: Object.fromEntries(sections.map((s) => [s.name, s.data])),
};
// a partial run is not the record: it goes to the temporary directory, latest.json stays the last full run
const dir = only ? tmpdir() : join(packageRoot, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const path = join(dir, only ? `sspx-bench-${only.join('-')}.json` : 'latest.json');
writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
console.log(`\nwritten: ${path}`);
process.exit(0);
