// `npm run bench`: the performance budgets of issue 8, measured side by side in one run on this machine, printed as
// one table and saved to bench/results/latest.json (with the date, Node, CPU and load, so a regression shows as a
// diff). Self-contained: the load comes from autocannon (npm), the router is local, PostgreSQL is optional.
// Timings are reported, never asserted. SSPX_BENCH_ONLY=size,ingest,… runs some sections; SSPX_BENCH_QUICK=1
// shortens every run (for working on the bench itself; its numbers are not worth quoting).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../collector/paths.js';
import { loadAverage, machine, render, type Row, type Section } from './lib/report.js';
import { LOAD, QUICK } from './lib/setup.js';
import { conversionIngest } from './sections/conversions.js';
import { dispatch } from './sections/dispatch.js';
import { growth } from './sections/growth.js';
import { touchIngest } from './sections/ingest.js';
import { postgres } from './sections/postgres.js';
import { scriptSize } from './sections/size.js';

const only = process.env.SSPX_BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const wanted = (name: string) => !only || only.includes(name);

const started = performance.now();
const date = new Date().toISOString();
const loadBefore = loadAverage();
const sections: Section[] = [];
/** the machine's load average as each section started: other work on the machine skews what follows */
const sectionLoad: Record<string, number> = {};
const shared = { touches_per_s: NaN, fires_per_s: NaN };

/** runs one section; a failure becomes a FAILED row, and the run goes on */
async function section(name: string, run: () => Promise<Section | Section[]>): Promise<void> {
  if (!wanted(name)) return;
  const t0 = performance.now();
  sectionLoad[name] = loadAverage()[0];
  process.stdout.write(`bench: ${name} (load average ${sectionLoad[name]})…`);
  try {
    const out = await run();
    sections.push(...(Array.isArray(out) ? out : [out]));
  } catch (err) {
    const message = (err as Error).message.split('\n')[0];
    sections.push({ name, rows: [{ section: name, metric: 'run', value: '', goal: message, status: 'FAILED' }], data: { error: (err as Error).stack } });
  }
  process.stdout.write(` ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

await section('size', scriptSize);
await section('ingest', async () => {
  const r = await touchIngest();
  shared.touches_per_s = r.collector_rps;
  return [r.section, r.memory];
});
await section('conversions', conversionIngest);
await section('dispatch', async () => {
  const r = await dispatch();
  shared.fires_per_s = r.fires_per_s;
  return r.section;
});
await section('growth', growth);
await section('postgres', () => postgres(shared));

const seconds = Math.round((performance.now() - started) / 1000);
const loadAfter = loadAverage();
const rows: Row[] = sections.flatMap((s) => s.rows);
const m = machine();
console.log(
  `\nsspx-relay bench — ${date.slice(0, 16).replace('T', ' ')} UTC, Node ${m.node}, ${m.cpu} × ${m.cores} cores, ` +
    `load average ${loadBefore[0]} before / ${loadAfter[0]} after, ${seconds} s${QUICK ? ' (QUICK: not for quoting)' : ''}\n` +
    `load: autocannon in this process, ${LOAD.connections} connections, ${LOAD.seconds} s measured after ${LOAD.warmupSeconds} s warm-up\n`,
);
console.log(render(rows));

const result = {
  date,
  ...m,
  load_average: { before: loadBefore, after: loadAfter, at_section_start: sectionLoad },
  quick: QUICK,
  seconds,
  load_settings: LOAD,
  goals: rows.filter((r) => r.status).map((r) => ({ section: r.section, metric: r.metric, value: r.value, goal: r.goal, status: r.status, margin: r.margin })),
  sections: Object.fromEntries(sections.map((s) => [s.name, s.data])),
};
// a partial run is not the record: it goes to the temporary directory, latest.json stays the last full run
const dir = only ? tmpdir() : join(packageRoot, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const path = join(dir, only ? `sspx-bench-${only.join('-')}.json` : 'latest.json');
writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
console.log(`\nwritten: ${path}`);
process.exit(0);
